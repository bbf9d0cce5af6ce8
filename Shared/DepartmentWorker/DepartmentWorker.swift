import AMQP
import Desk
import Domain
import Foundation
import Logging
import Messaging

/// A department worker at one property: takes work orders from its queue
/// `propdesk.work.<property>.<queue>` and records each step through intake.
///
/// Taking an order is: receive it (prefetch 1, so workers on one queue share the work), check it
/// is still waiting, let the worker decide, record the acceptance through intake, and only then
/// ack. A worker that dies before accepting leaves the delivery unacked: the broker gives the
/// order to the next worker. An order someone else already took (a redelivery after a race) is
/// acked and skipped, never accepted twice.
///
/// Putting an order back (the worker declines it, stops, or cannot reach intake) publishes it
/// again to the same queue, confirmed, and then acks the delivery in hand: a declined order is
/// never counted as a failure against the queue's delivery limit, so it is not dead-lettered
/// while the record still says `assigned`.
public struct DepartmentWorker: Sendable {
    public enum Decision: Sendable, Equatable {
        case accept
        /// Give it back to the queue for someone else.
        case putBack
        /// Give it back and stop taking work.
        case stop
    }

    /// What happened to one delivery.
    public enum Outcome: Sendable {
        case accepted(WorkOrderView)
        case alreadyTaken(WorkOrderEventPayload, by: String?, status: WorkOrderStatus)
        case putBack(WorkOrderEventPayload)
        case unreadable(reason: String)
    }

    public let property: String
    public let queue: WorkQueue
    public let amqp: AMQPConnection
    public let intake: IntakeClient
    public let logger: Logger

    public init(property: String, queue: WorkQueue, amqp: AMQPConnection, intake: IntakeClient, logger: Logger) {
        self.property = property
        self.queue = queue
        self.amqp = amqp
        self.intake = intake
        self.logger = logger
    }

    public var queueName: String { DeskEvents.workQueueName(queue, property: property) }

    /// Takes work orders until `count` are accepted (nil: until `decide` says stop or the task is
    /// cancelled). `waiting` is called once the queue is declared and consumed; `report` sees every
    /// outcome as it happens.
    public func take(count: Int?, queues arguments: QueueArguments, waiting: @Sendable () -> Void = {},
                     decide: @Sendable (WorkOrderEventPayload) async -> Decision,
                     report: @Sendable (Outcome) -> Void) async throws {
        try await amqp.declare(DeskEvents.workQueues(property: property, arguments))
        let consumer = try await amqp.consume(queue: queueName, prefetch: 1)
        waiting()
        var accepted = 0
        var stopping = false
        for await delivery in consumer {
            guard !stopping else {
                // Received before the cancel took effect: not ours to keep.
                await putBack(delivery)
                continue
            }
            let (outcome, stop) = await handle(delivery, decide: decide)
            report(outcome)
            if case .accepted = outcome { accepted += 1 }
            if stop || Task.isCancelled || count.map({ accepted >= $0 }) == true {
                stopping = true
                await consumer.cancel()
            }
        }
    }

    private func handle(_ delivery: AMQPDelivery, decide: @Sendable (WorkOrderEventPayload) async -> Decision) async -> (Outcome, stop: Bool) {
        let order: WorkOrderEventPayload
        do {
            order = try EventEnvelope.decode(delivery.body).decodePayload(WorkOrderEventPayload.self)
        } catch {
            // Not a work order: park it in the dead-letter queue rather than loop on it.
            delivery.reject(requeue: false)
            return (.unreadable(reason: "\(error)"), false)
        }
        do {
            let current = try await intake.workOrder(order.workOrderID)
            guard current.status == .assigned else {
                delivery.ack()
                return (.alreadyTaken(order, by: current.assignee, status: current.status), false)
            }
            let decision = await decide(order)
            guard case .accept = decision else {
                await putBack(delivery)
                return (.putBack(order), decision == .stop)
            }
            do {
                let taken = try await intake.step(.accept, workOrder: order.workOrderID)
                delivery.ack()
                return (.accepted(taken), false)
            } catch let refusal as IntakeClient.Refusal where refusal.status == 409 {
                // Someone took it between our read and our accept.
                let now = try await intake.workOrder(order.workOrderID)
                delivery.ack()
                return (.alreadyTaken(order, by: now.assignee, status: now.status), false)
            }
        } catch {
            logger.warning("could not take work order; put back", metadata: ["error": "\(error)", "work_order_id": "\(order.workOrderID)"])
            await putBack(delivery)
            return (.putBack(order), true)
        }
    }

    /// The order back on its queue for the next worker, as a new message (its delivery count
    /// starts again), then the delivery in hand acked. If the copy cannot be confirmed the
    /// delivery is requeued instead: the order is never lost.
    private func putBack(_ delivery: AMQPDelivery) async {
        let p = delivery.properties
        let copy = AMQPMessage(exchange: "", routingKey: queueName, body: delivery.body, messageID: p.messageID,
                               correlationID: p.correlationID, type: p.type, contentType: p.contentType ?? "application/json",
                               headers: p.headers.filter { !$0.key.hasPrefix("x-") }, timestamp: p.timestamp)
        do {
            try await amqp.publish(copy)
            delivery.ack()
        } catch {
            logger.warning("could not put the order back as a new message; requeued", metadata: ["error": "\(error)"])
            delivery.nack(requeue: true)
        }
    }
}
