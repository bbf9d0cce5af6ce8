import Endpoints
import Foundation

/// Where and how to reach the broker, parsed from an `amqp://` URL.
///
/// `amqp://user:password@host:port/vhost?heartbeat=10&connection_timeout=5&reply_timeout=30`
/// - A cluster's nodes are listed as libpq lists servers: `amqp://user:password@node1:5672,node2:5672,node3:5672/vhost`.
///   A connection tries them in turn from the one after the node it last lost (``endpoints``).
/// - The vhost is the percent-decoded path; an empty path means `/` (write `%2f` for `/` explicitly).
/// - Defaults: port 5672, user and password `guest`, heartbeat 10 s, connection timeout 5 s,
///   reply timeout 30 s.
public struct AMQPConfiguration: Sendable, Equatable, ServerList {
    /// The broker's nodes, in the order written; at least one.
    public var endpoints: [Endpoint]
    public var user: String
    public var password: String
    public var vhost: String
    /// Heartbeat interval in seconds; 0 disables heartbeats.
    public var heartbeatSeconds: Int
    /// How long one TCP connect and login may take, in seconds.
    public var connectionTimeoutSeconds: Int
    /// How long the broker may take to answer, in seconds: to confirm a publish, or to reply to a
    /// declare, consume or cancel. Past it the connection counts as lost: what was waiting fails
    /// as not confirmed, and a new connection is opened. A broker can stop answering one
    /// connection while its heartbeats go on (RabbitMQ 3.10 does when a quorum queue is deleted
    /// under a publishing channel), so heartbeats alone do not catch it.
    public var replyTimeoutSeconds: Int
    /// Shown in the management UI and logs.
    public var connectionName: String

    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        vhost: String = "/", heartbeatSeconds: Int = 10, connectionTimeoutSeconds: Int = 5,
        replyTimeoutSeconds: Int = 30, connectionName: String = "propdesk"
    ) {
        endpoints = [Endpoint(host: host, port: port)]
        self.user = user
        self.password = password
        self.vhost = vhost
        self.heartbeatSeconds = heartbeatSeconds
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.replyTimeoutSeconds = replyTimeoutSeconds
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
        let split: (url: String, endpoints: [Endpoint])
        do { split = try HostList.split(url, defaultPort: 5672) } catch {
            switch error {
            case .badPort(let port): throw .badPort(port)
            case .malformed(let why): throw .notAnAMQPURL(why)
            }
        }
        guard let parts = URLComponents(string: split.url) else { throw .notAnAMQPURL("not a valid URL") }
        endpoints = split.endpoints
        if let u = parts.user { user = u }
        if let p = parts.password { password = p }
        let path = parts.path
        if path.count > 1 { vhost = String(path.dropFirst()) }
        for item in parts.queryItems ?? [] {
            guard let value = item.value.flatMap(Int.init), value >= 0 else {
                throw .badQuery("\(item.name)=\(item.value ?? "") (expected name=non-negative integer)")
            }
            switch item.name {
            case "heartbeat": heartbeatSeconds = value
            case "connection_timeout": connectionTimeoutSeconds = max(1, value)
            case "reply_timeout": replyTimeoutSeconds = max(1, value)
            default: throw .badQuery("unknown parameter \(item.name); known: heartbeat, connection_timeout, reply_timeout")
            }
        }
    }

    /// The URL with the password replaced, for logs and error messages.
    public var redactedURL: String {
        "amqp://\(user):***@\(endpoints.map(\.description).joined(separator: ","))/\(vhost == "/" ? "%2f" : vhost)"
    }
}
