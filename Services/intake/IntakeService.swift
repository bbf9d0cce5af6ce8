import ServiceKit

/// Intake — the phone desk's HTTP API: tickets in, on the record.
///
/// Foundation stage: the service connects, declares its queue `propdesk.intake`, consumes the
/// diagnostic `system.#` events, serves health and metrics, and shuts down cleanly.
enum IntakeService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "intake",
        summary: "Intake — the phone desk's HTTP API: tickets in, on the record.",
        defaultHTTPPort: 8080,
        bindings: DiagnosticsHandler.bindings,
        handler: DiagnosticsHandler())
}

@main
enum IntakeMain {
    static func main() async { await ServiceCommand<IntakeService>.main() }
}
