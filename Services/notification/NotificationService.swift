import ServiceKit

/// Notification — tells staff and residents, once, on their channel.
///
/// Foundation stage: the service connects, declares its queue `propdesk.notification`, consumes the
/// diagnostic `system.#` events, serves health and metrics, and shuts down cleanly.
enum NotificationService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "notification",
        summary: "Notification — tells staff and residents, once, on their channel.",
        defaultHTTPPort: 8083,
        bindings: DiagnosticsHandler.bindings,
        handler: { _ in DiagnosticsHandler() })
}

@main
enum NotificationMain {
    static func main() async { await ServiceCommand<NotificationService>.main() }
}
