import AMQP
import Foundation
import Logging
import Messaging
import Postgres
import Schema
import Testing

/// Every test here runs against the real RabbitMQ and PostgreSQL that `deploy/local/test`
/// starts (it exports the variables below). They run one at a time: some restart the servers.
@Suite("Against real RabbitMQ and PostgreSQL", .serialized)
struct RealServers {}

enum Servers {
    static let environment = ProcessInfo.processInfo.environment

    static func amqpConfiguration(name: String = "integration-test") throws -> AMQPConfiguration {
        let url = try required("PROPDESK_AMQP_URL")
        var c = try AMQPConfiguration(url: url, connectionName: name)
        c.heartbeatSeconds = 5
        return c
    }

    static func postgresConfiguration() throws -> PostgresConfiguration {
        try PostgresConfiguration(url: try required("PROPDESK_DATABASE_URL"))
    }

    static func required(_ name: String) throws -> String {
        guard let value = environment[name], !value.isEmpty else {
            throw SetupError("\(name) is not set: run the integration tests with deploy/local/test, which starts the servers")
        }
        return value
    }

    static let logger: Logger = {
        var l = Logger(label: "integration-test")
        l.logLevel = .warning
        return l
    }()

    static func connect(name: String = "integration-test") async throws -> AMQPConnection {
        let c = AMQPConnection(configuration: try amqpConfiguration(name: name), logger: logger)
        try await c.connect()
        return c
    }

    /// A migrated database client.
    static func database(size: Int = 4) async throws -> PostgresClient {
        let client = PostgresClient(configuration: try postgresConfiguration(), size: size, logger: logger)
        try await Migrator.migrate(client, migrations: try Migration.bundled(), logger: logger)
        return client
    }

    /// Runs `deploy/local/stack <command>` for this test stack (restart-rabbitmq, …).
    /// Its output (stdout and stderr).
    @discardableResult
    static func stack(_ arguments: String...) async throws -> String {
        let script = repositoryRoot.appendingPathComponent("deploy/local/stack").path
        let result = try await Subprocess.run(script, arguments)
        guard result.status == 0 else {
            throw SetupError("deploy/local/stack \(arguments.joined(separator: " ")) exited \(result.status):\n\(result.output)")
        }
        return result.output
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A short unique suffix for queue names and routing-key segments ([a-z0-9]).
    static func unique() -> String { String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)) }

    /// A new property `<prefix>-<unique>` with a ticket prefix of its own (four letters from the
    /// number of properties so far); its code.
    static func newProperty(_ db: PostgresClient, prefix: String) async throws -> String {
        let tag = unique()
        let code = "\(prefix)-\(tag)"
        let count = try await db.query("SELECT count(*) FROM properties")[0].decode(0, as: Int.self)
        let letters = String((0..<4).map { i in Character(UnicodeScalar(UInt8(65 + (count / Int(pow(26.0, Double(i)))) % 26))) })
        try await db.execute("INSERT INTO properties (code, name, ticket_prefix) VALUES ($1, $2, $3)", [code, "Test \(tag)", letters])
        return code
    }

    /// A queue bound to `propdesk.events` (or another exchange) under a unique routing key.
    static func scratchQueue(_ amqp: AMQPConnection, exchange: String = PropDeskTopology.eventsExchange, routingKey: String,
                             deliveryLimit: Int? = nil) async throws -> String {
        let queue = "test.\(unique())"
        try await amqp.declare(PropDeskTopology.shared(.standard) + AMQPTopology(
            queues: [.init(name: queue, type: .quorum, deadLetterExchange: PropDeskTopology.deadLetterExchange, deliveryLimit: deliveryLimit)],
            bindings: [.init(queue: queue, exchange: exchange, routingKey: routingKey)]))
        return queue
    }

    /// Consumes and acks until `done` says so or nothing arrives for `idle`; returns what came.
    static func collect(_ amqp: AMQPConnection, queue: String, idle: Duration = .seconds(2), timeout: Duration = .seconds(60),
                        until done: @escaping @Sendable ([AMQPDelivery]) -> Bool = { _ in false }) async throws -> [AMQPDelivery] {
        let consumer = try await amqp.consume(queue: queue, prefetch: 500)
        let collected = Collected()
        let start = ContinuousClock.now
        let reader = Task {
            for await delivery in consumer {
                delivery.ack()
                collected.append(delivery)
                if done(collected.all) { break }
            }
        }
        var lastCount = -1
        var lastChange = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            try await Task.sleep(for: .milliseconds(50))
            let all = collected.all
            if done(all) { break }
            if all.count != lastCount {
                lastCount = all.count
                lastChange = .now
            } else if ContinuousClock.now - lastChange > idle {
                break
            }
        }
        await consumer.cancel()
        reader.cancel()
        _ = await reader.result
        return collected.all
    }
}

/// Polls `check` until it gives a value (a positive signal), or fails with what it waited for
/// when `timeout` passes: a wait that ends early on success and never passes by luck.
func eventually<T>(_ what: String, timeout: Duration = .seconds(20), poll: Duration = .milliseconds(50),
                   _ check: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await check() { return value }
        guard ContinuousClock.now < deadline else { throw WaitTimedOut("\(what): not seen within \(timeout)") }
        try await Task.sleep(for: poll)
    }
}

/// `eventually` for a condition.
func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    _ = try await eventually(what, timeout: timeout) { try await condition() ? true : nil }
}

/// Residents' quiet hours set around the moment a test runs, in the test properties' zone
/// (Shanghai): the time of day is data, so a check runs the same at any hour.
enum QuietWindow {
    /// `PROPDESK_QUIET_HOURS` from `from` to `to` seconds from now.
    static func around(from: TimeInterval, to: TimeInterval) -> String {
        var shanghai = Calendar(identifier: .gregorian)
        shanghai.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        func hhmm(_ offset: TimeInterval) -> String {
            let c = shanghai.dateComponents([.hour, .minute], from: Date().addingTimeInterval(offset))
            return String(format: "%02d:%02d", c.hour!, c.minute!)
        }
        return "\(hhmm(from))-\(hhmm(to))"
    }
}

struct WaitTimedOut: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [AMQPDelivery] = []
    func append(_ d: AMQPDelivery) { lock.withLock { items.append(d) } }
    var all: [AMQPDelivery] { lock.withLock { items } }
}

/// A thread-safe list for recording what handlers did.
final class Recorder<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ t: T) { lock.withLock { items.append(t) } }
    var all: [T] { lock.withLock { items } }
}
