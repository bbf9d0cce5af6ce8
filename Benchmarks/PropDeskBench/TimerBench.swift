import AMQP
import ArgumentParser
import Desk
import Foundation
import Histogram
import Messaging
import Postgres
import Schema
import Synchronization

/// The escalation service's timer engine under load: lateness of firings as a consumer of the
/// breach events sees it (receive time minus due time), with a million deadlines pending and
/// 1,000 falling due each second; the service's memory meanwhile; and how long 60,000 overdue
/// deadlines take to fire. Needs the suite running (`deploy/local/run`).
struct TimerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timers",
        abstract: "Deadline firing lateness with many pending; catch-up of an overdue backlog; the escalation service's RSS.",
        discussion: "Needs the suite running (deploy/local/run) and PROPDESK_AMQP_URL / PROPDESK_DATABASE_URL set. Removes its deadlines afterwards.")

    @Option(help: "Deadlines pending far in the future while the others fall due.") var pending = 1_000_000
    @Option(help: "Deadlines falling due per second.") var rate = 1_000
    @Option(help: "Seconds deadlines fall due for.") var seconds = 30
    @Option(help: "Overdue deadlines for the catch-up run.") var overdue = 60_000
    @Option(help: "pgbench transactions per client, for the baseline.") var pgbenchTransactions = 5_000
    @Flag(help: """
        Catch up after a real crash: kill -9 the escalation service (deploy/local/bench-services kill9), \
        write the overdue deadlines while it is down, start it again (revive), and time from its restart.
        """) var killBeforeCatchUp = false
    @Option(help: """
        standard: --pending far off while --rate fall due for --seconds, then --overdue at once. \
        peers: the peers' protocol, --pending deadlines due at T0 + k/--rate (k = 0 … pending − 1), \
        written in a shuffled order before T0; lateness is receipt − due; missed is not received by \
        the window's end + 60 s; duplicates are counted by id.
        """) var schedule: Schedule = .standard

    enum Schedule: String, ExpressibleByArgument, CaseIterable { case standard, peers }

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let logger = quietLogger()
        let db = try await benchDatabase(pg, size: 2, property: true, logger: logger)
        let property = benchProperty
        let ticket = UUID()
        try await db.execute("""
            INSERT INTO tickets (id, property, number, kind, channel, content, taken_by) VALUES ($1, $2, $3, 'complaint', 'phone', 'timer bench', 'bench')
            """, [ticket, property, "BN-TIMER-\(ticket.uuidString.prefix(8))"])
        let amqp = AMQPConnection(configuration: try AMQPConfiguration(url: try environment("PROPDESK_AMQP_URL"), connectionName: "bench-timers"),
                                  logger: logger)
        try await amqp.connect()
        let queue = "bench.timers.\(UUID().uuidString.prefix(8).lowercased())"
        try await amqp.declare(PropDeskTopology.shared(.standard) + AMQPTopology(
            queues: [.init(name: queue, type: .quorum, extraArguments: benchQueueExpiry)],
            bindings: [.init(queue: queue, exchange: PropDeskTopology.eventsExchange, routingKey: "escalation.bench.breached.\(property)")]))
        // Never leave a million deadlines behind to fire tomorrow. The queue is deleted now, not
        // left to expire: every run binds the same routing key, so a queue left behind would expire
        // in the middle of the next run, while the escalation service publishes to it. RabbitMQ
        // 3.10 then crashes or stalls that publishing channel (see BENCHMARKS.md).
        let cleanUp = {
            try await db.execute("DELETE FROM deadlines WHERE ticket_id = $1", [ticket])
            try await amqp.delete(queue: queue)
        }
        do {
            switch schedule {
            case .standard: try await measure(ticket: ticket, property: property, queue: queue, pg: pg, db: db, amqp: amqp)
            case .peers: try await measurePeers(ticket: ticket, property: property, queue: queue, pg: pg, db: db, amqp: amqp)
            }
        } catch {
            try? await cleanUp()
            throw error
        }
        try await cleanUp()
        await amqp.close()
        db.shutdown()
    }

    func measure(ticket: UUID, property: String, queue: String, pg: PostgresConfiguration, db: PostgresClient,
                 amqp: AMQPConnection) async throws {

        let pgbench = try await pgbenchInsertOnly(pg, on: db, clients: 4, transactions: pgbenchTransactions)
        print(String(format: "pgbench insert-only, 4 clients: %.0f tps (the machine's speed this run)", pgbench))

        // A million deadlines due in a day to a month: the engine must not care.
        let filled = ContinuousClock.now
        try await insert(ticket: ticket, property: property, count: pending, prefix: "far",
                         due: "now() + interval '1 day' + g * interval '2 seconds'", db: db)
        print("\(pending) deadlines pending, written in \(filled.duration(to: .now))")
        // Steady state before measuring: what autovacuum would do some time after a million rows
        // arrived, done now rather than in the middle of the measurement.
        let settled = ContinuousClock.now
        try await db.execute("VACUUM (ANALYZE) deadlines")
        print("vacuumed in \(settled.duration(to: .now))")
        // And what the next checkpoint would do: write out the bulk load's pages now, so its
        // closing fsyncs do not land in the measured phase (local stack: its role may CHECKPOINT).
        do {
            let start = ContinuousClock.now
            try await db.execute("CHECKPOINT")
            print("checkpointed in \(start.duration(to: .now))")
        } catch {
            print("could not CHECKPOINT (\(error)); a checkpoint of the bulk load may land in the measured phase")
        }
        let checkpointsBefore = try await checkpoints(db)
        let rssBefore = escalationRSS()

        // `rate` per second fall due for `seconds`, starting 5 s from now.
        let total = rate * seconds
        let stepMs = 1_000.0 / Double(rate)
        try await insert(ticket: ticket, property: property, count: total, prefix: "due",
                         due: "now() + interval '5 seconds' + g * interval '\(stepMs) milliseconds'", db: db)
        let rssPeak = Mutex(rssBefore ?? 0)
        let sampler = Task {
            while !Task.isCancelled {
                if let r = escalationRSS() { rssPeak.withLock { $0 = max($0, r) } }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        let due = try await collect(total, from: queue, amqp: amqp, timeout: .seconds(seconds + 60))
        sampler.cancel()
        print("checkpoints while deadlines fell due: \(try await checkpoints(db) - checkpointsBefore)")
        print(String(format: "falling due %d/s for %d s with %d pending: received %d of %d", rate, seconds, pending, due.count, total))
        reportLatency("lateness seen by a consumer (receive − due)", due.map(\.observed))
        reportLatency("firing lateness (fired_at − due)", due.map(\.firing))
        try await reportStages(due, db: db)
        let mb = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        print("escalation RSS: \(rssBefore.map(mb) ?? "not found") with the pending deadlines written; peak \(mb(rssPeak.withLock { $0 })) while firing")

        // Catch-up: as after an outage, every one of these is already due when written.
        if killBeforeCatchUp { try benchServices("kill9", "escalation") }
        var started = Date()
        try await insert(ticket: ticket, property: property, count: overdue, prefix: "late",
                         due: "now() - interval '60 seconds' + g * interval '\(60_000.0 / Double(overdue)) milliseconds'", db: db)
        if killBeforeCatchUp {
            print(String(format: "escalation killed with kill -9; %d overdue written in %.2f s while it was down", overdue, Date().timeIntervalSince(started)))
            started = Date()
            try benchServices("revive", "escalation")
            print(String(format: "escalation restarted and ready in %.2f s", Date().timeIntervalSince(started)))
        }
        let backlog = try await collect(overdue, from: queue, amqp: amqp, timeout: .seconds(300))
        let last = backlog.map(\.received).max() ?? started
        let since = killBeforeCatchUp ? "the restart began" : "they were written"
        print(String(format: "catch-up: %d overdue deadlines (due over the last 60 s) all received %.2f s after ", overdue, last.timeIntervalSince(started))
              + "\(since) (\(backlog.count) received, \(Set(backlog.map(\.messageID)).count) distinct)")
    }

    /// Runs deploy/local/bench-services with `arguments`, from the working directory (the checkout).
    /// Through system(3), not Foundation's Process: its waitUntilExit hung here after `revive`, whose
    /// shell had exited but left the service it started running.
    func benchServices(_ arguments: String...) throws {
        let command = (["deploy/local/bench-services"] + arguments).joined(separator: " ")
        let status = system(command)
        guard status == 0 else { throw BenchError("\(command) exited with status \(status)") }
    }

    /// The peers' protocol (as pgqueuer's and the other peers' benches schedule): exactly `rate`
    /// a second over `pending / rate` seconds, nothing far off, the rows written shuffled.
    func measurePeers(ticket: UUID, property: String, queue: String, pg: PostgresConfiguration, db: PostgresClient,
                      amqp: AMQPConnection) async throws {
        let pgbench = try await pgbenchInsertOnly(pg, on: db, clients: 4, transactions: pgbenchTransactions)
        print(String(format: "pgbench insert-only, 4 clients: %.0f tps (the machine's speed this run)", pgbench))
        let window = Double(pending) / Double(rate)
        // T0 leaves time to write them all (about 50,000 rows a second here), and 10 s more.
        let lead = 10 + Double(pending) / 25_000
        let t0 = try await db.query("SELECT clock_timestamp() + make_interval(secs => $1::float8)", [lead])[0].decode(0, as: Date.self)
        let counting = Task { try await collectPeers(from: queue, amqp: amqp, until: t0.addingTimeInterval(window + 60)) }
        let written = ContinuousClock.now
        var start = 0
        while start < pending {
            let end = min(pending, start + 100_000)
            // Each chunk's rows in a random order, and the chunks themselves in a random order of k.
            try await db.execute("""
                INSERT INTO deadlines (ticket_id, property, round, rule_id, standard, title, purpose, step, steps, started_at, due_at, tell)
                SELECT $1, $2, 1, 'peer-' || k, 'BENCH', 'benchmark deadline', 'escalation', 1, 1, now(),
                       $3::timestamptz + k * make_interval(secs => 1.0 / $4::float8), '[]'::jsonb
                FROM (SELECT k FROM generate_series($5::int, $6::int - 1) AS k ORDER BY random()) shuffled
                """, [ticket, property, t0, rate, start, end])
            start = end
        }
        let now = try await db.query("SELECT clock_timestamp()")[0].decode(0, as: Date.self)
        print(String(format: "%d deadlines due at T0 + k/%d over %.0f s, written shuffled in %@, %.1f s before T0", pending, rate, window,
                     "\(written.duration(to: .now))", t0.timeIntervalSince(now)))
        guard now < t0 else {
            counting.cancel()
            throw ValidationError("writing took past T0: raise the lead time")
        }
        let seen = try await counting.value
        let received = seen.firsts.values
        print(String(format: "received %d of %d by the window's end + 60 s; missed %d; duplicates %d", received.count, pending,
                     pending - received.count, seen.duplicates))
        reportLatency("lateness seen by a consumer (receive − due)", received.map(\.observed))
        reportLatency("firing lateness (fired_at − due)", received.map(\.firing))
        let onTime = received.filter { $0.observed <= 1_000 }.count
        print(String(format: "  received within 1 s of due: %d (%.3f%%)", onTime, 100 * Double(onTime) / Double(max(1, pending))))
    }

    /// Every breach until `until`: the first receipt of each message id, and how many came again.
    func collectPeers(from queue: String, amqp: AMQPConnection, until: Date) async throws -> (firsts: [UUID: Firing], duplicates: Int) {
        let got = Mutex<(firsts: [UUID: Firing], duplicates: Int)>(([:], 0))
        let receiving = try await receive(from: queue, amqp: amqp) { f in
            got.withLock {
                if $0.firsts[f.messageID] != nil { $0.duplicates += 1 } else { $0.firsts[f.messageID] = f }
            }
            return false
        }
        while Date() < until { try await Task.sleep(for: .milliseconds(200)) }
        await receiving.stop()
        return got.withLock { $0 }
    }

    struct Firing {
        var messageID: UUID
        var observed: Double
        var firing: Double
        var received: Date
    }

    /// Where the time of the slowest firings went. The outbox row's `published_at` is the start of
    /// the relay's claiming transaction (the mark runs in it), so it says when the relay took the
    /// row; `created_at` is the start of the engine's firing transaction.
    func reportStages(_ firings: [Firing], db: PostgresClient) async throws {
        let rows = try await db.query("""
            SELECT message_id, extract(epoch FROM created_at)::float8, extract(epoch FROM published_at)::float8
            FROM outbox WHERE message_id = ANY($1::uuid[])
            """, [PostgresArray(firings.map(\.messageID))])
        var claimed: [UUID: (fired: Double, claimed: Double)] = [:]
        for row in rows {
            let id: UUID = try row.decode(0)
            claimed[id] = (try row.decode(1), try row.decode(2))
        }
        let staged = firings.compactMap { f -> (Firing, toClaim: Double, toReceipt: Double)? in
            guard let c = claimed[f.messageID] else { return nil }
            let received = f.received.timeIntervalSince1970
            return (f, (c.claimed - c.fired) * 1000, (received - c.claimed) * 1000)
        }
        reportLatency("firing to the relay's claim (claim − firing transaction)", staged.map(\.toClaim))
        reportLatency("claim to receipt (publish, confirm, queue, consumer)", staged.map(\.toReceipt))
        let worst = staged.sorted { $0.0.observed > $1.0.observed }.prefix(8)
        for w in worst {
            print(String(format: "    slow: %.0f ms late = engine %.0f + to claim %.0f + to receipt %.0f, received at %@",
                         w.0.observed, w.0.firing, w.toClaim, w.toReceipt, "\(w.0.received)"))
        }
    }

    /// The deadlines name nobody to tell: notification receives each breach and sends nothing, so
    /// this measures the timers, not 1,000 messages a second (the notify bench measures those).
    func insert(ticket: UUID, property: String, count: Int, prefix: String, due: String, db: PostgresClient) async throws {
        // In chunks, so one statement does not hold a million-row transaction.
        var start = 0
        while start < count {
            let end = min(count, start + 100_000)
            try await db.execute("""
                INSERT INTO deadlines (ticket_id, property, round, rule_id, standard, title, purpose, step, steps, started_at, due_at, tell)
                SELECT $1, $2, 1, $3 || '-' || g, 'BENCH', 'benchmark deadline', 'escalation', 1, 1, now(), \(due),
                       '[]'::jsonb
                FROM generate_series($4::int, $5::int - 1) AS g
                """, [ticket, property, prefix, start, end])
            start = end
        }
    }

    func collect(_ count: Int, from queue: String, amqp: AMQPConnection, timeout: Duration) async throws -> [Firing] {
        let got = Mutex<[Firing]>([])
        let receiving = try await receive(from: queue, amqp: amqp) { f in
            got.withLock {
                $0.append(f)
                return $0.count >= count
            }
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, got.withLock({ $0.count }) < count { try await Task.sleep(for: .milliseconds(100)) }
        await receiving.stop()
        return got.withLock { $0 }
    }

    /// Consumes the breaches on `queue`, each as a ``Firing`` timed at its receipt, until `take`
    /// returns true or the caller stops it.
    func receive(from queue: String, amqp: AMQPConnection, _ take: @escaping @Sendable (Firing) -> Bool) async throws -> Receiving {
        let consumer = try await amqp.consume(queue: queue, prefetch: 2_000)
        let reader = Task {
            for await delivery in consumer {
                let now = Date()
                delivery.ack()
                guard let envelope = try? EventEnvelope.decode(delivery.body),
                      let p = try? envelope.decodePayload(DeadlineEventPayload.self) else { continue }
                if take(Firing(messageID: envelope.id, observed: now.timeIntervalSince(p.dueAt) * 1000, firing: Double(p.firingLatenessMs),
                               received: now)) { break }
            }
        }
        return Receiving(consumer: consumer, reader: reader)
    }

    struct Receiving {
        let consumer: AMQPConsumer
        let reader: Task<Void, Never>
        func stop() async {
            await consumer.cancel()
            reader.cancel()
        }
    }

    func checkpoints(_ db: PostgresClient) async throws -> Int {
        try await db.query("SELECT (checkpoints_timed + checkpoints_req)::int FROM pg_stat_bgwriter")[0].decode(0)
    }

    /// The resident memory of the running escalation service, from `/proc`; nil if none runs.
    func escalationRSS() -> Int? {
        let fm = FileManager.default
        for pid in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {
            guard let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"), exe.hasSuffix("/escalation"),
                  let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { continue }
            return kb * 1024
        }
        return nil
    }
}
