import AMQP
import Foundation
import Hummingbird
import Logging
import Messaging
import Postgres
import Schema
import ServiceLifecycle

/// Starts a service: config → database (checked, migrated) → broker (connected, topology
/// declared) → a service group of outbox relay, queue consumer and HTTP server, shut down in
/// reverse order on SIGTERM/SIGINT: the HTTP server stops, the consumer stops taking deliveries
/// and finishes what it holds, the relay publishes what is left, then the connections close.
public enum ServiceRunner {
    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func serve(_ definition: ServiceDefinition, environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        let settings = try Settings.load(service: definition.name, defaultHTTPPort: definition.defaultHTTPPort, environment: environment)
        try definition.validate(environment)
        let registry = Observability.bootstrap(logLevel: settings.logLevel)
        var logger = Logger(label: "propdesk.\(definition.name)")
        logger[metadataKey: "service"] = "\(definition.name)"
        logger[metadataKey: "instance"] = "\(settings.instance)"

        // This process runs its own relay, woken in process by its commits: no NOTIFY needed.
        let postgres = try await connectDatabase(settings, logger: logger, relayInProcess: true)
        if settings.migrateOnStart {
            try await Migrator.migrate(postgres, migrations: try Migration.bundled(), logger: logger)
        }
        let amqp = AMQPConnection(configuration: settings.amqp, logger: logger)
        do {
            try await amqp.connect()
        } catch {
            throw StartupError(description: "PROPDESK_AMQP_URL: \(error)")
        }
        try await amqp.declare(
            PropDeskTopology.shared(settings.queues)
                + PropDeskTopology.serviceQueue(definition.queue, bindings: definition.bindings, settings.queues))

        let readyLogger = logger
        let context = ServiceContext(settings: settings, postgres: postgres, amqp: amqp, logger: logger, environment: environment)
        let relay = OutboxRelay(postgres: postgres, amqp: amqp, batchSize: settings.outboxBatchSize, sweepsOthers: false, logger: logger)
        let handler: any EventHandler
        let background: [any Service]
        do {
            handler = try definition.makeHandler(context)
            background = try definition.background(context)
        } catch {
            await amqp.close()
            postgres.shutdown()
            throw StartupError(description: "\(definition.name) could not start: \(error)")
        }
        let consumer = MessageConsumer(name: definition.name, queue: definition.queue, amqp: amqp, postgres: postgres,
                                       handler: handler, prefetch: settings.prefetch,
                                       concurrency: min(definition.consumerConcurrency, settings.databasePoolSize),
                                       batchSize: definition.consumerBatchSize, logger: logger)
        let router = Router(context: PropDeskRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        HealthRoutes.add(to: router, service: definition.name, postgres: postgres, amqp: amqp, registry: registry,
                         brokerRequired: definition.brokerRequiredForReady)
        definition.routes(router, context)
        let http = Application(
            router: router,
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: "propdesk-\(definition.name)"),
            onServerRunning: { _ in
                readyLogger.notice("ready", metadata: [
                    "http": "\(settings.httpHost):\(settings.httpPort)", "queue": "\(definition.queue)",
                ])
            },
            logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: Retention(postgres: postgres, days: settings.retentionDays, logger: logger)),
                .init(service: relay),
                .init(service: consumer),
            ] + background.map { .init(service: $0) } + [
                .init(service: http),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(settings.shutdownGraceSeconds)
        let group = ServiceGroup(configuration: groupConfiguration)
        defer { postgres.shutdown() }
        do {
            try await group.run()
        } catch {
            await amqp.close()
            throw error
        }
        await amqp.close()
        logger.notice("stopped")
    }

    public static func migrate(service: String, environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        let logger = Logger(label: "propdesk.migrate")
        let postgres = try await databaseOnly(service: service, environment: environment, logger: logger)
        defer { postgres.shutdown() }
        let applied = try await Migrator.migrate(postgres, migrations: try Migration.bundled(), logger: logger)
        print(applied.isEmpty ? "schema is up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
    }

    /// Writes a `system.ping` event through the outbox and waits until every service's consumer
    /// has recorded it in its inbox. Prints who answered and how fast; throws if any did not.
    public static func ping(service: String, timeout: Duration, environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        let postgres = try await databaseOnly(service: service, environment: environment, logger: Logger(label: "propdesk.ping"))
        defer { postgres.shutdown() }
        let envelope = EventEnvelope(type: DiagnosticsHandler.pingType, property: "system",
                                     payload: .object(["from": .string(service)]))
        let sentAt = Date()
        try await postgres.withTransaction { try Outbox.enqueue(envelope, on: $0) }
        let deadline = ContinuousClock.now + timeout
        var answered: [String: Double] = [:]
        while ContinuousClock.now < deadline {
            for row in try await postgres.query("SELECT consumer, handled_at FROM inbox WHERE message_id = $1", [envelope.id]) {
                let handledAt: Date = try row.decode(1)
                answered[try row.decode(0)] = handledAt.timeIntervalSince(sentAt) * 1000
            }
            if propDeskServiceNames.allSatisfy({ answered[$0] != nil }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        print("ping \(envelope.id):")
        for name in propDeskServiceNames {
            print("  \(name.padding(toLength: 13, withPad: " ", startingAt: 0)) " + (answered[name].map { String(format: "handled after %.0f ms", $0) } ?? "NO ANSWER"))
        }
        let missing = propDeskServiceNames.filter { answered[$0] == nil }
        if !missing.isEmpty { throw StartupError(description: "no answer from \(missing.joined(separator: ", ")) within \(timeout)") }
    }

    /// Settings, logging and a checked database client for commands that need no broker.
    /// The database alone, for a command that needs nothing else (`migrate`, `ping`, `billing verify`).
    public static func databaseOnly(service: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                                    logger: Logger) async throws -> PostgresClient {
        let settings = try Settings.load(service: service, defaultHTTPPort: 1, environment: environment, needsBroker: false)
        _ = Observability.bootstrap(logLevel: settings.logLevel)
        return try await connectDatabase(settings, logger: logger)
    }

    /// `relayInProcess`: an ``OutboxRelay`` on this client publishes what it commits, so its
    /// sessions skip the outbox NOTIFY (migration 0004).
    static func connectDatabase(_ settings: Settings, logger: Logger, relayInProcess: Bool = false) async throws -> PostgresClient {
        var configuration = settings.database
        if relayInProcess { configuration.sessionSettings["propdesk.outbox_notify"] = "off" }
        let postgres = PostgresClient(configuration: configuration, size: settings.databasePoolSize, logger: logger)
        do {
            try await postgres.checkConnection()
        } catch {
            postgres.shutdown()
            throw StartupError(description: "PROPDESK_DATABASE_URL: \(error)")
        }
        return postgres
    }
}
