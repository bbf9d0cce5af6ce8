import Logging
import Messaging
import Postgres

/// What makes one PropDesk executable itself: its name, port, the events its queue receives and
/// the handler for them. Everything else (config, broker, database, outbox relay, health,
/// shutdown) is the same for every service and lives in ``ServiceRunner``.
public struct ServiceDefinition: Sendable {
    public let name: String
    public let summary: String
    public let defaultHTTPPort: Int
    /// Routing-key patterns bound to the service's queue on `propdesk.events`.
    public let bindings: [String]
    public let handler: any EventHandler

    public init(name: String, summary: String, defaultHTTPPort: Int, bindings: [String], handler: any EventHandler) {
        self.name = name
        self.summary = summary
        self.defaultHTTPPort = defaultHTTPPort
        self.bindings = bindings
        self.handler = handler
    }

    public var queue: String { PropDeskTopology.queueName(service: name) }
}

/// The five services, in the order the run script starts them.
public let propDeskServiceNames = ["intake", "dispatch", "escalation", "notification", "billing"]

/// `system.ping`: a diagnostic event every service consumes. It proves the whole path — outbox,
/// relay, exchange, the service's queue, its consumer and inbox — on a running deployment.
/// See `ServiceRunner.ping`.
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

import Foundation
