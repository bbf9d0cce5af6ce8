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
            let deadline = ContinuousClock.now + .seconds(20)
            while s.outcomes.all.count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            try await Task.sleep(for: .milliseconds(500))  // room for anything that should not be there
            run.cancel()
            #expect(s.outcomes.all.sorted { "\($0)" < "\($1)" } == [.duplicate, .handled])
            let effects = try await s.db.query("SELECT message_id FROM test_effects WHERE tag = $1", [s.tag]).map { try $0.decode(0, as: UUID.self) }
            #expect(effects == [committed.id])
            await s.amqp.close()
        }

        @Test func theRelayIsWokenByNotifyAndPublishesWithinASecond() async throws {
            let s = try await Scenario("notify")
            // A long sweep interval: only NOTIFY can make this fast.
            let relay = OutboxRelay(postgres: s.db, amqp: s.amqp, sweepInterval: .seconds(60), logger: Servers.logger)
            let run = Task { try await relay.run() }
            try await Task.sleep(for: .milliseconds(500))
            let event = EventEnvelope(type: s.key, property: "test")
            try await s.db.withTransaction { try Outbox.enqueue(event, on: $0) }
            let got = try await Servers.collect(s.amqp, queue: s.queue, timeout: .seconds(5)) { $0.count == 1 }
            run.cancel()
            #expect(got.first?.properties.messageID == event.id.uuidString.lowercased())
            let decoded = try EventEnvelope.decode(try #require(got.first).body)
            #expect(decoded == EventEnvelope(id: event.id, type: event.type, occurredAt: decoded.occurredAt, property: "test",
                                             correlationID: event.correlationID))
            #expect(abs(decoded.occurredAt.timeIntervalSince(event.occurredAt)) < 0.001)
            await s.amqp.close()
        }
    }
}
