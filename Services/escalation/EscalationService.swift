import ServiceKit

/// Escalation — every deadline as a durable timer; escalates what is late.
///
/// Foundation stage: the service connects, declares its queue `propdesk.escalation`, consumes the
/// diagnostic `system.#` events, serves health and metrics, and shuts down cleanly.
enum EscalationService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "escalation",
        summary: "Escalation — every deadline as a durable timer; escalates what is late.",
        defaultHTTPPort: 8082,
        bindings: DiagnosticsHandler.bindings,
        handler: { _ in DiagnosticsHandler() })
}

@main
enum EscalationMain {
    static func main() async { await ServiceCommand<EscalationService>.main() }
}
