import ServiceKit

/// Dispatch — routes tickets to departments as work orders.
///
/// Foundation stage: the service connects, declares its queue `propdesk.dispatch`, consumes the
/// diagnostic `system.#` events, serves health and metrics, and shuts down cleanly.
enum DispatchService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "dispatch",
        summary: "Dispatch — routes tickets to departments as work orders.",
        defaultHTTPPort: 8081,
        bindings: DiagnosticsHandler.bindings,
        handler: DiagnosticsHandler())
}

@main
enum DispatchMain {
    static func main() async { await ServiceCommand<DispatchService>.main() }
}
