import AMQP
import Foundation
import Hummingbird
import Logging
import Messaging
import Postgres
import ServiceLifecycle

/// What a running service is given to build its handler and routes with.
public struct ServiceContext: Sendable {
    public let settings: Settings
    public let postgres: PostgresClient
    public let amqp: AMQPConnection
    public let logger: Logger
    /// The process environment the settings came from, for a service's own settings.
    public let environment: [String: String]
}

/// What makes one PropDesk executable itself: its name, port, the events its queue receives, the
/// handler for them and any HTTP routes of its own. Everything else (config, broker, database,
/// outbox relay, health, shutdown) is the same for every service and lives in ``ServiceRunner``.
public struct ServiceDefinition: Sendable {
    public let name: String
    public let summary: String
    public let defaultHTTPPort: Int
    /// Routing-key patterns bound to the service's queue on `propdesk.events`.
    public let bindings: [String]
    /// Consumer transactions at once; 1 keeps the queue's order. Capped by the database pool
    /// size.
    public let consumerConcurrency: Int
    /// The most deliveries one consumer transaction handles when they queue up (group commit,
    /// see ``MessageConsumer``); 1: a transaction per delivery.
    public let consumerBatchSize: Int
    /// The handler; an error here (a template or setting it could not load) stops the start with
    /// that error, like a bad setting.
    public let makeHandler: @Sendable (ServiceContext) throws -> any EventHandler
    public let routes: @Sendable (Router<PropDeskRequestContext>, ServiceContext) -> Void
    /// Long-running work of the service's own besides consuming (escalation's timer engine),
    /// started after the consumer and stopped before it.
    public let background: @Sendable (ServiceContext) throws -> [any Service]
    /// Checks the service's own settings and files before anything connects: a problem stops the
    /// start with a clear error (``ConfigurationError``), so the closures above may rely on them.
    public let validate: @Sendable ([String: String]) throws -> Void
    /// Whether `/health/ready` needs the broker. False for a service whose work is writes that
    /// wait in the outbox (the desk takes calls while the broker restarts); default true.
    public let brokerRequiredForReady: Bool

    public init(name: String, summary: String, defaultHTTPPort: Int, bindings: [String], consumerConcurrency: Int = 1, consumerBatchSize: Int = 1,
                brokerRequiredForReady: Bool = true,
                handler makeHandler: @escaping @Sendable (ServiceContext) throws -> any EventHandler,
                routes: @escaping @Sendable (Router<PropDeskRequestContext>, ServiceContext) -> Void = { _, _ in },
                background: @escaping @Sendable (ServiceContext) throws -> [any Service] = { _ in [] },
                validate: @escaping @Sendable ([String: String]) throws -> Void = { _ in }) {
        self.name = name
        self.summary = summary
        self.defaultHTTPPort = defaultHTTPPort
        self.bindings = bindings
        self.consumerConcurrency = consumerConcurrency
        self.consumerBatchSize = consumerBatchSize
        self.makeHandler = makeHandler
        self.routes = routes
        self.background = background
        self.validate = validate
        self.brokerRequiredForReady = brokerRequiredForReady
    }

    public var queue: String { PropDeskTopology.queueName(service: name) }
}

/// The five services, in the order the run script starts them.
public let propDeskServiceNames = ["intake", "dispatch", "escalation", "notification", "billing"]

/// `system.ping`: a diagnostic event every service consumes. It proves the whole path — outbox,
/// relay, exchange, the service's queue, its consumer and inbox — on a running deployment.
/// See `ServiceRunner.ping`. A service with handlers of its own puts this one first in an
/// ``EventRouter``.
public struct DiagnosticsHandler: EventHandler {
    public static let pingType = "system.ping"
    public static let bindings = ["system.#"]

    public init() {}

    public func handle(_ event: ReceivedEvent, on connection: PostgresConnection) throws {
        guard event.envelope.type == Self.pingType else {
            throw PoisonMessage("no handler for event type \(event.envelope.type)")
        }
        let latency = Date().timeIntervalSince(event.envelope.occurredAt)
        event.logger.info("ping received", metadata: ["latency_ms": "\(Int(latency * 1000))"])
    }
}

/// Hands each event to the handler registered for the first dotted prefix of its type that
/// matches (`system.` → diagnostics, `ticket.` → the service's own). An event no handler claims is
/// poison: the queue's bindings and this table disagree.
public struct EventRouter: EventHandler {
    let routes: [(prefix: String, handler: any EventHandler)]

    public init(_ routes: [(prefix: String, handler: any EventHandler)]) {
        self.routes = routes
    }

    func handler(for type: String) throws -> any EventHandler {
        guard let route = routes.first(where: { type.hasPrefix($0.prefix) }) else {
            throw PoisonMessage("no handler for event type \(type)")
        }
        return route.handler
    }

    public func prepare(_ event: ReceivedEvent) async throws {
        try await handler(for: event.envelope.type).prepare(event)
    }

    public func handle(_ event: ReceivedEvent, on connection: PostgresConnection) throws {
        try handler(for: event.envelope.type).handle(event, on: connection)
    }
}
