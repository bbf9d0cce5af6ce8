import Foundation
import AMQP
import Domain
import Identity
import Logging
import Messaging
import Postgres

/// A service's configuration, read from `PROPDESK_*` environment variables. Pure: give it any
/// dictionary. Every problem is reported at once, each naming its variable.
public struct Settings: Sendable {
    public var amqp: AMQPConfiguration
    public var database: PostgresConfiguration
    /// Where reports read (`PROPDESK_REPORTS_DATABASE_URL`, a standby's say; default the
    /// database itself), always read-only.
    public var reportsDatabase: PostgresConfiguration
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
    public var auth: AuthSettings
    /// Residents' quiet hours in each property's zone: notification holds non-urgent messages
    /// until they end, and the desk's survey calls wait for them (F5).
    public var quietHours: QuietHours

    /// `needsBroker: false` is for commands that touch only the database (`migrate`, `ping`):
    /// `PROPDESK_AMQP_URL` is then optional, though still checked when set.
    public static func load(service: String, defaultHTTPPort: Int, environment: [String: String],
                            needsBroker: Bool = true) throws(ConfigurationError) -> Settings {
        var reader = Reader(environment: environment)
        let settings = read(&reader, service: service, defaultHTTPPort: defaultHTTPPort, needsBroker: needsBroker)
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return settings
    }

    /// Every variable the services read, with its default: what the README's table must show.
    /// The reading code is the one declaration; nothing keeps a second list.
    public static var variables: [Reader.Variable] {
        var reader = Reader(environment: [:])
        _ = read(&reader, service: "any", defaultHTTPPort: 8080, needsBroker: true)
        return reader.variables
    }

    private static func read(_ reader: inout Reader, service: String, defaultHTTPPort: Int, needsBroker: Bool) -> Settings {
        let amqpURL = reader.secret("PROPDESK_AMQP_URL", required: needsBroker)
        let databaseURL = reader.secret("PROPDESK_DATABASE_URL", required: true)
        let instance = reader.optional("PROPDESK_INSTANCE") ?? Self.defaultInstance()
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
        var reportsDatabase = database
        if let reportsURL = reader.secret("PROPDESK_REPORTS_DATABASE_URL", required: false) {
            do { reportsDatabase = try PostgresConfiguration(url: reportsURL, applicationName: "propdesk-\(service)") }
            catch { reader.problem("PROPDESK_REPORTS_DATABASE_URL", "\(error)") }
        }
        let settings = Settings(
            amqp: amqp, database: database, reportsDatabase: reportsDatabase.forReports,
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
            instance: instance,
            auth: AuthSettings(
                sessionLifetime: .seconds(reader.int("PROPDESK_SESSION_SECONDS", default: 12 * 3600, range: 5...7 * 86400)),
                tokenLifetime: .seconds(reader.int("PROPDESK_TOKEN_SECONDS", default: 86400, range: 5...30 * 86400)),
                bcryptCost: reader.int("PROPDESK_BCRYPT_COST", default: 12, range: 4...16),
                loginLimits: LoginThrottle.Limits(
                    failures: reader.int("PROPDESK_LOGIN_MAX_FAILURES", default: 5, range: 1...100),
                    lockout: .seconds(reader.int("PROPDESK_LOGIN_LOCKOUT_SECONDS", default: 900, range: 1...86400))),
                secureCookie: reader.bool("PROPDESK_COOKIE_SECURE", default: true)),
            quietHours: reader.quietHours())
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

/// How staff sign in: how long a browser session and a program's token last, the bcrypt cost of
/// new passwords, and when failed sign-ins lock an account or address out.
public struct AuthSettings: Sendable {
    public var sessionLifetime: Duration
    public var tokenLifetime: Duration
    public var bcryptCost: Int
    public var loginLimits: LoginThrottle.Limits
    /// The session cookie's `Secure` flag: off only for plain-HTTP development on loopback.
    public var secureCookie: Bool
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

    /// A variable as it was read: its name and the default it falls back to (`required` for one
    /// that has none and must be set, nil for one that may be left unset).
    public struct Variable: Sendable, Equatable {
        public var name: String
        public var defaultValue: String?
    }

    /// Every variable read so far, in order: the declaration the README's table is checked against.
    public private(set) var variables: [Variable] = []

    public init(environment: [String: String]) {
        self.environment = environment
    }

    private mutating func declare(_ name: String, _ defaultValue: String?) {
        if !variables.contains(where: { $0.name == name }) { variables.append(Variable(name: name, defaultValue: defaultValue)) }
    }

    public mutating func problem(_ name: String, _ message: String) { problems.append("\(name): \(message)") }

    public mutating func required(_ name: String) -> String? {
        declare(name, "required")
        guard let value = environment[name], !value.isEmpty else {
            problem(name, "is required and not set")
            return nil
        }
        return value
    }

    public mutating func optional(_ name: String) -> String? {
        declare(name, nil)
        return environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A secret: the variable itself, or the contents of the file `NAME_FILE` names (container
    /// secrets), trailing newline dropped. Never logged or printed.
    public mutating func secret(_ name: String, required: Bool) -> String? {
        declare(name, required ? "required" : nil)
        if let path = environment[name + "_FILE"], !path.isEmpty {
            if let direct = environment[name], !direct.isEmpty {
                problem(name, "set \(name) or \(name)_FILE, not both")
                return nil
            }
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                problem(name + "_FILE", "cannot read \(path)")
                return nil
            }
            let value = text.trimmingCharacters(in: .newlines)
            if value.isEmpty { problem(name + "_FILE", "\(path) is empty") }
            return value.isEmpty ? nil : value
        }
        guard let value = environment[name], !value.isEmpty else {
            if required { problem(name, "is required and not set (or set \(name)_FILE to a file holding it)") }
            return nil
        }
        return value
    }

    public mutating func string(_ name: String, default value: String) -> String {
        declare(name, value)
        return environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? value
    }

    public mutating func int(_ name: String, default value: Int, range: ClosedRange<Int>) -> Int {
        declare(name, "\(value)")
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let v = Int(text), range.contains(v) else {
            problem(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
            return value
        }
        return v
    }

    public mutating func bool(_ name: String, default value: Bool) -> Bool {
        declare(name, "\(value)")
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
        declare(name, value.rawValue)
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            problem(name, "must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            return value
        }
        return level
    }

    public mutating func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) -> T where T.RawValue == String {
        declare(name, value.rawValue)
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
    /// `PROPDESK_QUIET_HOURS`: `HH:MM-HH:MM` in each property's zone; `00:00-00:00` turns them off.
    mutating func quietHours() -> QuietHours {
        let text = string("PROPDESK_QUIET_HOURS", default: "21:00-08:00")
        guard let quiet = QuietHours(text) else {
            problem("PROPDESK_QUIET_HOURS", "must be HH:MM-HH:MM, got \"\(text)\"")
            return .standard
        }
        return quiet
    }

    mutating func queueArguments() -> QueueArguments {
        QueueArguments(type: choice("PROPDESK_QUEUE_TYPE", default: QueueArguments.standard.type),
                       deliveryLimit: int("PROPDESK_DELIVERY_LIMIT", default: QueueArguments.standard.deliveryLimit, range: 1...1000))
    }
}
