import Endpoints
import Foundation

/// Where and how to reach PostgreSQL, from a `postgres://user:password@host:port/database` URL.
/// Defaults: port 5432, connect timeout 5 s.
///
/// A primary and its standbys are listed as libpq lists them,
/// `postgres://user:password@db1:5432,db2:5432/propdesk?target_session_attrs=read-write`: libpq
/// tries each in turn and keeps the first that accepts writes, so a promoted standby is found
/// by the next connection without reconfiguring anything.
public struct PostgresConfiguration: Sendable, Equatable, ServerList {
    /// The servers, in the order libpq tries them; at least one.
    public var endpoints: [Endpoint]
    /// libpq's `target_session_attrs`: which of the servers a session accepts (`read-write` for
    /// the primary, `any` by default). URL: `target_session_attrs=…`.
    public var targetSessionAttributes: String?
    /// libpq's `target_session_attrs` values (PostgreSQL 14 and later).
    public static let sessionAttributes = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"]
    public var user: String
    public var password: String?
    public var database: String
    public var connectTimeoutSeconds: Int
    public var applicationName: String
    /// Statements each session prepares and keeps (``PreparedStatements``); 0 runs every one
    /// unnamed, as a PgBouncer before 1.21 in transaction mode needs. URL: `statement_cache_size=N`.
    public var statementCacheSize: Int = PreparedStatements.defaultLimit
    /// Extra run-time parameters for every session, e.g. `propdesk.outbox_notify = off`.
    public var sessionSettings: [String: String] = [:]

    public init(host: String = "127.0.0.1", port: Int = 5432, user: String = "postgres", password: String? = nil,
                database: String = "postgres", connectTimeoutSeconds: Int = 5, applicationName: String = "propdesk") {
        endpoints = [Endpoint(host: host, port: port)]
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
    }

    /// The same database as reports read it: every transaction read-only, and no JIT. A report's
    /// statements are estimated far above `jit_above_cost` (a subquery per row of a property's
    /// quarter) and JIT compiling them cost about 300 ms of a 40 ms statement (BENCHMARKS,
    /// issue 17).
    public var forReports: PostgresConfiguration {
        var c = self
        c.applicationName += "-reports"
        c.sessionSettings["default_transaction_read_only"] = "on"
        c.sessionSettings["jit"] = "off"
        return c
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(url: String, applicationName: String = "propdesk") throws(ParseError) {
        self.init(applicationName: applicationName)
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw ParseError(description: "expected postgres://user:password@host:port/database")
        }
        let split: (url: String, endpoints: [Endpoint])
        do { split = try HostList.split(url, defaultPort: 5432) } catch { throw ParseError(description: error.description) }
        guard let parts = URLComponents(string: split.url) else { throw ParseError(description: "not a valid URL") }
        endpoints = split.endpoints
        if let u = parts.user { user = u }
        password = parts.password
        guard parts.path.count > 1 else {
            throw ParseError(description: "missing database name: postgres://user:password@host:port/database")
        }
        database = String(parts.path.dropFirst())
        for item in parts.queryItems ?? [] {
            let number = item.value.flatMap(Int.init)
            if item.name == "target_session_attrs" {
                guard let value = item.value, Self.sessionAttributes.contains(value) else {
                    throw ParseError(description: "target_session_attrs must be one of \(Self.sessionAttributes.joined(separator: ", "))")
                }
                targetSessionAttributes = value
                continue
            }
            switch (item.name, number) {
            case ("connect_timeout", let t?) where t > 0 && t <= 3_600:
                connectTimeoutSeconds = t
            case ("statement_cache_size", let n?) where n >= 0 && n <= 10_000:
                statementCacheSize = n
            default:
                throw ParseError(description: "unknown or bad query parameter \"\(item.name)\"; known: connect_timeout=1–3600 (seconds), statement_cache_size=0–10000, target_session_attrs")
            }
        }
    }

    /// libpq keyword/value pairs (values are passed as separate C strings: no quoting issues).
    var connectionParameters: [(String, String)] {
        var p = [("host", endpoints.map(\.host).joined(separator: ",")),
                 ("port", endpoints.map { String($0.port) }.joined(separator: ",")), ("user", user), ("dbname", database),
                 ("connect_timeout", String(connectTimeoutSeconds)), ("application_name", applicationName),
                 ("client_encoding", "UTF8"),
                 ("options", (["TimeZone=UTC", "DateStyle=ISO", "IntervalStyle=iso_8601"]
                              + sessionSettings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                    .map { "-c " + $0 }.joined(separator: " "))]
        if let password { p.append(("password", password)) }
        if let targetSessionAttributes { p.append(("target_session_attrs", targetSessionAttributes)) }
        return p
    }

    public var redactedURL: String {
        "postgres://\(user):***@\(endpoints.map(\.description).joined(separator: ","))/\(database)"
            + (targetSessionAttributes.map { "?target_session_attrs=\($0)" } ?? "")
    }
}
