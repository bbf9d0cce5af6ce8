import AMQP
import ArgumentParser
import Domain
import Foundation
import Histogram
import LocalReceivers
import Messaging
import Postgres
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The notification service end to end: escalation events published to the exchange, delivered
/// by the service to a real webhook receiver on loopback. Event-to-delivery latency at a steady
/// rate; deliveries per second from a burst; and a kill -9 of the service mid-run, counting
/// duplicates at the receiver. The bench runs its own notification process (release build, next
/// to this executable), so the suite's own notification service must be stopped.
struct NotifyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Notification deliveries to a local webhook: latency at a rate, throughput, duplicates across a kill -9.",
        discussion: "Needs PROPDESK_AMQP_URL / PROPDESK_DATABASE_URL, and no other notification service running (it starts its own).")

    @Option(help: "Events per second for the latency run.") var rate = 100
    @Option(help: "Seconds of the latency run.") var seconds = 20
    @Option(help: "Events published at once for the throughput run.") var burst = 20_000
    @Option(help: "Events in the kill -9 run.") var killEvents = 6_000
    @Option(help: "Events per second in the kill -9 run.") var killRate = 500
    @Option(help: "pgbench transactions per client, for the baseline.") var pgbenchTransactions = 5_000

    static let receiverPort = 28_295
    static let servicePort = 28_296

    final class SentTimes: Sendable {
        let times = Mutex<[String: Date]>([:])
        func record(_ id: String, _ at: Date) { times.withLock { $0[id] = at } }
        var snapshot: [String: Date] { times.withLock { $0 } }
    }

    final class Arrivals: Sendable {
        let times = Mutex<[String: [Date]]>([:])
        func record(_ r: WebhookReceiver.Received) {
            let key = r.headers["idempotency-key"] ?? ""
            times.withLock { $0[key, default: []].append(r.at) }
        }
        var snapshot: [String: [Date]] { times.withLock { $0 } }
    }

    func run() async throws {
        if (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:8083/health/live")!)) != nil {
            throw ValidationError("a notification service answers on 8083: stop it first (this bench runs its own, pointed at its receiver)")
        }
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let logger = quietLogger()
        let db = try await benchDatabase(pg, size: 2, property: true, logger: logger)
        try await db.execute("DELETE FROM duty_roster WHERE property = $1", [benchProperty])
        try await db.execute("DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE property = $1)", [benchProperty])
        try await db.execute("DELETE FROM deliveries WHERE property = $1", [benchProperty])
        try await db.execute("""
            INSERT INTO duty_roster (property, role, person, contacts) VALUES ($1, 'supervisor', 'Bench', '[{"channel":"webhook","address":"bench"}]')
            """, [benchProperty])
        let amqp = AMQPConnection(configuration: try AMQPConfiguration(url: try environment("PROPDESK_AMQP_URL"), connectionName: "bench-notify"),
                                  logger: logger)
        try await amqp.connect()
        let arrivals = Arrivals()
        let receiver = WebhookReceiver(port: Self.receiverPort) { if $0.path == "/bench" { arrivals.record($0) } }
        try await receiver.start()

        let pgbench = try await pgbenchInsertOnly(pg, on: db, clients: 4, transactions: pgbenchTransactions)
        print(String(format: "pgbench insert-only, 4 clients: %.0f tps (the machine's speed this run)", pgbench))
        let raw = try await rawPosts(seconds: 5, concurrency: 32)
        print(String(format: "raw HTTP POSTs to the receiver, 32 at once: %.0f/s (the receiver's ceiling here)", raw))

        var service = try startService()
        defer { service.terminate() }
        try await waitReady()

        // 1. Latency at a steady rate.
        let sentAt = SentTimes()
        let steady = rate * seconds
        try await Self.publish(count: steady, perSecond: rate, amqp: amqp, sentAt: sentAt)
        _ = try await waitFor(steady, arrivals: arrivals, timeout: .seconds(seconds + 60))
        let latencies = latency(arrivals.snapshot, sentAt.snapshot)
        print(String(format: "steady %d/s for %d s: %d of %d delivered", rate, seconds, latencies.count, steady))
        reportLatency("event published → webhook received", latencies)

        // 2. Throughput: a burst, first publish to last delivery.
        let before = arrivals.snapshot.count
        let started = Date()
        try await Self.publish(count: burst, perSecond: nil, amqp: amqp, sentAt: sentAt)
        let last = try await waitFor(before + burst, arrivals: arrivals, timeout: .seconds(600))
        let elapsed = last.timeIntervalSince(started)
        print(String(format: "burst of %d: delivered in %.1f s: %.0f deliveries/s (%.2f of the raw POST loop, %.2f of pgbench)",
                     burst, elapsed, Double(burst) / elapsed, Double(burst) / elapsed / raw, Double(burst) / elapsed / pgbench))

        // 3. kill -9 mid-run, restart, count what arrived twice.
        let base = arrivals.snapshot.count
        let first = killEvents * 4 / 10
        try await Self.publish(count: first, perSecond: killRate, amqp: amqp, sentAt: sentAt)
        kill(service.processIdentifier, SIGKILL)
        service.waitUntilExit()
        print("killed the notification service (kill -9) after \(first) of \(killEvents) events; restarting it while publishing goes on")
        let (rest, perSecond) = (killEvents - first, killRate)
        let publishing = Task { try await Self.publish(count: rest, perSecond: perSecond, amqp: amqp, sentAt: sentAt) }
        service = try startService()
        try await waitReady()
        try await publishing.value
        // In-doubt rows are settled once their lease (2 × HTTP timeout + 5 s) runs out.
        let settleBy = ContinuousClock.now + .seconds(60)
        var states: [String: Int] = [:]
        while ContinuousClock.now < settleBy {
            states = Dictionary(uniqueKeysWithValues: try await db.query(
                "SELECT state, count(*)::int FROM deliveries WHERE property = $1 GROUP BY state", [benchProperty]
            ).map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) })
            if states["pending", default: 0] + states["sending", default: 0] == 0,
               states.values.reduce(0, +) >= base + killEvents { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let all = arrivals.snapshot
        let duplicates = all.values.filter { $0.count > 1 }.count
        print(String(format: "kill -9 run: %d events; received %d distinct of %d, duplicates at the receiver: %d; deliveries: %@",
                     killEvents, all.count - base, killEvents, duplicates,
                     states.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        for (key, times) in all where times.count > 1 {
            print("  received \(times.count)×: \(key) at \(times.map { $0.formatted(.iso8601.time(includingFractionalSeconds: true)) })")
        }
        let missing = Set(sentAt.snapshot.keys).subtracting(all.keys.compactMap { $0.split(separator: "/").first.map(String.init) })
        if !missing.isEmpty { print("  never received: \(missing.count) events, e.g. \(missing.prefix(3).sorted())") }
        service.terminate()
        service.waitUntilExit()
        receiver.stop()
        // The bench's supervisor would otherwise be told of every later bench event (the timer bench's too).
        try await db.execute("DELETE FROM duty_roster WHERE property = $1", [benchProperty])
        await amqp.close()
        db.shutdown()
    }

    func startService() throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("notification")
        process.arguments = ["serve"]
        var env = ProcessInfo.processInfo.environment
        env["PROPDESK_HTTP_PORT"] = "\(Self.servicePort)"
        env["PROPDESK_LOG_LEVEL"] = "warning"
        env["PROPDESK_WEBHOOKS"] = "bench=http://127.0.0.1:\(Self.receiverPort)/bench"
        env["PROPDESK_NOTIFY_HTTP_TIMEOUT_SECONDS"] = "2"
        env["PROPDESK_NOTIFY_CONCURRENCY"] = "64"
        env["PROPDESK_DB_POOL_SIZE"] = "12"   // four consumer transactions, four sender lanes, the relay
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    func waitReady() async throws {
        for _ in 0..<200 {
            if let (_, r) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(Self.servicePort)/health/ready")!),
               (r as? HTTPURLResponse)?.statusCode == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("the bench's notification service did not become ready")
    }

    /// Escalation breaches naming the supervisor, as the timer engine publishes them; `perSecond`
    /// nil: as fast as confirms allow.
    static func publish(count: Int, perSecond: Int?, amqp: AMQPConnection, sentAt: SentTimes) async throws {
        let tick = 10   // ms
        let perTick = perSecond.map { max(1, $0 * tick / 1000) } ?? 500
        let start = ContinuousClock.now
        var sent = 0
        var pending: [PublishConfirms] = []
        // A breach as the timer engine publishes it (the contract's payload), naming the supervisor.
        let due = Date(timeIntervalSince1970: 1_795_392_000)
        let breach = try JSONValue(encoding: DeadlineEventPayload(
            ticketID: UUID(uuidString: "be4c0000-0000-4000-8000-000000000001")!, ticketNumber: "BN-BENCH", kind: .complaint, round: 1,
            ruleID: "BENCH", standard: "BENCH", title: "bench", step: 1, steps: 1, startedAt: due, dueAt: due, firedAt: due,
            tell: [Recipient(.supervisor)]))
        while sent < count {
            let n = min(perTick, count - sent)
            var messages: [AMQPMessage] = []
            let now = Date()
            for _ in 0..<n {
                let envelope = EventEnvelope(type: "escalation.bench.breached", property: benchProperty, payload: breach)
                sentAt.record(envelope.id.uuidString.lowercased(), now)
                messages.append(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: "\(envelope.type).\(benchProperty)",
                                            body: envelope.encoded(), messageID: envelope.id.uuidString.lowercased()))
            }
            pending.append(amqp.send(messages))
            sent += n
            if let _ = perSecond {
                let due = start + .milliseconds(tick * (sent / perTick))
                if due > .now { try await Task.sleep(until: due) }
            } else if pending.count >= 4 {
                _ = await pending.removeFirst().confirmed()
            }
        }
        for p in pending {
            let failed = await p.confirmed().filter { if case .failure = $0 { true } else { false } }.count
            if failed > 0 { print("warning: \(failed) bench events were not confirmed by the broker") }
        }
    }

    /// Waits until `count` distinct deliveries arrived; returns the last arrival.
    func waitFor(_ count: Int, arrivals: Arrivals, timeout: Duration) async throws -> Date {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, arrivals.snapshot.count < count { try await Task.sleep(for: .milliseconds(50)) }
        return arrivals.snapshot.values.compactMap(\.first).max() ?? Date()
    }

    func latency(_ arrivals: [String: [Date]], _ sent: [String: Date]) -> [Double] {
        arrivals.compactMap { key, times in
            guard let event = key.split(separator: "/").first, let at = sent[String(event)], let first = times.first else { return nil }
            return first.timeIntervalSince(at) * 1000
        }
    }

    func rawPosts(seconds: Int, concurrency: Int) async throws -> Double {
        let url = URL(string: "http://127.0.0.1:\(Self.receiverPort)/raw")!
        let end = ContinuousClock.now + .seconds(seconds)
        let body = Data(#"{"subject":"raw","body":"baseline"}"#.utf8)
        let total = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var n = 0
                    while ContinuousClock.now < end {
                        var request = URLRequest(url: url)
                        request.httpMethod = "POST"
                        request.httpBody = body
                        if (try? await URLSession.shared.data(for: request)) != nil { n += 1 }
                    }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        return Double(total) / Double(seconds)
    }
}
