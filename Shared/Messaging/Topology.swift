import AMQP
// The wire contracts (event names, payloads, broker names) come with Messaging: whoever puts
// events on the wire or takes them off uses them.
@_exported import Contracts

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

extension PropDeskTopology {
    public static func shared(_ arguments: QueueArguments) -> AMQPTopology {
        AMQPTopology(
            exchanges: [
                .init(name: unroutedExchange, type: "fanout"),
                .init(name: eventsExchange, type: "topic", arguments: ["alternate-exchange": .string(unroutedExchange)]),
                .init(name: deadLetterExchange, type: "topic"),
            ],
            queues: [
                .init(name: unroutedQueue, type: arguments.type),
                .init(name: rosterGapQueue, type: arguments.type,
                      extraArguments: ["x-max-length": .int(Int64(rosterGapQueueLength)), "x-overflow": .string("drop-head")]),
                .init(name: deadLetterQueue, type: arguments.type),
            ],
            bindings: [
                .init(queue: unroutedQueue, exchange: unroutedExchange, routingKey: ""),
                .init(queue: rosterGapQueue, exchange: eventsExchange, routingKey: NotificationEvents.rosterGap + ".#"),
                .init(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: "#"),
            ])
    }

    /// A service's own queue, bound to `propdesk.events` with each routing-key pattern.
    public static func serviceQueue(_ queue: String, bindings: [String], _ arguments: QueueArguments) -> AMQPTopology {
        AMQPTopology(
            queues: [.init(name: queue, type: arguments.type, deadLetterExchange: deadLetterExchange, deliveryLimit: arguments.deliveryLimit)],
            bindings: bindings.map { .init(queue: queue, exchange: eventsExchange, routingKey: $0) })
    }
}
