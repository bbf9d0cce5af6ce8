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
            IntakeAPI(postgres: context.postgres, reports: reports, auth: context.settings.auth, logger: context.logger).register(on: router)
        })
}

@main
enum IntakeMain {
    static func main() async { await ServiceCommand<IntakeService>.main() }
}
