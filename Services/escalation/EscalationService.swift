import Console
import Contracts
import Desk
import ServiceKit

/// Escalation — every deadline in STANDARDS.md as a durable timer: consumes ticket and work-order
/// events to start and stop clocks (``ClockHandler``), and fires due deadlines on time
/// (``TimerEngine``), publishing `escalation.<standard>.breached` and `followup.<kind>.due`.
enum EscalationService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "escalation",
        summary: "Escalation — every deadline as a durable timer; escalates what is late.",
        defaultHTTPPort: 8082,
        bindings: DiagnosticsHandler.bindings + ["ticket.#", "workorder.*.assigned.#"] + BillingEvents.clockBindings,
        // One at a time: a ticket's events start and stop its clocks in the order they happened.
        consumerConcurrency: 1,
        handler: { _ in
            let policies = Policies()
            let clocks = ClockHandler(policies: policies)
            return EventRouter([("system.", DiagnosticsHandler()), ("ticket.", clocks), ("workorder.", clocks),
                                ("billing.", MoneyClockHandler(policies: policies))])
        },
        routes: { router, context in Replan.routes(router, postgres: context.postgres) },
        background: { context in
            [TimerEngine(postgres: context.postgres, reports: ScheduledReports(pages: try ConsolePages.bundled(), logger: context.logger),
                         logger: context.logger)]
        })
}

@main
enum EscalationMain {
    static func main() async { await ServiceCommand<EscalationService>.main() }
}
