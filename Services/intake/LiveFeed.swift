import AMQP
import Console
import Desk
import Foundation
import Logging
import Messaging
import Postgres
import ServiceLifecycle
import Synchronization

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
                    let consumer = try await self.amqp.consume(queue: self.queue, prefetch: Self.prefetch)
                    self.logger.info("live updates on", metadata: ["queue": "\(self.queue)"])
                    await withTaskCancellationHandler {
                        await self.feed(consumer)
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

    /// Deliveries taken at once, at most.
    static let prefetch: UInt16 = 500

    /// Reads what has arrived while the last batch was read, as one batch: each ticket once, in
    /// one query, however many of its events came in meanwhile. Under a burst the pages get fewer,
    /// newer updates instead of falling behind one query per event.
    func feed(_ consumer: AMQPConsumer) async {
        let waiting = Waiting()
        let (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await delivery in consumer {
                    waiting.add(delivery)
                    signal.yield()
                }
                signal.finish()
            }
            for await _ in signals {
                let batch = waiting.takeAll()
                if !batch.isEmpty { await handle(batch) }
            }
        }
    }

    /// One batch: its tickets' rows, read now (so a page sees each ticket as it is, whatever
    /// order its events came in), to every page that may see them. Acknowledged either way: a
    /// live update that fails is caught up by the next one or by the page's reload.
    func handle(_ batch: [AMQPDelivery]) async {
        defer { for delivery in batch { delivery.ack() } }
        // No page is connected to this replica: nothing to read (a page drawn meanwhile reloads).
        guard hub.hasSubscribers else {
            hub.skip()
            return
        }
        var tickets: [UUID] = []
        var seen: Set<UUID> = []
        for delivery in batch {
            guard let envelope = try? EventEnvelope.decode(delivery.body), let ticket = envelope.ticketID else { continue }
            if seen.insert(ticket).inserted { tickets.append(ticket) }
        }
        guard !tickets.isEmpty else { return }
        do {
            let chosen = tickets
            let rows = try await postgres.withConnection { c in try TicketStore.board(BoardFilter(), within: nil, ids: chosen, on: c) }
            hub.publish(rows)
        } catch {
            logger.warning("live updates not read", metadata: ["error": "\(error)", "tickets": "\(tickets.count)"])
        }
    }

    /// Deliveries that arrived while a batch was being read.
    final class Waiting: Sendable {
        private let deliveries = Mutex<[AMQPDelivery]>([])
        func add(_ delivery: AMQPDelivery) { deliveries.withLock { $0.append(delivery) } }
        func takeAll() -> [AMQPDelivery] {
            deliveries.withLock { pending in
                defer { pending = [] }
                return pending
            }
        }
    }
}
