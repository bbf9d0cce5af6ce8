import Console
import Postgres
import ServiceKit

/// Intake — the phone desk's HTTP API: tickets in, on the record. Every ticket and every step on
/// it is written with its timeline entry and its event in one transaction (outbox); see
/// ``IntakeAPI`` for the routes and `docs/openapi.yaml` for the contract.
enum IntakeService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "intake",
        summary: "Intake — the phone desk's HTTP API: tickets in, on the record.",
        defaultHTTPPort: 8080,
        bindings: DiagnosticsHandler.bindings,
        // Taking a call needs PostgreSQL only: the outbox holds its events through a broker restart.
        brokerRequiredForReady: false,
        handler: { _ in DiagnosticsHandler() },
        routes: { router, context in
            // Reports read on a connection of their own, read-only (a standby's, when configured).
            let reports = PostgresClient(configuration: context.settings.reportsDatabase, size: 2, logger: context.logger)
            let api = IntakeAPI(postgres: context.postgres, reports: reports, auth: context.settings.auth, quietHours: context.settings.quietHours,
                                logger: context.logger)
            api.register(on: router)
            if let console = ConsoleRuntime.shared {
                ConsoleRoutes(api: api, pages: console.pages, hub: console.hub, authenticator: Authenticator(postgres: context.postgres))
                    .register(on: router)
            }
        },
        // The console's live updates: this replica's own queue of every event a page shows.
        background: { context in
            guard let console = ConsoleRuntime.shared else { return [] }
            return [LiveFeed(amqp: context.amqp, postgres: context.postgres, hub: console.hub, instance: context.settings.instance,
                             logger: context.logger)]
        },
        // The console's templates and files ship with the executable: a start without them stops.
        validate: { _ in if ConsoleRuntime.shared == nil { throw ConfigurationError(problems: ["the console's templates and files: \(ConsoleRuntime.loadError)"]) } })
}

/// The console of this process: its pages, loaded once, and the hub its pages' streams share.
enum ConsoleRuntime {
    static let loaded = Result { try ConsolePages.bundled() }
    static let shared: (pages: ConsolePages, hub: LiveHub)? = (try? loaded.get()).map { pages in
        (pages, LiveHub { row, language in pages.boardRow(row, language) })
    }
    static var loadError: String {
        if case .failure(let error) = loaded { return "\(error)" }
        return "loaded"
    }
}

@main
enum IntakeMain {
    static func main() async { await ServiceCommand<IntakeService>.main() }
}
