import AMQP

/// The broker layout every PropDesk service shares.
///
/// - `propdesk.events` (topic): every domain event, routing key = event type. Unroutable events go
///   to its alternate exchange `propdesk.unrouted` (fanout) and wait in queue `propdesk.unrouted`,
///   so an event no queue was bound for is kept, not dropped.
/// - `propdesk.dlx` (topic) → queue `propdesk.dead-letter` (binding `#`): poison messages, both
///   those a consumer rejects with a reason header and those over a queue's delivery limit.
/// - one queue per service, `propdesk.<service>`, durable (quorum by default), dead-lettering to
///   `propdesk.dlx`, with a delivery limit.
/// How every PropDesk queue is declared, services' and workers' alike: one value, read from
/// `PROPDESK_QUEUE_TYPE` and `PROPDESK_DELIVERY_LIMIT` (ServiceKit's settings). A queue declared
/// twice with other arguments is refused by the broker (406 PRECONDITION_FAILED), so nothing
/// declares one with arguments of its own.
public struct QueueArguments: Sendable, Equatable {
    public var type: AMQPTopology.QueueType
    /// Deliveries before a failing message is dead-lettered (quorum queues).
    public var deliveryLimit: Int

    public init(type: AMQPTopology.QueueType, deliveryLimit: Int) {
        self.type = type
        self.deliveryLimit = deliveryLimit
    }

    /// The defaults: quorum queues, 5 deliveries.
    public static let standard = QueueArguments(type: .quorum, deliveryLimit: 5)
}

public enum PropDeskTopology {
    public static let eventsExchange = "propdesk.events"
    public static let unroutedExchange = "propdesk.unrouted"
    public static let unroutedQueue = "propdesk.unrouted"
    public static let deadLetterExchange = "propdesk.dlx"
    public static let deadLetterQueue = "propdesk.dead-letter"

    /// Header a consumer sets when it dead-letters a message itself: why it was refused.
    public static let rejectionReasonHeader = "x-propdesk-rejection-reason"
    public static let rejectedByHeader = "x-propdesk-rejected-by"
    public static let originalExchangeHeader = "x-propdesk-original-exchange"
    public static let originalRoutingKeyHeader = "x-propdesk-original-routing-key"

    public static func shared(_ arguments: QueueArguments) -> AMQPTopology {
        AMQPTopology(
            exchanges: [
                .init(name: unroutedExchange, type: "fanout"),
                .init(name: eventsExchange, type: "topic", arguments: ["alternate-exchange": .string(unroutedExchange)]),
                .init(name: deadLetterExchange, type: "topic"),
            ],
            queues: [
                .init(name: unroutedQueue, type: arguments.type),
                .init(name: deadLetterQueue, type: arguments.type),
            ],
            bindings: [
                .init(queue: unroutedQueue, exchange: unroutedExchange, routingKey: ""),
                .init(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: "#"),
            ])
    }

    public static func queueName(service: String) -> String { "propdesk.\(service)" }

    /// A service's own queue, bound to `propdesk.events` with each routing-key pattern.
    public static func serviceQueue(_ queue: String, bindings: [String], _ arguments: QueueArguments) -> AMQPTopology {
        AMQPTopology(
            queues: [.init(name: queue, type: arguments.type, deadLetterExchange: deadLetterExchange, deliveryLimit: arguments.deliveryLimit)],
            bindings: bindings.map { .init(queue: queue, exchange: eventsExchange, routingKey: $0) })
    }
}
