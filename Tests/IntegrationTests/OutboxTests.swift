import AMQP
import Foundation
import Messaging
import Postgres
import Testing

extension RealServers {
    @Suite("Transactional outbox")
    struct OutboxTests {
        @Test func retentionDeletesOldPublishedEventsAndOldInboxRowsAndKeepsEverythingElse() async throws {
            let db = try await Servers.database()
            defer { db.shutdown() }
            let oldPublished = UUID(), oldUnpublished = UUID(), freshPublished = UUID(), oldHandled = UUID(), freshHandled = UUID()
            for (id, published) in [(oldPublished, "now() - interval '8 days'"), (oldUnpublished, "NULL"), (freshPublished, "now()")] {
                try await db.execute("""
                    INSERT INTO outbox (message_id, exchange, routing_key, envelope, created_at, published_at)
                    VALUES ($1, 'propdesk.events', 'retention.test', '{}', now() - interval '9 days', \(published))
                    """, [id])
            }
            for (id, age) in [(oldHandled, "8 days"), (freshHandled, "1 hour")] {
                try await db.execute("INSERT INTO inbox (consumer, message_id, handled_at) VALUES ('retention-test', $1, now() - $2::interval)",
                                     [id, age])
            }
            try await Retention(postgres: db, days: 7, logger: Servers.logger).once()
            let outbox = try await db.query("SELECT message_id FROM outbox WHERE routing_key = 'retention.test' AND message_id = ANY($1::uuid[])",
                                            [PostgresArray([oldPublished, oldUnpublished, freshPublished])]).map { try $0.decode(0, as: UUID.self) }
            #expect(Set(outbox) == [oldUnpublished, freshPublished], "an unpublished event is never deleted, however old")
            let inbox = try await db.query("SELECT message_id FROM inbox WHERE consumer = 'retention-test' AND message_id = ANY($1::uuid[])",
                                           [PostgresArray([oldHandled, freshHandled])]).map { try $0.decode(0, as: UUID.self) }
            #expect(inbox == [freshHandled])
            try await db.execute("DELETE FROM outbox WHERE message_id = $1", [oldUnpublished])
        }

        @Test func aRolledBackTransactionPublishesNothingAndACommittedOnePublishesOnceDespiteARelayCrash() async throws {
            let s = try await Scenario("outbox")
            let relay = OutboxRelay(postgres: s.db, amqp: s.amqp, logger: Servers.logger)
            _ = await relay.drain()  // anything earlier tests left

            let rolledBack = EventEnvelope(type: s.key, property: "test")
            let committed = EventEnvelope(type: s.key, property: "test")
            await #expect(throws: SetupError.self) {
                try await s.db.withTransaction { tx in
                    try Outbox.enqueue(rolledBack, on: tx)
                    throw SetupError("the business change failed")
                }
            }
            try await s.db.withTransaction { tx in try Outbox.enqueue(committed, on: tx) }

            // The relay publishes, then dies before marking the row published…
            await #expect(throws: SetupError.self) {
                _ = try await relay.relayBatch { throw SetupError("relay killed between publish and mark-sent") }
            }
            // …so the next relay run publishes it again and marks it.
            #expect(try await relay.relayBatch().published == 1)
            #expect(try await relay.relayBatch().published == 0)
            let row = try await s.db.query("SELECT published_at IS NOT NULL FROM outbox WHERE message_id = $1", [committed.id])
            #expect(try row.first?.decode(0, as: Bool.self) == true)
            #expect(try await s.db.query("SELECT 1 FROM outbox WHERE message_id = $1", [rolledBack.id]).isEmpty)

            // The queue got the committed event twice; the inbox makes it take effect once.
            let consumer = s.consumer("outbox")
            let run = Task { try await consumer.run() }
            // Positive signals: the first delivery handled, the second recognised as a duplicate.
            try await eventually("the redelivery recognised as a duplicate") { s.outcomes.all.count >= 2 }
            run.cancel()
            #expect(s.outcomes.all.sorted { "\($0)" < "\($1)" } == [.duplicate, .handled])
            let effects = try await s.db.query("SELECT message_id FROM test_effects WHERE tag = $1", [s.tag]).map { try $0.decode(0, as: UUID.self) }
            #expect(effects == [committed.id])
            await s.amqp.close()
        }

        @Test func aServiceCommitWakesItsOwnRelayWithoutANotifyAndAnotherProcessWakesItByNotify() async throws {
            let s = try await Scenario("wake")
            // The service's side: its sessions send no NOTIFY; its relay runs on the same client.
            var config = try Servers.postgresConfiguration()
            config.applicationName = "propdesk-test-\(s.tag)"
            config.sessionSettings["propdesk.outbox_notify"] = "off"
            let service = PostgresClient(configuration: config, size: 2, logger: Servers.logger)
            // Somebody else writing in the service's name (a script, another replica mid-upgrade).
            var elsewhere = config
            elsewhere.sessionSettings = [:]
            let other = PostgresClient(configuration: elsewhere, size: 1, logger: Servers.logger)
            let listener = PostgresListener(configuration: config, channels: [Outbox.channel], logger: Servers.logger)
            defer {
                listener.stop()
                service.shutdown()
                other.shutdown()
            }
            // NOTIFYs in this service's name; other tests' writers use other names.
            let heard = Recorder<PostgresNotification>()
            let connected = Recorder<Bool>()
            let listening = Task {
                for await event in listener.events {
                    switch event {
                    case .connected: connected.append(true)
                    case .notification(let n) where n.payload == config.applicationName: heard.append(n)
                    case .notification: continue
                    }
                }
            }
            defer { listening.cancel() }
            try await eventually("the listener connected") { !connected.all.isEmpty }
            // A long sweep interval: only a wake-up can make this fast.
            let relay = OutboxRelay(postgres: service, amqp: s.amqp, sweepInterval: .seconds(60), logger: Servers.logger)
            let run = Task { try await relay.run() }
            defer { run.cancel() }
            // The relay is past its first sweep once a warm-up event has come through; after
            // that only a wake-up can publish within seconds.
            try await service.withTransaction { try Outbox.enqueue(EventEnvelope(type: s.key, property: "test"), on: $0) }
            _ = try await eventually("the relay's first sweep") {
                try await Servers.collect(s.amqp, queue: s.queue, idle: .seconds(1), timeout: .seconds(5)) { $0.count == 1 }.first
            }

            let own = EventEnvelope(type: s.key, property: "test")
            try await service.withTransaction { try Outbox.enqueue(own, on: $0) }
            let first = try await Servers.collect(s.amqp, queue: s.queue, timeout: .seconds(5)) { $0.count == 1 }
            #expect(first.first?.properties.messageID == own.id.uuidString.lowercased())
            let decoded = try EventEnvelope.decode(try #require(first.first).body)
            #expect(decoded == EventEnvelope(id: own.id, type: own.type, occurredAt: decoded.occurredAt, property: "test",
                                             correlationID: own.correlationID))
            #expect(abs(decoded.occurredAt.timeIntervalSince(own.occurredAt)) < 0.001)

            let foreign = EventEnvelope(type: s.key, property: "test")
            try await other.withTransaction { try Outbox.enqueue(foreign, on: $0) }
            let second = try await Servers.collect(s.amqp, queue: s.queue, timeout: .seconds(5)) { $0.count == 1 }
            #expect(second.first?.properties.messageID == foreign.id.uuidString.lowercased())
            // The only NOTIFY in this service's name came from the other process's commit: NOTIFYs
            // arrive in commit order, so one from the service's own earlier commits would be first.
            try await eventually("the other process's NOTIFY") { !heard.all.isEmpty }
            #expect(heard.all.count == 1)
            await s.amqp.close()
        }
    }
}
