import AMQP
import Foundation
import Logging
import Metrics
import Postgres
import ServiceLifecycle

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
    private let logger: Logger
    private let outcomes: @Sendable (Outcome) -> Void
    private let counters: [String: Counter]

    /// `name` is the inbox key: replicas of one service share it.
    /// `concurrency`: deliveries handled at once, each in its own transaction (1: one after
    /// another, in queue order).
    public init(name: String, queue: String, amqp: AMQPConnection, postgres: PostgresClient, handler: any EventHandler,
                prefetch: UInt16 = 50, concurrency: Int = 1, logger: Logger,
                outcomes: @escaping @Sendable (Outcome) -> Void = { _ in }) {
        self.name = name
        self.queue = queue
        self.amqp = amqp
        self.postgres = postgres
        self.handler = handler
        self.prefetch = prefetch
        self.concurrency = max(1, concurrency)
        var logger = logger
        logger[metadataKey: "amqp_queue"] = "\(queue)"
        self.logger = logger
        self.outcomes = outcomes
        counters = Dictionary(uniqueKeysWithValues: ["handled", "duplicate", "requeued", "dead_lettered"].map {
            ($0, Counter(label: "propdesk_messages_consumed_total", dimensions: [("queue", queue), ("outcome", $0)]))
        })
    }

    private func count(_ outcome: String) { counters[outcome]?.increment() }

    public func run() async throws {
        let consumer = try await amqp.consume(queue: queue, prefetch: prefetch)
        logger.info("consuming")
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for await delivery in consumer {
                    if inFlight == self.concurrency {
                        await group.next()
                        inFlight -= 1
                    }
                    group.addTask { self.outcomes(await self.process(delivery)) }
                    inFlight += 1
                }
            }
        } onGracefulShutdown: {
            Task { await consumer.cancel() }
        }
        logger.info("consumer stopped")
    }

    /// Handles one delivery completely, including its ack, nack or dead-lettering.
    public func process(_ delivery: AMQPDelivery) async -> Outcome {
        var logger = self.logger
        logger[metadataKey: "message_id"] = "\(delivery.properties.messageID ?? "-")"
        let envelope: EventEnvelope
        do {
            envelope = try EventEnvelope.decode(delivery.body)
        } catch {
            return await deadLetter(delivery, reason: error.description, logger: logger)
        }
        logger[metadataKey: "event_type"] = "\(envelope.type)"
        if let ticket = envelope.ticketID { logger[metadataKey: "ticket_id"] = "\(ticket)" }
        var attempt = 0
        while true {
            switch await apply(envelope, routingKey: delivery.routingKey, redelivered: delivery.redelivered, logger: logger) {
            case .success(let firstTime):
                delivery.ack()  // a stale ack is fine: the redelivery is a duplicate
                count(firstTime ? "handled" : "duplicate")
                if !firstTime { logger.debug("duplicate delivery ignored") }
                return firstTime ? .handled : .duplicate
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
        let event = ReceivedEvent(envelope: envelope, routingKey: routingKey, redelivered: redelivered, logger: logger ?? self.logger)
        let name = self.name
        let handler = self.handler
        do {
            try await handler.prepare(event)
            return .success(try await postgres.withTransaction { connection in
                guard try Inbox.claim(envelope.id, consumer: name, on: connection) else { return false }
                try handler.handle(event, on: connection)
                return true
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
