import AMQP
import Desk
import Domain
import Logging
import Messaging
import Postgres
import ServiceKit
import Synchronization

/// Dispatch — department routing: every new or reopened ticket becomes one work order per
/// department its routing rules name (table `routing_rules`, STANDARDS.md R1, R2, T1–T9, C1…),
/// each published to that department's queue for the property, `propdesk.work.<property>.<queue>`.
enum DispatchService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "dispatch",
        summary: "Dispatch — routes tickets to departments as work orders on their queues.",
        defaultHTTPPort: 8081,
        bindings: DiagnosticsHandler.bindings + ["ticket.*.created.#", "ticket.*.reopened.#"],
        handler: { context in
            EventRouter([
                ("system.", DiagnosticsHandler()),
                ("ticket.", DispatchHandler(amqp: context.amqp, settings: context.settings)),
            ])
        })
}

/// Creates the work orders for a ticket's round. Before the transaction it makes sure the
/// property's department queues exist, so a work order is never published to a queue nobody
/// declared (it would wait in `propdesk.unrouted` instead of with the department).
final class DispatchHandler: EventHandler {
    let amqp: AMQPConnection
    let settings: Settings
    private let declared = Mutex<Set<String>>([])

    init(amqp: AMQPConnection, settings: Settings) {
        self.amqp = amqp
        self.settings = settings
    }

    func prepare(_ event: ReceivedEvent) async throws {
        let property = event.envelope.property
        guard !declared.withLock({ $0.contains(property) }) else { return }
        try await amqp.declare(DeskEvents.workQueues(property: property, queueType: settings.queueType,
                                                     deliveryLimit: settings.deliveryLimit))
        declared.withLock { _ = $0.insert(property) }
    }

    func handle(_ event: ReceivedEvent, on connection: PostgresConnection) throws {
        guard let ticketID = event.envelope.ticketID else { throw PoisonMessage("\(event.envelope.type) without ticket_id") }
        let orders: [WorkOrderView]
        do {
            orders = try TicketStore.dispatch(ticket: ticketID, causedBy: event.envelope, on: connection)
        } catch DeskError.notFound(let what) {
            throw PoisonMessage("\(what): no such ticket in this database")
        }
        event.logger.info("dispatched", metadata: [
            "work_orders": "\(orders.map { "\($0.queue.name):\($0.priority.rawValue)" }.joined(separator: ","))",
        ])
    }
}

@main
enum DispatchMain {
    static func main() async { await ServiceCommand<DispatchService>.main() }
}
