import Notify
import ServiceKit

/// Notification — tells staff and residents, once, on their channel.
///
/// Consumes the desk's, escalation's and billing's events (``NotificationPlan/bindings``), turns
/// each into deliveries for the people on duty and the caller (``NotificationHandler``), and sends
/// them with retries, fallbacks, quiet hours and rate limits (``DeliveryEngine``).
enum NotificationService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "notification",
        summary: "Notification — tells staff and residents, once, on their channel.",
        defaultHTTPPort: 8083,
        bindings: DiagnosticsHandler.bindings + NotificationPlan.bindings,
        // Events that queue up are handled in batches of up to 50, a transaction each (group commit).
        consumerConcurrency: 4, consumerBatchSize: 50,
        handler: { context in
            let handler = NotificationHandler(templates: try MessageTemplates.bundled(),
                                              quietHours: context.settings.quietHours)
            return EventRouter([("system.", DiagnosticsHandler())]
                + ["ticket.", "workorder.", "escalation.", "followup.", "billing.", "report."].map { ($0, handler) })
        },
        routes: { router, context in
            SMSReceipts(postgres: context.postgres, key: (try? NotifySettings.load(context.environment))?.smsReceiptKey,
                        logger: context.logger).register(on: router)
        },
        background: { context in
            let settings = try NotifySettings.load(context.environment)
            return [DeliveryEngine(postgres: context.postgres,
                                   channels: try Channels(settings: settings, postgres: context.postgres, logger: context.logger),
                                   settings: settings, logger: context.logger)]
        },
        validate: { environment in
            _ = try NotifySettings.load(environment)
            _ = try MessageTemplates.bundled()
        })
}

@main
enum NotificationMain {
    static func main() async { await ServiceCommand<NotificationService>.main() }
}
