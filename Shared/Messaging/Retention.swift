import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// Deletes what the outbox and the inbox no longer need: outbox rows published, and inbox rows
/// handled, more than `days` ago. An inbox row only has to outlive the redeliveries of its
/// message (seconds to minutes after it was handled), so the default week is generous. Runs at
/// start and then every `interval` (default 1 h), in chunks, so it never holds long locks;
/// replicas may run it at once (deleting a row twice is a no-op).
public final class Retention: Service, Sendable {
    private let postgres: PostgresClient
    private let days: Int
    private let interval: Duration
    private let logger: Logger
    static let chunk = 5_000

    public init(postgres: PostgresClient, days: Int, interval: Duration = .seconds(3600), logger: Logger) {
        self.postgres = postgres
        self.days = days
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await self.once()
                    if removed.outbox + removed.inbox > 0 {
                        self.logger.info("retention", metadata: ["outbox_deleted": "\(removed.outbox)", "inbox_deleted": "\(removed.inbox)"])
                    }
                } catch {
                    self.logger.warning("retention failed; next try in an interval", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// One pass: deletes everything past retention, chunk by chunk. Returns how many rows went.
    @discardableResult
    public func once() async throws -> (outbox: Int, inbox: Int) {
        var outbox = 0, inbox = 0
        while true {
            let n = try await postgres.execute("""
                DELETE FROM outbox WHERE id IN (
                    SELECT id FROM outbox WHERE published_at < now() - make_interval(days => $1) LIMIT $2)
                """, [days, Self.chunk])
            outbox += n
            if n < Self.chunk { break }
        }
        while true {
            let n = try await postgres.execute("""
                DELETE FROM inbox WHERE (consumer, message_id) IN (
                    SELECT consumer, message_id FROM inbox WHERE handled_at < now() - make_interval(days => $1) LIMIT $2)
                """, [days, Self.chunk])
            inbox += n
            if n < Self.chunk { break }
        }
        return (outbox, inbox)
    }
}
