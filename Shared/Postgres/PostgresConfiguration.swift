import Foundation

/// Where and how to reach PostgreSQL, from a `postgres://user:password@host:port/database` URL.
/// Defaults: port 5432, connect timeout 5 s.
public struct PostgresConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
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
        self.host = host
        self.port = port
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
        guard let parts = URLComponents(string: url) else { throw ParseError(description: "not a valid URL") }
        guard let host = parts.host, !host.isEmpty else { throw ParseError(description: "missing host") }
        self.host = host
        if let p = parts.port {
            guard (1...65535).contains(p) else { throw ParseError(description: "port must be 1–65535, got \"\(p)\"") }
            port = p
        }
        if let u = parts.user { user = u }
        password = parts.password
        guard parts.path.count > 1 else {
            throw ParseError(description: "missing database name: postgres://user:password@host:port/database")
        }
        database = String(parts.path.dropFirst())
        for item in parts.queryItems ?? [] {
            let number = item.value.flatMap(Int.init)
            switch (item.name, number) {
            case ("connect_timeout", let t?) where t > 0 && t <= 3_600:
                connectTimeoutSeconds = t
            case ("statement_cache_size", let n?) where n >= 0 && n <= 10_000:
                statementCacheSize = n
            default:
                throw ParseError(description: "unknown or bad query parameter \"\(item.name)\"; known: connect_timeout=1–3600 (seconds), statement_cache_size=0–10000")
            }
        }
    }

    /// libpq keyword/value pairs (values are passed as separate C strings: no quoting issues).
    var connectionParameters: [(String, String)] {
        var p = [("host", host), ("port", String(port)), ("user", user), ("dbname", database),
                 ("connect_timeout", String(connectTimeoutSeconds)), ("application_name", applicationName),
                 ("client_encoding", "UTF8"),
                 ("options", (["TimeZone=UTC", "DateStyle=ISO", "IntervalStyle=iso_8601"]
                              + sessionSettings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                    .map { "-c " + $0 }.joined(separator: " "))]
        if let password { p.append(("password", password)) }
        return p
    }

    public var redactedURL: String { "postgres://\(user):***@\(host):\(port)/\(database)" }
}
