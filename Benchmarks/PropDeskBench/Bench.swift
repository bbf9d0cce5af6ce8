import AMQP
import ArgumentParser
import Foundation
import Histogram
import Logging
import Messaging
import Postgres
import Schema

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propdesk-bench",
        abstract: "PropDesk benchmarks: each measures a PropDesk path against a baseline in the same run.",
        discussion: "Needs PROPDESK_AMQP_URL and PROPDESK_DATABASE_URL (eval \"$(deploy/local/stack env)\").",
        subcommands: [AMQPBench.self, OutboxBench.self, DeskBench.self, TimerBench.self, NotifyBench.self, AuthBench.self, ConsoleBench.self, BillingBench.self, ChannelBench.self, ReportBench.self])
}

/// A variable, or the contents of the file `NAME_FILE` names (as the services read secrets).
func environment(_ name: String) throws -> String {
    let env = ProcessInfo.processInfo.environment
    if let path = env[name + "_FILE"], let text = try? String(contentsOfFile: path, encoding: .utf8) {
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    guard let v = env[name], !v.isEmpty else {
        throw BenchError("\(name) is not set: eval \"$(deploy/local/stack env)\" first")
    }
    return v
}

func rate(_ count: Int, _ d: Duration) -> Double { Double(count) / inSeconds(d) }

func inSeconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// A benchmark's own queues vanish a minute after it stops using them, instead of piling up on
/// the stack.
let benchQueueExpiry: [String: AMQPFieldValue] = ["x-expires": .int(60_000)]

func quietLogger() -> Logger {
    var l = Logger(label: "bench")
    l.logLevel = .error
    return l
}

struct AMQPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp", abstract: "Publish with confirms and consume with acks: the library against a raw rabbitmq-c loop.")

    @Option(help: "Messages per measurement.") var messages = 100_000
    @Option(help: "Body size in bytes.") var size = 256
    @Option(help: "Confirm window / library batch size.") var batch = 500
    @Option(help: "Consumer prefetch.") var prefetch: UInt16 = 500
    @Option(help: "Rounds; the best of each is reported.") var rounds = 3

    func run() async throws {
        let config = try AMQPConfiguration(url: try environment("PROPDESK_AMQP_URL"), connectionName: "bench")
        let amqp = AMQPConnection(configuration: config, logger: quietLogger())
        try await amqp.connect()
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let exchange = "bench.\(suffix)"
        let rawQueue = "bench.raw.\(suffix)", libQueue = "bench.lib.\(suffix)"
        try await amqp.declare(AMQPTopology(
            exchanges: [.init(name: exchange, type: "topic")],
            queues: [.init(name: rawQueue, type: .quorum, extraArguments: benchQueueExpiry),
                     .init(name: libQueue, type: .quorum, extraArguments: benchQueueExpiry)],
            bindings: [.init(queue: rawQueue, exchange: exchange, routingKey: "raw"), .init(queue: libQueue, exchange: exchange, routingKey: "lib")]))
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let raw = try RawRabbit(host: config.host, port: config.port, user: config.user, password: config.password, vhost: config.vhost)
        let clock = ContinuousClock()
        var best = (rawPub: 0.0, libPub: 0.0, rawCon: 0.0, libCon: 0.0)
        for round in 1...rounds {
            let rawPub = rate(messages, try clock.measure {
                try raw.publish(count: messages, body: body, exchange: exchange, routingKey: "raw", window: batch)
            })
            let message = AMQPMessage(exchange: exchange, routingKey: "lib", body: Data(body), mandatory: false)
            let libPub = rate(messages, try await clock.measure {
                var sent = 0
                while sent < messages {
                    let n = min(batch, messages - sent)
                    for r in await amqp.publish(Array(repeating: message, count: n)) { try r.get() }
                    sent += n
                }
            })
            let rawCon = rate(messages, try clock.measure { try raw.consume(count: messages, queue: rawQueue, prefetch: prefetch) })
            let libCon = rate(messages, try await clock.measure {
                let consumer = try await amqp.consume(queue: libQueue, prefetch: prefetch)
                var received = 0
                for await delivery in consumer {
                    delivery.ack()
                    received += 1
                    if received == messages { break }
                }
                await consumer.cancel()
            })
            print(String(format: "round %d: publish+confirm raw %.0f/s library %.0f/s (%.0f%%) | consume+ack raw %.0f/s library %.0f/s (%.0f%%)",
                         round, rawPub, libPub, 100 * libPub / rawPub, rawCon, libCon, 100 * libCon / rawCon))
            best = (max(best.rawPub, rawPub), max(best.libPub, libPub), max(best.rawCon, rawCon), max(best.libCon, libCon))
        }
        print(String(format: "best: publish+confirm library/raw = %.2f (%.0f vs %.0f msg/s); consume+ack library/raw = %.2f (%.0f vs %.0f msg/s)",
                     best.libPub / best.rawPub, best.libPub, best.rawPub, best.libCon / best.rawCon, best.libCon, best.rawCon))
        raw.close()
        await amqp.close()
    }
}

struct OutboxBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Outbox throughput (events committed, then published with confirms) against pgbench insert-only with the same clients.")

    @Option(help: "Writer clients (and pgbench clients).") var clients = 4
    @Option(help: "Seconds each write phase runs.") var seconds = 10
    @Option(help: "Relay batch size.") var batch = 500
    @Option(help: "Path to pgbench (default: newest under /usr/lib/postgresql).") var pgbench: String?
    @Option(help: "pgbench transactions per client. (A count, not -T: pgbench ends -T on SIGALRM, which a child of a Swift thread inherits blocked.)")
    var pgbenchTransactions = 10_000

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let amqpConfig = try AMQPConfiguration(url: try environment("PROPDESK_AMQP_URL"), connectionName: "bench-outbox")
        let logger = quietLogger()
        let db = try await benchDatabase(pg, size: clients + 1, logger: logger)
        let amqp = AMQPConnection(configuration: amqpConfig, logger: logger)
        try await amqp.connect()
        let key = "bench.outbox.r\(UUID().uuidString.prefix(8).lowercased())"
        let queue = "bench.outbox.\(key.suffix(8))"
        try await amqp.declare(PropDeskTopology.shared(.standard) + AMQPTopology(
            queues: [.init(name: queue, type: .quorum, extraArguments: benchQueueExpiry)],
            bindings: [.init(queue: queue, exchange: PropDeskTopology.eventsExchange, routingKey: key + ".#")]))
        let relay = OutboxRelay(postgres: db, amqp: amqp, batchSize: batch, logger: logger)
        _ = await relay.drain()

        // 1. Baseline: pgbench, insert-only, one row per transaction, same client count.
        let pgbenchTPS = try await pgbenchInsertOnly(pg, on: db, clients: clients, transactions: pgbenchTransactions, path: pgbench)

        // 2. Outbox writers alone: each transaction writes one event, like a service's state change.
        let committed = Counter()
        let clock = ContinuousClock()
        let writeDuration = try await clock.measure {
            try await writeEvents(db, key: key, into: committed)
        }
        let commitRate = rate(committed.value, writeDuration)

        // 3. The relay draining that backlog with publisher confirms.
        var published = 0
        let relayDuration = try await clock.measure {
            while true {
                let r = try await relay.relayBatch()
                published += r.published
                if r.published == 0 && r.failed == 0 { break }
            }
        }
        let relayRate = rate(published, relayDuration)

        // 4. Both together: writers commit while the relay publishes (a service under load).
        let run = Task { try await relay.run() }
        // The events' routing key, as the outbox writes it: `<type>.<property>`.
        let routed = Outbox.routingKey(for: EventEnvelope(type: key, property: benchProperty, payload: .object([:])))
        let before = try await db.query("SELECT count(*) FROM outbox WHERE routing_key = $1 AND published_at IS NOT NULL", [routed])[0].decode(0, as: Int.self)
        let committed2 = Counter()
        let mixedDuration = try await clock.measure {
            try await writeEvents(db, key: key, into: committed2)
            while try await db.query("SELECT count(*) FROM outbox WHERE routing_key = $1 AND published_at IS NULL", [routed])[0].decode(0, as: Int.self) > 0 {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        run.cancel()
        let after = try await db.query("SELECT count(*) FROM outbox WHERE routing_key = $1 AND published_at IS NOT NULL", [routed])[0].decode(0, as: Int.self)
        let endToEnd = rate(after - before, mixedDuration)

        print(String(format: "pgbench insert-only, %d clients: %.0f tps", clients, pgbenchTPS))
        print(String(format: "outbox commits, %d clients: %.0f events/s (%.2f of pgbench)", clients, commitRate, commitRate / pgbenchTPS))
        print(String(format: "outbox relay draining %d events: %.0f events/s (%.2f of pgbench)", published, relayRate, relayRate / pgbenchTPS))
        print(String(format: "commit + publish together, %d clients: %.0f events/s committed and published (%.2f of pgbench)", clients, endToEnd, endToEnd / pgbenchTPS))
        await amqp.close()
        db.shutdown()
    }

    /// `clients` tasks, each committing one-event transactions for `seconds`.
    func writeEvents(_ db: PostgresClient, key: String, into counter: Counter) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let end = ContinuousClock.now + .seconds(seconds)
            for _ in 0..<clients {
                group.addTask {
                    while ContinuousClock.now < end {
                        let e = EventEnvelope(type: key, property: benchProperty, payload: .object(["n": .number(1)]))
                        try await db.withTransaction { try Outbox.enqueue(e, on: $0) }
                        counter.add(1)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// The baseline every bench measures in the same run: pgbench insert-only (one-row transactions
/// into `bench_insert`), `clients` clients, `transactions` each; returns its tps.
func pgbenchInsertOnly(_ pg: PostgresConfiguration, on db: PostgresClient, clients: Int, transactions: Int,
                       path: String? = nil) async throws -> Double {
    try await db.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, body jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())")
    let script = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-insert.sql")
    try #"INSERT INTO bench_insert (body) VALUES ('{"type":"bench.insert","payload":{}}');"#.write(to: script, atomically: true, encoding: .utf8)
    return try runPgbench(pg, clients: clients, transactions: transactions, script: script.path, path: path)
}

/// A migrated database client for a bench, and, with `property`, the bench's own property
/// (`bench`, prefix BN).
func benchDatabase(_ pg: PostgresConfiguration, size: Int, property: Bool = false, logger: Logger) async throws -> PostgresClient {
    let db = PostgresClient(configuration: pg, size: size, logger: logger)
    try await Migrator.migrate(db, migrations: try Migration.bundled(), logger: logger)
    if property {
        try await db.execute("INSERT INTO properties (code, name, ticket_prefix) VALUES ($1, 'Benchmark estate', 'BN') ON CONFLICT DO NOTHING",
                             [benchProperty])
    }
    return db
}

let benchProperty = "bench"

/// pgbench with `script`, `clients` clients and `transactions` each; returns its tps.
func runPgbench(_ pg: PostgresConfiguration, clients: Int, transactions: Int, script: String, path pgbench: String? = nil) throws -> Double {
    let versions = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
        .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
    let path = pgbench ?? versions.last.map { "/usr/lib/postgresql/\($0)/bin/pgbench" }
    guard let path, FileManager.default.isExecutableFile(atPath: path) else { throw BenchError("pgbench not found; pass --pgbench") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["-n", "-h", pg.host, "-p", "\(pg.port)", "-U", pg.user, "-c", "\(clients)", "-j", "\(min(clients, 2))",
                   "-t", "\(transactions)", "-f", script, pg.database]
    var env = ProcessInfo.processInfo.environment
    env["PGPASSWORD"] = pg.password
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
          let tps = Double(line.dropFirst(6).prefix { $0 != " " }) else { throw BenchError("could not read pgbench output:\n\(text)") }
    return tps
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) { lock.withLock { n += k } }
    var value: Int { lock.withLock { n } }
}

/// Prints p50, p99 and max of latencies in milliseconds.
func reportLatency(_ title: String, _ values: [Double]) {
    var h = Histogram<UInt64>(highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: .three)
    for v in values { h.record(UInt64(max(0, v).rounded())) }
    print(String(format: "  %@: p50 %d ms, p99 %d ms, max %d ms", title, h.valueAtPercentile(50), h.valueAtPercentile(99), h.max))
}
