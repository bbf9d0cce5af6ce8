/// Where and how to reach the broker, parsed from an `amqp://` URL.
///
/// `amqp://user:password@host:port/vhost?heartbeat=10&connection_timeout=5`
/// - The vhost is the percent-decoded path; an empty path means `/` (write `%2f` for `/` explicitly).
/// - Defaults: port 5672, user and password `guest`, heartbeat 10 s, connection timeout 5 s.
public struct AMQPConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String
    /// Heartbeat interval in seconds; 0 disables heartbeats.
    public var heartbeatSeconds: Int
    /// How long one TCP connect and login may take, in seconds.
    public var connectionTimeoutSeconds: Int
    /// Shown in the management UI and logs.
    public var connectionName: String

    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        vhost: String = "/", heartbeatSeconds: Int = 10, connectionTimeoutSeconds: Int = 5,
        connectionName: String = "propdesk"
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.vhost = vhost
        self.heartbeatSeconds = heartbeatSeconds
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.connectionName = connectionName
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notAnAMQPURL(String)
        case badPort(String)
        case badQuery(String)

        public var description: String {
            switch self {
            case .notAnAMQPURL(let why): "expected amqp://user:password@host:port/vhost: \(why)"
            case .badPort(let port): "port must be 1–65535, got \"\(port)\""
            case .badQuery(let why): "bad query parameter: \(why)"
            }
        }
    }

    /// Parses an `amqp://` URL. Pure: no I/O, no DNS.
    public init(url: String, connectionName: String = "propdesk") throws(ParseError) {
        self.init(connectionName: connectionName)
        guard url.hasPrefix("amqp://") else { throw .notAnAMQPURL("scheme must be amqp://") }
        var rest = Substring(url.dropFirst("amqp://".count))
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
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
        var hostPart = rest
        if hostPart.hasPrefix("[") {  // IPv6 literal
            guard let close = hostPart.firstIndex(of: "]") else { throw .notAnAMQPURL("unclosed [ in host") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            hostPart = hostPart[hostPart.index(after: close)...]
            if hostPart.hasPrefix(":") { try parsePort(hostPart.dropFirst()) }
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = String(hostPart[..<colon])
            try parsePort(hostPart[hostPart.index(after: colon)...])
        } else {
            host = String(hostPart)
        }
        guard !host.isEmpty else { throw .notAnAMQPURL("missing host") }
        if let path, !path.isEmpty { vhost = try Self.decode(path) }
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let value = Int(kv[1]), value >= 0 else {
                throw .badQuery("\(pair) (expected name=non-negative integer)")
            }
            switch kv[0] {
            case "heartbeat": heartbeatSeconds = value
            case "connection_timeout": connectionTimeoutSeconds = max(1, value)
            default: throw .badQuery("unknown parameter \(kv[0]); known: heartbeat, connection_timeout")
            }
        }
    }

    private mutating func parsePort(_ text: Substring) throws(ParseError) {
        guard let p = Int(text), (1...65535).contains(p) else { throw .badPort(String(text)) }
        port = p
    }

    private static func decode(_ text: Substring) throws(ParseError) -> String {
        guard let s = String(text).removingPercentEncodingPortable() else {
            throw .notAnAMQPURL("bad percent-encoding in \"\(text)\"")
        }
        return s
    }

    /// The URL with the password replaced, for logs and error messages.
    public var redactedURL: String {
        "amqp://\(user):***@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(vhost == "/" ? "%2f" : vhost)"
    }
}

extension String {
    /// Percent-decoding without Foundation, so the pure layer stays dependency-free.
    func removingPercentEncodingPortable() -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var it = utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else { return nil }
                bytes.append(hv << 4 | lv)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}
