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

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(url: String, applicationName: String = "propdesk") throws(ParseError) {
        self.init(applicationName: applicationName)
        let scheme: String
        if url.hasPrefix("postgres://") { scheme = "postgres://" }
        else if url.hasPrefix("postgresql://") { scheme = "postgresql://" }
        else { throw ParseError(description: "expected postgres://user:password@host:port/database") }
        var rest = Substring(url.dropFirst(scheme.count))
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, kv[0] == "connect_timeout", let t = Int(kv[1]), t > 0 else {
                    throw ParseError(description: "unknown or bad query parameter \"\(pair)\"; known: connect_timeout=seconds")
                }
                connectTimeoutSeconds = t
            }
            rest = rest[..<q]
        }
        guard let slash = rest.firstIndex(of: "/"), rest.index(after: slash) < rest.endIndex else {
            throw ParseError(description: "missing database name: postgres://user:password@host:port/database")
        }
        database = try Self.decode(rest[rest.index(after: slash)...])
        rest = rest[..<slash]
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = try Self.decode(credentials[..<colon])
                password = try Self.decode(credentials[credentials.index(after: colon)...])
            } else {
                user = try Self.decode(credentials)
            }
        }
        if let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw ParseError(description: "port must be 1–65535, got \"\(rest[rest.index(after: colon)...])\"")
            }
            port = p
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else { throw ParseError(description: "missing host") }
    }

    private static func decode(_ s: Substring) throws(ParseError) -> String {
        var bytes: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else {
                    throw ParseError(description: "bad percent-encoding in \"\(s)\"")
                }
                bytes.append(v)
            } else {
                bytes.append(b)
            }
        }
        guard let out = String(validating: bytes, as: UTF8.self) else { throw ParseError(description: "not UTF-8: \"\(s)\"") }
        return out
    }

    /// libpq keyword/value pairs (values are passed as separate C strings: no quoting issues).
    var connectionParameters: [(String, String)] {
        var p = [("host", host), ("port", String(port)), ("user", user), ("dbname", database),
                 ("connect_timeout", String(connectTimeoutSeconds)), ("application_name", applicationName),
                 ("client_encoding", "UTF8"), ("options", "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601")]
        if let password { p.append(("password", password)) }
        return p
    }

    public var redactedURL: String { "postgres://\(user):***@\(host):\(port)/\(database)" }
}
