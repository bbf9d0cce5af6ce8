import AMQP
import Console
import Desk
import Foundation
import Logging
import Messaging
import Postgres
import ServiceLifecycle

/// Feeds the console's live updates: this replica's own exclusive queue on `propdesk.events`
/// (every replica gets every event: it is a broadcast, not a share of the work), bound to the
/// events that change what a page shows. For each event it reads the ticket's board row once and
/// hands it to the ``LiveHub``, which checks each page's scope. The queue is transient: it
/// exists while this process is connected and is declared anew, empty, after a broker
/// recovery; pages that missed something then reload their view once (``LiveHub``).
final class LiveFeed: Service, Sendable {
    /// The events that change a board row, a ticket's page or a queue.
    static let bindings = ["ticket.#", "workorder.#", "escalation.#", "followup.#"]

    let amqp: AMQPConnection
    let postgres: PostgresClient
    let hub: LiveHub
    let queue: String
    let logger: Logger

    init(amqp: AMQPConnection, postgres: PostgresClient, hub: LiveHub, instance: String, logger: Logger) {
        self.amqp = amqp
        self.postgres = postgres
        self.hub = hub
        // Unique per process: two replicas with the same instance name must not share one.
        let safe = instance.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }
        queue = "propdesk.intake.live.\(String(safe).prefix(40)).\(hub.replica)"
        self.logger = logger
    }

    var topology: AMQPTopology {
        AMQPTopology(queues: [.transient(name: queue)],
                     bindings: Self.bindings.map { .init(queue: queue, exchange: PropDeskTopology.eventsExchange, routingKey: $0) })
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.amqp.declare(self.topology)
                    let consumer = try await self.amqp.consume(queue: self.queue, prefetch: 200)
                    self.logger.info("live updates on", metadata: ["queue": "\(self.queue)"])
                    await withTaskCancellationHandler {
                        for await delivery in consumer { await self.handle(delivery) }
                    } onCancel: {
                        Task { await consumer.cancel() }
                    }
                } catch {
                    self.logger.warning("live updates: cannot consume; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(2))
            }
        }
        hub.finishAll()
    }

    /// One event: its ticket's row, read now (so a page sees the ticket as it is, whatever order
    /// the events came in), to every page that may see it. Acknowledged either way: a live
    /// update that fails is caught up by the next one or by the page's reload.
    func handle(_ delivery: AMQPDelivery) async {
        defer { delivery.ack() }
        guard let envelope = try? EventEnvelope.decode(delivery.body), let ticket = envelope.ticketID else { return }
        do {
            let rows = try await postgres.withConnection { c in try TicketStore.board(BoardFilter(), within: nil, ids: [ticket], on: c) }
            hub.publish(rows)
        } catch {
            logger.warning("live update not read", metadata: ["error": "\(error)", "event_type": "\(envelope.type)"])
        }
    }
}
