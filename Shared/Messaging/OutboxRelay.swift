import AMQP
import Foundation
import Logging
import Metrics
import Postgres
import ServiceLifecycle
import Synchronization

/// Publishes committed outbox rows with publisher confirms and marks them published.
///
/// Woken when events commit — only for rows its own service wrote: in process by the writer's
/// commit (``PostgresClient/commitSignals(_:)``), and by NOTIFY on `propdesk_outbox` from writers
/// elsewhere that name it (the notification names the writer's `application_name`; an unnamed
/// one wakes every relay). Services' own sessions send no NOTIFY (`propdesk.outbox_notify = off`,
/// migration 0004). It sweeps every `sweepInterval` (default 5 s) and after every reconnect, so
/// what a missed wake-up left behind still goes out: for anyone's rows, or only for its own
/// service's (`sweepsOthers: false`, as the services run it: each service's broker user may
/// publish only its own event types, so a stopped service's events wait in the outbox for it or
/// a replica of it).
/// Each batch (default 500 rows) is claimed with `FOR UPDATE SKIP LOCKED` inside a transaction
/// that stays open while the batch is published, so several relays share the work and a relay
/// that dies between publishing and marking leaves its rows to be published again: at least
/// once, never lost; the consumers' inbox absorbs the duplicate.
public final class OutboxRelay: Service, Sendable {
    private let postgres: PostgresClient
    private let amqp: AMQPConnection
    private let batchSize: Int
    /// Batches published and awaiting their confirms at once.
    private let pipelineDepth: Int
    private let sweepInterval: Duration
    private let logger: Logger
    private let published = Counter(label: "propdesk_outbox_published_total")
    private let failed = Counter(label: "propdesk_outbox_publish_failures_total")

    private let sweepsOthers: Bool

    public init(postgres: PostgresClient, amqp: AMQPConnection, batchSize: Int = 500,
                pipelineDepth: Int = 2, sweepInterval: Duration = .seconds(5), sweepsOthers: Bool = true, logger: Logger) {
        self.sweepsOthers = sweepsOthers
        self.postgres = postgres
        self.amqp = amqp
        self.batchSize = batchSize
        self.pipelineDepth = max(1, pipelineDepth)
        self.sweepInterval = sweepInterval
        self.logger = logger
    }

    public func run() async throws {
        let listener = PostgresListener(configuration: postgres.configuration, channels: [Outbox.channel], logger: logger)
        defer { listener.stop() }
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let interval = sweepInterval
        let own = postgres.configuration.applicationName
        // Set when the next drain must take every writer's rows, not just this service's.
        let sweepAll = Flag(true)
        let forward = Task {
            for await event in listener.events {
                switch event {
                case .notification(let n) where n.payload != own && !n.payload.isEmpty:
                    continue
                case .notification:
                    break
                case .connected:
                    sweepAll.set()
                }
                wake.yield()
            }
        }
        // This process's own commits wake it directly, with no NOTIFY through the server.
        let local = Task { [postgres] in
            for await _ in postgres.commitSignals(Outbox.channel) { wake.yield() }
        }
        let sweep = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                sweepAll.set()
                wake.yield()
            }
        }
        defer {
            forward.cancel()
            local.cancel()
            sweep.cancel()
        }
        wake.yield()
        let failed = Flag(false)
        let inFlight = Tally()
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                var failures = 0
                for await _ in wakeups {
                    if failed.take() {
                        failures += 1
                        try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
                    } else {
                        failures = 0
                    }
                    // At full depth, a finishing batch wakes the loop again.
                    guard inFlight.value < self.pipelineDepth else { continue }
                    let source = sweepAll.take() && self.sweepsOthers ? nil : own
                    // Claiming and sending run here, one batch after another, so batches reach the
                    // broker in claim order; waiting for a batch's confirms and marking it run in
                    // the group, so the next claim need not wait for them. A batch that fails, or
                    // that frees a place the loop was waiting for, wakes it again.
                    do {
                        while inFlight.value < self.pipelineDepth, let claim = try await self.claim(source: source) {
                            let confirms = self.amqp.send(claim.rows.map(\.message))
                            inFlight.add(1)
                            group.addTask {
                                let ok = await self.mark(claim, await confirms.confirmed())
                                let wasFull = inFlight.add(-1) + 1 == self.pipelineDepth
                                if !ok { failed.set() }
                                if !ok || wasFull { wake.yield() }
                            }
                            if claim.rows.count < self.batchSize { break }
                        }
                    } catch {
                        self.logger.warning("outbox relay batch failed", metadata: ["error": "\(error)"])
                        failed.set()
                        wake.yield()
                    }
                }
            }
        }
        // Consumers stop before the relay: publish what their last transactions wrote.
        _ = await drain()
        logger.info("outbox relay stopped")
    }

    /// Publishes batches, one at a time, until the outbox is empty (of `source`'s rows, or
    /// everyone's). False if a batch failed.
    public func drain(source: String? = nil) async -> Bool {
        while true {
            do {
                let result = try await relayBatch(source: source)
                if result.failed > 0 { return false }
                if result.published < batchSize { return true }
            } catch {
                logger.warning("outbox relay batch failed", metadata: ["error": "\(error)"])
                return false
            }
        }
    }

    /// Claims, publishes and marks one batch. `afterPublish` runs between publishing and
    /// marking; tests use it to stand in for a relay that dies at the worst moment.
    public func relayBatch(source: String? = nil, afterPublish: (@Sendable () async throws -> Void)? = nil) async throws
        -> (published: Int, failed: Int) {
        guard let claim = try await claim(source: source) else { return (0, 0) }
        // The lease is given back on every path; on a failure that rolls back, and the claimed
        // rows are free for the next batch at once.
        do {
            let results = await amqp.publish(claim.rows.map(\.message))
            try await afterPublish?()
            let outcome = try await record(claim, results)
            await claim.lease.release()
            return outcome
        } catch {
            await claim.lease.release()
            throw error
        }
    }

    /// Rows claimed by `lease`'s open transaction: locked against other relays until marked.
    struct Claim: Sendable {
        let lease: PostgresClient.Lease
        let rows: [Row]
    }

    /// Claims the next batch, or nil (and the lease back) when there is nothing to publish.
    private func claim(source: String?) async throws -> Claim? {
        let lease = try await postgres.lease()
        let limit = batchSize
        do {
            let rows = try await lease.run { connection -> [Row] in
                try connection.begin()
                // Two statements, not one with `$2 IS NULL OR source = $2`: each has its own
                // index in its order (`outbox_unpublished_by_source`, `outbox_unpublished`).
                let columns = "id, message_id, exchange, routing_key, envelope::text, envelope->>'type', envelope->>'correlation_id'"
                if let source {
                    return try connection.query("""
                        SELECT \(columns) FROM outbox WHERE published_at IS NULL AND source = $2
                        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                        """, [limit, source]).map(Row.init)
                }
                return try connection.query("""
                    SELECT \(columns) FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                    """, [limit]).map(Row.init)
            }
            if rows.isEmpty {
                await lease.release()
                return nil
            }
            return Claim(lease: lease, rows: rows)
        } catch {
            await lease.release()
            throw error
        }
    }

    /// Marks a claimed batch from its publish results and gives the lease back; false if any row
    /// was not confirmed (or the marking failed: the rows are then published again).
    private func mark(_ claim: Claim, _ results: [Result<Void, AMQPError>]) async -> Bool {
        let ok: Bool
        do {
            ok = try await record(claim, results).failed == 0
        } catch {
            logger.warning("outbox relay could not mark a batch; it will be published again", metadata: ["error": "\(error)"])
            ok = false
        }
        await claim.lease.release()
        return ok
    }

    private func record(_ claim: Claim, _ results: [Result<Void, AMQPError>]) async throws -> (published: Int, failed: Int) {
        var ok: [Int64] = []
        var bad: [Int64] = []
        var firstError: AMQPError?
        for (row, result) in zip(claim.rows, results) {
            switch result {
            case .success: ok.append(row.id)
            case .failure(let error):
                bad.append(row.id)
                firstError = firstError ?? error
            }
        }
        let errorText = firstError.map { "\($0)" }
        try await claim.lease.run { [ok, bad] connection in
            // Marking need not wait for the disk: if the mark is lost in a crash the rows are
            // published again, and consumers' inboxes absorb the duplicates.
            try connection.executeLater("SET LOCAL synchronous_commit = off")
            if !ok.isEmpty {
                try connection.executeLater("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [PostgresArray(ok)])
            }
            if !bad.isEmpty {
                try connection.executeLater("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])",
                                            [PostgresArray(bad), errorText])
            }
            try connection.commit()
        }
        published.increment(by: ok.count)
        if !bad.isEmpty {
            failed.increment(by: bad.count)
            logger.warning("outbox events not confirmed; will retry", metadata: [
                "count": "\(bad.count)", "error": "\(errorText ?? "")",
            ])
        }
        return (ok.count, bad.count)
    }

    struct Row: Sendable {
        let id: Int64
        let message: AMQPMessage

        init(_ row: PostgresRow) throws {
            id = try row.decode(0)
            let messageID: UUID = try row.decode(1)
            message = AMQPMessage(
                exchange: try row.decode(2), routingKey: try row.decode(3), body: Data(try row.decode(4, as: String.self).utf8),
                messageID: messageID.postgresText, correlationID: try row.decode(6, as: String?.self),
                type: try row.decode(5, as: String?.self),
                timestamp: UInt64(Date().timeIntervalSince1970), mandatory: true)
        }
    }
}

/// A flag one task sets and another takes (reads and clears).
final class Flag: Sendable {
    private let value: Mutex<Bool>
    init(_ initial: Bool) { value = Mutex(initial) }
    func set() { value.withLock { $0 = true } }
    func take() -> Bool {
        value.withLock { v in
            defer { v = false }
            return v
        }
    }
}

/// A count several tasks change.
final class Tally: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    /// Adds `n` and returns the new count.
    @discardableResult
    func add(_ n: Int) -> Int {
        count.withLock {
            $0 += n
            return $0
        }
    }
}
