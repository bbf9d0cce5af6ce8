import AMQP
import Foundation
import Messaging
import Postgres
import ServiceLifecycle
import Testing

/// Records each handled event as a row in `test_effects`, so tests can count effects.
struct RecordingHandler: EventHandler {
    let tag: String
    /// Event types this handler fails on with an ordinary error (not poison).
    var failOn: Set<String> = []
    var delay: Duration = .zero

    func handle(_ event: ReceivedEvent, on connection: PostgresConnection) throws {
        if failOn.contains(event.envelope.type) { throw SetupError("handler bug for \(event.envelope.type)") }
        if delay > .zero { Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds)) }
        try connection.execute("INSERT INTO test_effects (tag, message_id) VALUES ($1, $2)", [tag, event.envelope.id])
    }

    static func prepare(_ db: PostgresClient) async throws {
        try await db.execute("CREATE TABLE IF NOT EXISTS test_effects (tag text NOT NULL, message_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now())")
        // Which transaction wrote each effect, and in what order.
        try await db.execute("""
            ALTER TABLE test_effects ADD COLUMN IF NOT EXISTS tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
                                     ADD COLUMN IF NOT EXISTS seq bigserial
            """)
    }

    static func count(_ db: PostgresClient, tag: String) async throws -> (total: Int, distinct: Int) {
        let row = try await db.query("SELECT count(*), count(DISTINCT message_id) FROM test_effects WHERE tag = $1", [tag])[0]
        return (try row.decode(0), try row.decode(1))
    }
}

/// One test's own corner of the real servers: a migrated database with `test_effects`, a
/// connection, a unique tag, the routing key `test.<topic>.r<tag>` and a scratch queue bound to
/// it as `<key>.#` (or as `binding`), and a recorder for the outcomes of consumers made with ``consumer``.
struct Scenario {
    let db: PostgresClient
    let amqp: AMQPConnection
    let tag: String
    let key: String
    let queue: String
    let outcomes = Recorder<MessageConsumer.Outcome>()

    init(_ topic: String, binding: (String) -> String = { "\($0).#" }, deliveryLimit: Int? = nil) async throws {
        db = try await Servers.database()
        try await RecordingHandler.prepare(db)
        tag = Servers.unique()
        key = "test.\(topic).r\(tag)"
        amqp = try await Servers.connect()
        queue = try await Servers.scratchQueue(amqp, routingKey: binding(key), deliveryLimit: deliveryLimit)
    }

    /// Two event types under the scenario's key, one for a handler to fail on, and a scratch queue
    /// on the dead-letter exchange for the bad one.
    func badAndGood() async throws -> (bad: String, good: String, dead: String) {
        let bad = "\(key).bad"
        return (bad, "\(key).good", try await Servers.scratchQueue(amqp, exchange: PropDeskTopology.deadLetterExchange, routingKey: bad))
    }

    /// A consumer of the scenario's queue, named `<name>-<tag>`, recording into `outcomes`.
    func consumer(_ name: String, handler: RecordingHandler? = nil, prefetch: UInt16 = 50, batchSize: Int = 1,
                  on connection: AMQPConnection? = nil) -> MessageConsumer {
        let outcomes = self.outcomes
        return MessageConsumer(name: "\(name)-\(tag)", queue: queue, amqp: connection ?? amqp, postgres: db,
                               handler: handler ?? RecordingHandler(tag: tag), prefetch: prefetch, batchSize: batchSize,
                               logger: Servers.logger, outcomes: { outcomes.append($0) })
    }
}

func envelopeMessage(_ envelope: EventEnvelope, routingKey: String? = nil) -> AMQPMessage {
    AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: routingKey ?? envelope.type, body: envelope.encoded(),
                messageID: envelope.id.uuidString.lowercased(), type: envelope.type)
}

extension RealServers {
    @Suite("Consumers, inbox and dead letters")
    struct ConsumerTests {
        @Test func deliveriesAKilledConsumerHeldGoToAnotherAndTakeEffectOnce() async throws {
            let s = try await Scenario("redelivery")
            let events = (0..<20).map { _ in EventEnvelope(type: s.key, property: "test") }
            for result in await s.amqp.publish(events.map { envelopeMessage($0) }) { try result.get() }

            // Consumer A handles (commits) ten deliveries but dies before acking any of them.
            let a = try await Servers.connect(name: "consumer-a")
            let consumerA = s.consumer("redelivery", on: a)
            var handledByA = 0
            for await delivery in try await a.consume(queue: s.queue, prefetch: 20) {
                let envelope = try EventEnvelope.decode(delivery.body)
                #expect(try await consumerA.apply(envelope, routingKey: delivery.routingKey).get() == true)
                handledByA += 1
                if handledByA == 10 { break }
            }
            await a.close()  // unacked deliveries go back to the queue

            // Consumer B gets everything, including the ten A had handled, and applies each once.
            let b = try await Servers.connect(name: "consumer-b")
            let consumerB = s.consumer("redelivery", on: b)
            let run = Task { try await consumerB.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while s.outcomes.all.count < 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            run.cancel()
            #expect(s.outcomes.all.filter { $0 == .duplicate }.count == 10)
            #expect(s.outcomes.all.filter { $0 == .handled }.count == 10)
            let effects = try await RecordingHandler.count(s.db, tag: s.tag)
            #expect(effects.total == 20)
            #expect(effects.distinct == 20)
            await b.close()
            await s.amqp.close()
        }

        @Test func aMessageFailingPastTheDeliveryLimitIsDeadLetteredAndTheConsumerGoesOn() async throws {
            let s = try await Scenario("limit", binding: { "\($0).*" }, deliveryLimit: 2)
            let (bad, good, dead) = try await s.badAndGood()
            let poison = EventEnvelope(type: bad, property: "test")
            let fine = EventEnvelope(type: good, property: "test")
            for r in await s.amqp.publish([envelopeMessage(poison), envelopeMessage(fine)]) { try r.get() }

            let consumer = s.consumer("limit", handler: RecordingHandler(tag: s.tag, failOn: [bad]))
            let run = Task { try await consumer.run() }
            let parked = try await Servers.collect(s.amqp, queue: dead, timeout: .seconds(30)) { $0.count == 1 }
            run.cancel()
            #expect(parked.count == 1)
            #expect(parked.first?.properties.messageID == poison.id.uuidString.lowercased())
            let death = parked.first?.properties.headers["x-death"]?.arrayValue?.first?.tableValue
            #expect(death?["reason"] == .string("delivery_limit"))
            #expect(s.outcomes.all.contains(.handled), "the good message behind the poison one was handled")
            #expect(try await RecordingHandler.count(s.db, tag: s.tag).total == 1)
            #expect(s.outcomes.all.filter { if case .requeued = $0 { true } else { false } }.count >= 2)
            await s.amqp.close()
        }

        @Test func aMalformedEnvelopeIsDeadLetteredWithItsReasonAndNeverCrashesTheConsumer() async throws {
            let s = try await Scenario("malformed")
            let dead = try await Servers.scratchQueue(s.amqp, exchange: PropDeskTopology.deadLetterExchange, routingKey: s.key)
            let fine = EventEnvelope(type: s.key, property: "test")
            for r in await s.amqp.publish([
                AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: s.key, body: Data("{not json".utf8), messageID: "garbage-1"),
                AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: s.key,
                            body: Data(#"{"id":"6f1c1c52-9d9c-4f0e-9a43-3f7f3f0c2a11","type":"Bad Type"}"#.utf8), messageID: "garbage-2"),
                envelopeMessage(fine),
            ]) { try r.get() }
            let consumer = s.consumer("malformed")
            let run = Task { try await consumer.run() }
            let parked = try await Servers.collect(s.amqp, queue: dead, timeout: .seconds(20)) { $0.count == 2 }
            let deadline = ContinuousClock.now + .seconds(10)
            while s.outcomes.all.count < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            run.cancel()
            #expect(parked.map(\.properties.messageID) == ["garbage-1", "garbage-2"])
            let reasons = parked.compactMap { $0.properties.headers[PropDeskTopology.rejectionReasonHeader]?.stringValue }
            #expect(reasons.count == 2)
            #expect(reasons.first?.contains("malformed envelope") == true)
            #expect(parked.allSatisfy { $0.properties.headers[PropDeskTopology.rejectedByHeader] == .string("malformed-\(s.tag)") })
            #expect(s.outcomes.all.last == .handled, "the valid event after the garbage was handled")
            #expect(try await RecordingHandler.count(s.db, tag: s.tag).total == 1)
            await s.amqp.close()
        }

        @Test func aBacklogIsHandledInGroupCommitsInQueueOrderAndEachEventTakesEffectOnce() async throws {
            let s = try await Scenario("batch")
            let events = (0..<60).map { _ in EventEnvelope(type: s.key, property: "test") }
            let consumer = s.consumer("batch", batchSize: 20)
            // Ten were handled before (a redelivery), and five are published twice (a relay re-send).
            for e in events.prefix(10) { #expect(try await consumer.apply(e, routingKey: s.key).get() == true) }
            let published = events + events[20..<25]
            for r in await s.amqp.publish(published.map { envelopeMessage($0) }) { try r.get() }

            let run = Task { try await consumer.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while s.outcomes.all.count < published.count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            run.cancel()
            #expect(s.outcomes.all.filter { $0 == .handled }.count == 50, "\(s.outcomes.all)")
            #expect(s.outcomes.all.filter { $0 == .duplicate }.count == 15)
            let effects = try await RecordingHandler.count(s.db, tag: s.tag)
            #expect(effects.total == 60)
            #expect(effects.distinct == 60)
            let rows = try await s.db.query("SELECT message_id, tx::text FROM test_effects WHERE tag = $1 ORDER BY seq", [s.tag])
            #expect(try rows.map { try $0.decode(0, as: UUID.self) } == events.map(\.id), "one consumer keeps the queue's order")
            let transactions = Set(try rows.dropFirst(10).map { try $0.decode(1, as: String.self) }).count
            #expect(transactions < 50, "the queued-up deliveries shared transactions: \(transactions) for 50 events")
            await s.amqp.close()
        }

        @Test func aFailingEventInABatchIsRetriedAloneAndTheRestOfTheBatchTakesEffectOnce() async throws {
            let s = try await Scenario("batchfail", binding: { "\($0).*" }, deliveryLimit: 2)
            let (bad, good, dead) = try await s.badAndGood()
            var events = (0..<30).map { _ in EventEnvelope(type: good, property: "test") }
            let poison = EventEnvelope(type: bad, property: "test")
            events.insert(poison, at: 12)
            for r in await s.amqp.publish(events.map { envelopeMessage($0) }) { try r.get() }

            let consumer = s.consumer("batchfail", handler: RecordingHandler(tag: s.tag, failOn: [bad]), batchSize: 50)
            let run = Task { try await consumer.run() }
            let parked = try await Servers.collect(s.amqp, queue: dead, timeout: .seconds(30)) { $0.count == 1 }
            let deadline = ContinuousClock.now + .seconds(10)
            while s.outcomes.all.filter({ $0 == .handled }).count < 30, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            run.cancel()
            #expect(parked.first?.properties.messageID == poison.id.uuidString.lowercased())
            let effects = try await RecordingHandler.count(s.db, tag: s.tag)
            #expect(effects.total == 30, "every good event took effect once")
            #expect(effects.distinct == 30)
            #expect(s.outcomes.all.filter { $0 == .handled }.count == 30, "\(s.outcomes.all)")
            await s.amqp.close()
        }

        @Test func onGracefulShutdownAConsumerFinishesAndAcksWhatItHoldsThenStops() async throws {
            let s = try await Scenario("shutdown")
            for r in await s.amqp.publish((0..<40).map { _ in envelopeMessage(EventEnvelope(type: s.key, property: "test")) }) { try r.get() }

            let consumer = s.consumer("shutdown", handler: RecordingHandler(tag: s.tag, delay: .milliseconds(100)), prefetch: 5)
            let group = ServiceGroup(services: [consumer], logger: Servers.logger)
            let run = Task { try await group.run() }
            _ = try await eventually("the first delivery handled", poll: .milliseconds(10)) { s.outcomes.all.isEmpty ? nil : true }
            await group.triggerGracefulShutdown()
            try await run.value
            let handled = s.outcomes.all.count
            #expect(handled < 40, "it stopped taking deliveries")
            #expect(s.outcomes.all.allSatisfy { $0 == .handled })
            #expect(try await RecordingHandler.count(s.db, tag: s.tag).total == handled)
            await s.amqp.close()

            // Nothing it held is lost or left half-done: every message is either handled (and acked)
            // or still queued, never both. (One the broker had in flight when the consumer was
            // cancelled comes back marked redelivered: it was never handed to the handler.)
            let fresh = try await Servers.connect()
            let remaining = try await Servers.collect(fresh, queue: s.queue, idle: .seconds(1))
            #expect(remaining.count == 40 - handled)
            let handledIDs = Set(try await s.db.query("SELECT message_id FROM test_effects WHERE tag = $1", [s.tag]).map { try $0.decode(0, as: UUID.self) })
            let queuedIDs = Set(try remaining.map { try EventEnvelope.decode($0.body).id })
            #expect(handledIDs.isDisjoint(with: queuedIDs), "a handled message was not acked")
            #expect(handledIDs.count + queuedIDs.count == 40)
            await fresh.close()
        }
    }
}
