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
/// migration 0004). It sweeps every `sweepInterval` (default 5 s) and after every reconnect for
/// anyone's rows, so what a missed wake-up or a stopped service left behind still goes out.
/// Each batch (default 500 rows) is claimed with `FOR UPDATE SKIP LOCKED` inside a transaction
/// that stays open while the batch is published, so several relays share the work and a relay
/// that dies between publishing and marking leaves its rows to be published again: at least
/// once, never lost; the consumers' inbox absorbs the duplicate.
public final class OutboxRelay: Service, Sendable {
    private let postgres: PostgresClient
    private let amqp: AMQPConnection
    private let batchSize: Int
    private let sweepInterval: Duration
    private let logger: Logger
    private let published = Counter(label: "propdesk_outbox_published_total")
    private let failed = Counter(label: "propdesk_outbox_publish_failures_total")

    public init(postgres: PostgresClient, amqp: AMQPConnection, batchSize: Int = 500,
                sweepInterval: Duration = .seconds(5), logger: Logger) {
        self.postgres = postgres
        self.amqp = amqp
        self.batchSize = batchSize
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
        await cancelWhenGracefulShutdown {
            var failures = 0
            for await _ in wakeups {
                let all = sweepAll.take()
                if await self.drain(source: all ? nil : own) {
                    failures = 0
                } else {
                    failures += 1
                    try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
                    wake.yield()
                }
            }
        }
        // Consumers stop before the relay: publish what their last transactions wrote.
        _ = await drain()
        logger.info("outbox relay stopped")
    }

    /// Publishes batches until the outbox is empty (of `source`'s rows, or everyone's). False if
    /// a batch failed.
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
        let lease = try await postgres.lease()
        do {
            let result = try await relay(on: lease, source: source, afterPublish: afterPublish)
            await lease.release()
            return result
        } catch {
            await lease.release()  // rolls back: the claimed rows are free for the next batch at once
            throw error
        }
    }

    private func relay(on lease: PostgresClient.Lease, source: String?, afterPublish: (@Sendable () async throws -> Void)?) async throws
        -> (published: Int, failed: Int) {
        let limit = batchSize
        let rows = try await lease.run { connection -> [Row] in
            try connection.begin()
            return try connection.query("""
                SELECT id, message_id, exchange, routing_key, envelope::text, envelope->>'type', envelope->>'correlation_id'
                FROM outbox WHERE published_at IS NULL AND ($2::text IS NULL OR source = $2)
                ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [limit, source]).map(Row.init)
        }
        guard !rows.isEmpty else {
            try await lease.run { try $0.commit() }
            return (0, 0)
        }
        let results = await amqp.publish(rows.map(\.message))
        try await afterPublish?()
        var ok: [Int64] = []
        var bad: [Int64] = []
        var firstError: AMQPError?
        for (row, result) in zip(rows, results) {
            switch result {
            case .success: ok.append(row.id)
            case .failure(let error):
                bad.append(row.id)
                firstError = firstError ?? error
            }
        }
        let errorText = firstError.map { "\($0)" }
        try await lease.run { [ok, bad] connection in
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
