import Foundation
import AMQP
import Logging
import Messaging
import Postgres

/// A service's configuration, read from `PROPDESK_*` environment variables. Pure: give it any
/// dictionary. Every problem is reported at once, each naming its variable.
public struct Settings: Sendable {
    public var amqp: AMQPConfiguration
    public var database: PostgresConfiguration
    public var httpHost: String
    public var httpPort: Int
    public var logLevel: Logger.Level
    public var databasePoolSize: Int
    public var prefetch: UInt16
    /// How queues are declared (`PROPDESK_QUEUE_TYPE`, `PROPDESK_DELIVERY_LIMIT`).
    public var queues: QueueArguments
    public var outboxBatchSize: Int
    public var migrateOnStart: Bool
    public var shutdownGraceSeconds: Int
    public var retentionDays: Int
    public var instance: String

    /// Every setting: name, default (nil = required), meaning. The README's table is checked
    /// against this list by a test.
    public static let reference: [(name: String, defaultValue: String?, meaning: String)] = [
        ("PROPDESK_AMQP_URL", nil, "RabbitMQ: amqp://user:password@host:port/vhost[?heartbeat=10&connection_timeout=5&reply_timeout=30]"),
        ("PROPDESK_DATABASE_URL", nil, "PostgreSQL: postgres://user:password@host:port/database[?connect_timeout=5]"),
        ("PROPDESK_HTTP_HOST", "127.0.0.1", "address the health/metrics (and API) server binds"),
        ("PROPDESK_HTTP_PORT", "per service: intake 8080, dispatch 8081, escalation 8082, notification 8083, billing 8084", "its port"),
        ("PROPDESK_LOG_LEVEL", "info", "trace, debug, info, notice, warning, error or critical"),
        ("PROPDESK_DB_POOL_SIZE", "4", "PostgreSQL connections (threads) per process, 1–64"),
        ("PROPDESK_AMQP_PREFETCH", "50", "unacknowledged deliveries a consumer may hold, 1–65535"),
        ("PROPDESK_QUEUE_TYPE", "quorum", "quorum or classic (delivery limits need quorum)"),
        ("PROPDESK_DELIVERY_LIMIT", "5", "deliveries before a failing message is dead-lettered, 1–1000"),
        ("PROPDESK_OUTBOX_BATCH", "500", "events the outbox relay publishes per confirm batch, 1–10000"),
        ("PROPDESK_MIGRATE_ON_START", "true", "apply pending migrations when the service starts (true/false)"),
        ("PROPDESK_SHUTDOWN_GRACE_SECONDS", "20", "how long a graceful shutdown may take before work is cancelled, 1–600"),
        ("PROPDESK_RETENTION_DAYS", "7", "published outbox rows and handled inbox rows are deleted after this many days, 1–3650"),
        ("PROPDESK_INSTANCE", "hostname-pid", "this replica's name in logs and broker connection names"),
    ]

    /// `needsBroker: false` is for commands that touch only the database (`migrate`, `ping`):
    /// `PROPDESK_AMQP_URL` is then optional, though still checked when set.
    public static func load(service: String, defaultHTTPPort: Int, environment: [String: String],
                            needsBroker: Bool = true) throws(ConfigurationError) -> Settings {
        var reader = Reader(environment: environment)
        let amqpURL = needsBroker ? reader.required("PROPDESK_AMQP_URL") : reader.optional("PROPDESK_AMQP_URL")
        let databaseURL = reader.required("PROPDESK_DATABASE_URL")
        let instance = environment["PROPDESK_INSTANCE"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultInstance()
        var amqp = AMQPConfiguration()
        if let amqpURL {
            do { amqp = try AMQPConfiguration(url: amqpURL, connectionName: "\(service)@\(instance)") }
            catch { reader.problem("PROPDESK_AMQP_URL", "\(error)") }
        }
        var database = PostgresConfiguration()
        if let databaseURL {
            do { database = try PostgresConfiguration(url: databaseURL, applicationName: "propdesk-\(service)") }
            catch { reader.problem("PROPDESK_DATABASE_URL", "\(error)") }
        }
        let settings = Settings(
            amqp: amqp, database: database,
            httpHost: reader.string("PROPDESK_HTTP_HOST", default: "127.0.0.1"),
            httpPort: reader.int("PROPDESK_HTTP_PORT", default: defaultHTTPPort, range: 1...65535),
            logLevel: reader.logLevel("PROPDESK_LOG_LEVEL", default: .info),
            databasePoolSize: reader.int("PROPDESK_DB_POOL_SIZE", default: 4, range: 1...64),
            prefetch: UInt16(reader.int("PROPDESK_AMQP_PREFETCH", default: 50, range: 1...65535)),
            queues: reader.queueArguments(),
            outboxBatchSize: reader.int("PROPDESK_OUTBOX_BATCH", default: 500, range: 1...10_000),
            migrateOnStart: reader.bool("PROPDESK_MIGRATE_ON_START", default: true),
            shutdownGraceSeconds: reader.int("PROPDESK_SHUTDOWN_GRACE_SECONDS", default: 20, range: 1...600),
            retentionDays: reader.int("PROPDESK_RETENTION_DAYS", default: 7, range: 1...3650),
            instance: instance)
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return settings
    }

    /// The queue arguments alone, for programs that declare queues but are not services (the
    /// worker command): the same variables, read the same way.
    public static func queueArguments(environment: [String: String]) throws(ConfigurationError) -> QueueArguments {
        var reader = Reader(environment: environment)
        let arguments = reader.queueArguments()
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return arguments
    }

    static func defaultInstance() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String {
        "configuration is not valid:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
            + "\n(see the Configuration section of README.md)"
    }
}

/// Reads settings from the environment, collecting every problem so a bad configuration is
/// reported whole, not one variable at a time. Services with settings of their own use it too.
public struct Reader {
    let environment: [String: String]
    public private(set) var problems: [String] = []

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public mutating func problem(_ name: String, _ message: String) { problems.append("\(name): \(message)") }

    public mutating func required(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else {
            problem(name, "is required and not set")
            return nil
        }
        return value
    }

    public func optional(_ name: String) -> String? {
        environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    public func string(_ name: String, default value: String) -> String {
        environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? value
    }

    public mutating func int(_ name: String, default value: Int, range: ClosedRange<Int>) -> Int {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let v = Int(text), range.contains(v) else {
            problem(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
            return value
        }
        return v
    }

    public mutating func bool(_ name: String, default value: Bool) -> Bool {
        guard let text = environment[name], !text.isEmpty else { return value }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default:
            problem(name, "must be true or false, got \"\(text)\"")
            return value
        }
    }

    public mutating func logLevel(_ name: String, default value: Logger.Level) -> Logger.Level {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            problem(name, "must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            return value
        }
        return level
    }

    public mutating func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) -> T where T.RawValue == String {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let v = T(rawValue: text.lowercased()) else {
            problem(name, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            return value
        }
        return v
    }
}

extension AMQPTopology.QueueType: CaseIterable {
    public static let allCases: [AMQPTopology.QueueType] = [.quorum, .classic]
}

extension Reader {
    mutating func queueArguments() -> QueueArguments {
        QueueArguments(type: choice("PROPDESK_QUEUE_TYPE", default: QueueArguments.standard.type),
                       deliveryLimit: int("PROPDESK_DELIVERY_LIMIT", default: QueueArguments.standard.deliveryLimit, range: 1...1000))
    }
}
