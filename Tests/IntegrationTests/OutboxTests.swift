import AMQP
import Foundation
import Messaging
import Postgres
import Testing

extension RealServers {
    @Suite("Transactional outbox")
    struct OutboxTests {
        @Test func aRolledBackTransactionPublishesNothingAndACommittedOnePublishesOnceDespiteARelayCrash() async throws {
            let db = try await Servers.database()
            try await RecordingHandler.prepare(db)
            let tag = Servers.unique()
            let key = "test.outbox.r\(tag)"
            let amqp = try await Servers.connect()
            let queue = try await Servers.scratchQueue(amqp, routingKey: key)
            let relay = OutboxRelay(postgres: db, amqp: amqp, logger: Servers.logger)
            _ = await relay.drain()  // anything earlier tests left

            let rolledBack = EventEnvelope(type: key, property: "test")
            let committed = EventEnvelope(type: key, property: "test")
            await #expect(throws: SetupError.self) {
                try await db.withTransaction { tx in
                    try Outbox.enqueue(rolledBack, on: tx)
                    throw SetupError("the business change failed")
                }
            }
            try await db.withTransaction { tx in try Outbox.enqueue(committed, on: tx) }

            // The relay publishes, then dies before marking the row published…
            await #expect(throws: SetupError.self) {
                _ = try await relay.relayBatch { throw SetupError("relay killed between publish and mark-sent") }
            }
            // …so the next relay run publishes it again and marks it.
            #expect(try await relay.relayBatch().published == 1)
            #expect(try await relay.relayBatch().published == 0)
            let row = try await db.query("SELECT published_at IS NOT NULL FROM outbox WHERE message_id = $1", [committed.id])
            #expect(try row.first?.decode(0, as: Bool.self) == true)
            #expect(try await db.query("SELECT 1 FROM outbox WHERE message_id = $1", [rolledBack.id]).isEmpty)

            // The queue got the committed event twice; the inbox makes it take effect once.
            let outcomes = Recorder<MessageConsumer.Outcome>()
            let consumer = MessageConsumer(name: "outbox-\(tag)", queue: queue, amqp: amqp, postgres: db,
                                           handler: RecordingHandler(tag: tag), logger: Servers.logger,
                                           outcomes: { outcomes.append($0) })
            let run = Task { try await consumer.run() }
            let deadline = ContinuousClock.now + .seconds(20)
            while outcomes.all.count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            try await Task.sleep(for: .milliseconds(500))  // room for anything that should not be there
            run.cancel()
            #expect(outcomes.all.sorted { "\($0)" < "\($1)" } == [.duplicate, .handled])
            let effects = try await db.query("SELECT message_id FROM test_effects WHERE tag = $1", [tag]).map { try $0.decode(0, as: UUID.self) }
            #expect(effects == [committed.id])
            await amqp.close()
        }

        @Test func theRelayIsWokenByNotifyAndPublishesWithinASecond() async throws {
            let db = try await Servers.database()
            let tag = Servers.unique()
            let key = "test.notify.r\(tag)"
            let amqp = try await Servers.connect()
            let queue = try await Servers.scratchQueue(amqp, routingKey: key)
            // A long sweep interval: only NOTIFY can make this fast.
            let relay = OutboxRelay(postgres: db, amqp: amqp, sweepInterval: .seconds(60), logger: Servers.logger)
            let run = Task { try await relay.run() }
            try await Task.sleep(for: .milliseconds(500))
            let event = EventEnvelope(type: key, property: "test")
            try await db.withTransaction { try Outbox.enqueue(event, on: $0) }
            let got = try await Servers.collect(amqp, queue: queue, timeout: .seconds(5)) { $0.count == 1 }
            run.cancel()
            #expect(got.first?.properties.messageID == event.id.uuidString.lowercased())
            let decoded = try EventEnvelope.decode(try #require(got.first).body)
            #expect(decoded == EventEnvelope(id: event.id, type: event.type, occurredAt: decoded.occurredAt, property: "test",
                                             correlationID: event.correlationID))
            #expect(abs(decoded.occurredAt.timeIntervalSince(event.occurredAt)) < 0.001)
            await amqp.close()
        }
    }
}
