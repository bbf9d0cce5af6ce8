import AMQP
import Foundation
import Logging
import Metrics
import Postgres
import ServiceLifecycle
import Synchronization

/// An event as a handler sees it.
public struct ReceivedEvent: Sendable {
    public let envelope: EventEnvelope
    public let routingKey: String
    public let redelivered: Bool
    public let logger: Logger
}

/// What a service does with one event. Runs inside the transaction that records the inbox row:
/// write effects and any new events (``Outbox/enqueue(_:on:exchange:routingKey:)``) on `connection`.
public protocol EventHandler: Sendable {
    /// Work outside the transaction that must be done before it, such as declaring a queue the
    /// handler's events will be routed to. Runs again on a redelivery, so it must be idempotent.
    func prepare(_ event: ReceivedEvent) async throws
    func handle(_ event: ReceivedEvent, on connection: PostgresConnection) throws
}

extension EventHandler {
    public func prepare(_ event: ReceivedEvent) async throws {}
}

/// Thrown by a handler for a message it can never accept (bad payload): the message goes to the
/// dead-letter queue with `reason` in a header instead of being retried.
public struct PoisonMessage: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Consumes one queue: decode, handle once (inbox) in a transaction, commit, then ack.
///
/// - Deliveries that arrive while every handler is busy wait, and the next free handler takes up
///   to `batchSize` of them into one transaction (group commit): one inbox statement and one
///   commit for the lot, each event handled in queue order. If anything in the batch fails, the
///   transaction rolls back and its deliveries are handled one by one, so one bad message never
///   holds back or doubles the others. With a quiet queue a batch is a single delivery: nothing
///   waits to fill one.
/// - A malformed envelope or a ``PoisonMessage`` goes to `propdesk.dlx` with the reason in the
///   `x-propdesk-rejection-reason` header, is logged with its message id, and the consumer goes on.
/// - A lost database connection is retried in place with backoff (100 ms doubling to 5 s): an
///   outage delays messages but does not burn their delivery limit.
/// - Any other error requeues the message; past the queue's delivery limit the broker
///   dead-letters it.
/// - On graceful shutdown it stops taking deliveries, finishes and acks what it holds, and returns.
public final class MessageConsumer: Service, Sendable {
    public enum Outcome: Sendable, Equatable {
        case handled
        case duplicate
        case deadLettered(reason: String)
        case requeued(reason: String)
    }

    public let name: String
    public let queue: String
    private let amqp: AMQPConnection
    private let postgres: PostgresClient
    private let handler: any EventHandler
    private let prefetch: UInt16
    private let concurrency: Int
    private let batchSize: Int
    private let logger: Logger
    private let outcomes: @Sendable (Outcome) -> Void
    private let counters: [String: Counter]
    private let batches: Recorder

    /// `name` is the inbox key: replicas of one service share it.
    /// `concurrency`: transactions at once (1: one after another, in queue order).
    /// `batchSize`: the most deliveries one transaction handles (1: a transaction each).
    public init(name: String, queue: String, amqp: AMQPConnection, postgres: PostgresClient, handler: any EventHandler,
                prefetch: UInt16 = 50, concurrency: Int = 1, batchSize: Int = 1, logger: Logger,
                outcomes: @escaping @Sendable (Outcome) -> Void = { _ in }) {
        self.name = name
        self.queue = queue
        self.amqp = amqp
        self.postgres = postgres
        self.handler = handler
        self.prefetch = prefetch
        self.concurrency = max(1, concurrency)
        self.batchSize = max(1, batchSize)
        var logger = logger
        logger[metadataKey: "amqp_queue"] = "\(queue)"
        self.logger = logger
        self.outcomes = outcomes
        batches = Recorder(label: "propdesk_consumer_batch_size", dimensions: [("queue", queue)])
        counters = Dictionary(uniqueKeysWithValues: ["handled", "duplicate", "requeued", "dead_lettered"].map {
            ($0, Counter(label: "propdesk_messages_consumed_total", dimensions: [("queue", queue), ("outcome", $0)]))
        })
    }

    private func count(_ outcome: String) { counters[outcome]?.increment() }

    public func run() async throws {
        let consumer = try await amqp.consume(queue: queue, prefetch: prefetch)
        logger.info("consuming")
        let backlog = Backlog()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await delivery in consumer where backlog.add(delivery, workers: self.concurrency) {
                    group.addTask { await self.work(backlog) }
                }
            }
        } onGracefulShutdown: {
            Task { await consumer.cancel() }
        }
        logger.info("consumer stopped")
    }

    /// One handler: takes batches from the backlog until it is empty.
    private func work(_ backlog: Backlog) async {
        while let batch = backlog.take(batchSize) {
            batches.record(batch.count)
            for outcome in await process(batch) { outcomes(outcome) }
        }
    }

    /// Deliveries waiting for a handler, and how many handlers are taking from them.
    private final class Backlog: Sendable {
        private let state = Mutex<(waiting: [AMQPDelivery], workers: Int)>(([], 0))

        /// Queues `delivery`; true when a new handler should start (fewer than `workers` run).
        func add(_ delivery: AMQPDelivery, workers: Int) -> Bool {
            state.withLock { s in
                s.waiting.append(delivery)
                guard s.workers < workers else { return false }
                s.workers += 1
                return true
            }
        }

        /// Up to `limit` deliveries in arrival order; nil when none wait (the handler stops).
        func take(_ limit: Int) -> [AMQPDelivery]? {
            state.withLock { s in
                guard !s.waiting.isEmpty else {
                    s.workers -= 1
                    return nil
                }
                let batch = Array(s.waiting.prefix(limit))
                s.waiting.removeFirst(batch.count)
                return batch
            }
        }
    }

    /// Handles deliveries completely, including each one's ack, nack or dead-lettering: together in
    /// one transaction when there are several (see the type's notes), else alone.
    public func process(_ deliveries: [AMQPDelivery]) async -> [Outcome] {
        var outcomes: [Outcome] = []
        var events: [(delivery: AMQPDelivery, event: ReceivedEvent)] = []
        for delivery in deliveries {
            switch decode(delivery) {
            case .failure(let rejected): outcomes.append(await deadLetter(delivery, reason: rejected.reason, logger: rejected.logger))
            case .success(let event): events.append((delivery, event))
            }
        }
        if events.count > 1 {
            switch await apply(events.map(\.event)) {
            case .success(let firstTimes):
                return outcomes + zip(events, firstTimes).map { acknowledge($0.delivery, firstTime: $1, logger: $0.event.logger) }
            case .failure(let error):
                logger.debug("batch rolled back; handling its deliveries one by one", metadata: ["error": "\(error)", "size": "\(events.count)"])
            }
        }
        return outcomes + (await events.asyncMap { await settle($0.delivery, $0.event) })
    }

    private struct Rejected: Error {
        let reason: String
        let logger: Logger
    }

    private func decode(_ delivery: AMQPDelivery) -> Result<ReceivedEvent, Rejected> {
        var logger = self.logger
        logger[metadataKey: "message_id"] = "\(delivery.properties.messageID ?? "-")"
        let envelope: EventEnvelope
        do {
            envelope = try EventEnvelope.decode(delivery.body)
        } catch {
            return .failure(Rejected(reason: error.description, logger: logger))
        }
        logger[metadataKey: "event_type"] = "\(envelope.type)"
        if let ticket = envelope.ticketID { logger[metadataKey: "ticket_id"] = "\(ticket)" }
        return .success(ReceivedEvent(envelope: envelope, routingKey: delivery.routingKey, redelivered: delivery.redelivered, logger: logger))
    }

    private func acknowledge(_ delivery: AMQPDelivery, firstTime: Bool, logger: Logger) -> Outcome {
        delivery.ack()  // a stale ack is fine: the redelivery is a duplicate
        count(firstTime ? "handled" : "duplicate")
        if !firstTime { logger.debug("duplicate delivery ignored") }
        return firstTime ? .handled : .duplicate
    }

    /// Handles one decoded delivery in its own transaction, retrying through database outages.
    private func settle(_ delivery: AMQPDelivery, _ event: ReceivedEvent) async -> Outcome {
        let logger = event.logger
        var attempt = 0
        while true {
            switch await apply([event]) {
            case .success(let firstTimes):
                return acknowledge(delivery, firstTime: firstTimes[0], logger: logger)
            case .failure(let poison as PoisonMessage):
                return await deadLetter(delivery, reason: poison.reason, logger: logger)
            case .failure(let error as PostgresError) where error.isConnectionProblem:
                guard !Task.isCancelled else {
                    // Shutting down hard: leave it unacked; the broker redelivers it.
                    return .requeued(reason: "\(error)")
                }
                logger.warning("database unavailable; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(attempt, 6))))
                attempt += 1
            case .failure(let error):
                logger.error("handler failed; message requeued", metadata: [
                    "error": "\(error)", "delivery_count": "\(delivery.deliveryCount)",
                ])
                delivery.nack(requeue: true)
                count("requeued")
                return .requeued(reason: "\(error)")
            }
        }
    }

    /// Runs the handler once for this message id, in one transaction with the inbox row.
    /// `.success(false)` means the message had already been handled.
    public func apply(_ envelope: EventEnvelope, routingKey: String, redelivered: Bool = false, logger: Logger? = nil) async -> Result<Bool, Error> {
        await apply([ReceivedEvent(envelope: envelope, routingKey: routingKey, redelivered: redelivered, logger: logger ?? self.logger)])
            .map { $0[0] }
    }

    /// Runs the handler once per message id, in queue order, all in one transaction with their
    /// inbox rows; for each event, whether it was new (a message already handled, or twice in
    /// `events`, takes effect once).
    private func apply(_ events: [ReceivedEvent]) async -> Result<[Bool], Error> {
        let name = self.name
        let handler = self.handler
        do {
            for event in events { try await handler.prepare(event) }
            return .success(try await postgres.withTransaction { c in
                let fresh = Set(try Inbox.claim(events.map(\.envelope.id), consumer: name, on: c))
                var seen = Set<UUID>()
                return try events.map { event in
                    guard fresh.contains(event.envelope.id), seen.insert(event.envelope.id).inserted else { return false }
                    try handler.handle(event, on: c)
                    return true
                }
            })
        } catch {
            return .failure(error)
        }
    }

    private func deadLetter(_ delivery: AMQPDelivery, reason: String, logger: Logger) async -> Outcome {
        var headers = delivery.properties.headers
        headers[PropDeskTopology.rejectionReasonHeader] = .string(String(reason.prefix(1_000)))
        headers[PropDeskTopology.rejectedByHeader] = .string(name)
        headers[PropDeskTopology.originalExchangeHeader] = .string(delivery.exchange)
        headers[PropDeskTopology.originalRoutingKeyHeader] = .string(delivery.routingKey)
        let message = AMQPMessage(
            exchange: PropDeskTopology.deadLetterExchange, routingKey: delivery.routingKey, body: delivery.body,
            messageID: delivery.properties.messageID, correlationID: delivery.properties.correlationID,
            type: delivery.properties.type, contentType: delivery.properties.contentType ?? "application/octet-stream",
            headers: headers, mandatory: true)
        do {
            try await amqp.publish(message)
            delivery.ack()
            logger.error("message dead-lettered", metadata: ["reason": "\(reason)"])
            count("dead_lettered")
            return .deadLettered(reason: reason)
        } catch {
            // Could not park it: give it back; the delivery limit dead-letters it eventually.
            logger.error("could not dead-letter message; requeued", metadata: ["reason": "\(reason)", "error": "\(error)"])
            delivery.nack(requeue: true)
            return .requeued(reason: reason)
        }
    }
}

extension Array where Element: Sendable {
    /// `transform` on each element in order, one after another.
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var out: [T] = []
        out.reserveCapacity(count)
        for element in self { out.append(await transform(element)) }
        return out
    }
}
