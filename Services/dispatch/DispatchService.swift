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
        // Tickets are independent of each other (each locks its own row), so handle several at once.
        consumerConcurrency: 4,
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
    /// Routing rules per property, read again after ``rulesTTL``: a changed rule applies to
    /// tickets routed from then on, within that time.
    private let rules = Mutex<[String: (rules: [RoutingRule], read: ContinuousClock.Instant)]>([:])
    static let rulesTTL = Duration.seconds(10)

    init(amqp: AMQPConnection, settings: Settings) {
        self.amqp = amqp
        self.settings = settings
    }

    func prepare(_ event: ReceivedEvent) async throws {
        let property = event.envelope.property
        guard !declared.withLock({ $0.contains(property) }) else { return }
        try await amqp.declare(DeskEvents.workQueues(property: property, settings.queues))
        declared.withLock { _ = $0.insert(property) }
    }

    func handle(_ event: ReceivedEvent, on connection: PostgresConnection) throws {
        guard let ticketID = event.envelope.ticketID else { throw PoisonMessage("\(event.envelope.type) without ticket_id") }
        let orders: [WorkOrderView]
        do {
            orders = try TicketStore.dispatch(ticket: ticketID, rules: try rules(for: event.envelope.property, on: connection),
                                              causedBy: event.envelope, on: connection)
        } catch DeskError.notFound(let what) {
            throw PoisonMessage("\(what): no such ticket in this database")
        }
        event.logger.debug("dispatched", metadata: [
            "work_orders": "\(orders.map { "\($0.queue.name):\($0.priority.rawValue)" }.joined(separator: ","))",
        ])
    }
}

extension DispatchHandler {
    func rules(for property: String, on connection: PostgresConnection) throws -> [RoutingRule] {
        if let cached = rules.withLock({ $0[property] }), ContinuousClock.now - cached.read < Self.rulesTTL {
            return cached.rules
        }
        let fresh = try TicketStore.routingRules(property: property, on: connection)
        rules.withLock { $0[property] = (fresh, .now) }
        return fresh
    }
}

@main
enum DispatchMain {
    static func main() async { await ServiceCommand<DispatchService>.main() }
}
