import ServiceKit

/// Billing — paid services: quotes, charges, approvals, receipts.
///
/// Foundation stage: the service connects, declares its queue `propdesk.billing`, consumes the
/// diagnostic `system.#` events, serves health and metrics, and shuts down cleanly.
enum BillingService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "billing",
        summary: "Billing — paid services: quotes, charges, approvals, receipts.",
        defaultHTTPPort: 8084,
        bindings: DiagnosticsHandler.bindings,
        handler: { _ in DiagnosticsHandler() })
}

@main
enum BillingMain {
    static func main() async { await ServiceCommand<BillingService>.main() }
}
