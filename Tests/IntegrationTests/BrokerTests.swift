import AMQP
import Foundation
import Messaging
import Testing

extension RealServers {
    @Suite("Broker")
    struct BrokerTests {
        @Test func everyMessageReportedConfirmedIsConsumedAfterABrokerRestartMidway() async throws {
            let amqp = try await Servers.connect(name: "confirm-test")
            let routingKey = "test.confirms.r\(Servers.unique())"
            let queue = try await Servers.scratchQueue(amqp, routingKey: routingKey)
            let total = 10_000
            // One consumer, started before the restart, must keep receiving after it.
            let consumer = try await amqp.consume(queue: queue, prefetch: 500)
            let received = Recorder<String>()
            let reader = Task {
                for await delivery in consumer {
                    #expect(delivery.properties.persistent)
                    delivery.ack()
                    received.append(delivery.properties.messageID ?? "")
                }
            }
            var confirmed = Set<Int>()
            var notConfirmed = 0
            var restart: Task<Void, Error>?
            var pending = Array(0..<total)[...]
            let deadline = ContinuousClock.now + .seconds(180)
            while !pending.isEmpty, ContinuousClock.now < deadline {
                if restart == nil, confirmed.count >= 3_000 {
                    restart = Task { try await Servers.stack("restart-rabbitmq") }
                }
                // Fast until the restart starts, then paced (about 500/s) so publishing spans the outage.
                let batch = Array(pending.prefix(restart == nil ? 100 : 20))
                pending = pending.dropFirst(batch.count)
                if restart != nil { try await Task.sleep(for: .milliseconds(40)) }
                let results = await amqp.publish(batch.map {
                    AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: routingKey, body: Data("\($0)".utf8), messageID: "\($0)")
                })
                var failed: [Int] = []
                for (id, result) in zip(batch, results) {
                    switch result {
                    case .success: confirmed.insert(id)
                    case .failure(.notConnected), .failure(.notConfirmed):
                        notConfirmed += 1
                        failed.append(id)
                    case .failure(let error):
                        Issue.record("unexpected publish failure: \(error)")
                        failed.append(id)
                    }
                }
                if !failed.isEmpty {
                    // Not confirmed: publish it again later, as the outbox relay does.
                    pending.append(contentsOf: failed)
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            try await restart?.value
            #expect(restart != nil)
            let reconnected = ContinuousClock.now + .seconds(15)
            while !amqp.isConnected, ContinuousClock.now < reconnected { try await Task.sleep(for: .milliseconds(50)) }
            #expect(confirmed.count == total)
            #expect(notConfirmed > 0, "the restart should have left some publishes unconfirmed")
            #expect(amqp.generation >= 2, "the connection should have recovered")

            let expected = Set(confirmed.map(String.init))
            let collected = ContinuousClock.now + .seconds(60)
            while !expected.isSubset(of: Set(received.all)), ContinuousClock.now < collected {
                try await Task.sleep(for: .milliseconds(100))
            }
            let missing = expected.subtracting(received.all)
            #expect(missing.isEmpty, "confirmed but never consumed: \(missing.sorted().prefix(10))")
            await consumer.cancel()
            _ = await reader.result
            await amqp.close()
        }

        @Test func anUnroutableMandatoryMessageIsReportedAsReturned() async throws {
            let amqp = try await Servers.connect()
            let result = await amqp.publish([AMQPMessage(exchange: "amq.direct", routingKey: "nobody.listens.\(Servers.unique())", body: Data("x".utf8), messageID: "m1")])
            #expect(throws: AMQPError.returned(code: 312, text: "NO_ROUTE")) { try result[0].get() }
            // The connection is still usable afterwards.
            let queue = try await Servers.scratchQueue(amqp, routingKey: "test.after.r\(Servers.unique())")
            _ = queue
            #expect(amqp.isConnected)
            await amqp.close()
        }

        @Test func publishingToAMissingExchangeFailsThatPublishAndTheConnectionRecovers() async throws {
            let amqp = try await Servers.connect()
            let result = await amqp.publish([AMQPMessage(exchange: "no-such-exchange-\(Servers.unique())", routingKey: "x", body: Data())])
            guard case .failure(.notConfirmed(let reason)) = result[0] else {
                Issue.record("expected notConfirmed, got \(result[0])")
                return
            }
            #expect(reason.contains("404"))
            let deadline = ContinuousClock.now + .seconds(10)
            while !amqp.isConnected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(amqp.isConnected)
            let routingKey = "test.recovered.r\(Servers.unique())"
            let queue = try await Servers.scratchQueue(amqp, routingKey: routingKey)
            try await amqp.publish(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: routingKey, body: Data("ok".utf8)))
            let got = try await Servers.collect(amqp, queue: queue) { $0.count == 1 }
            #expect(got.map { String(decoding: $0.body, as: UTF8.self) } == ["ok"])
            await amqp.close()
        }

        @Test func aPublishTheBrokerNeverConfirmsFailsAfterTheReplyTimeoutAndTheConnectionRecovers() async throws {
            var config = try Servers.amqpConfiguration(name: "stall-test")
            config.replyTimeoutSeconds = 2
            let amqp = AMQPConnection(configuration: config, logger: Servers.logger)
            try await amqp.connect()
            let routingKey = "test.stall.r\(Servers.unique())"
            let queue = try await Servers.scratchQueue(amqp, routingKey: routingKey)
            let message = { (body: String) in
                AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: routingKey, body: Data(body.utf8), messageID: body)
            }
            // A memory alarm: the broker stops reading from publishing connections, so it confirms
            // nothing, while their heartbeats go on.
            try await Servers.stack("rabbitmqctl", "set_vm_memory_high_watermark", "0.0001")
            let started = ContinuousClock.now
            let answer = Recorder<[Result<Void, AMQPError>]>()
            let duringAlarm = message("during-alarm")
            let publishing = Task { [amqp] in answer.append(await amqp.publish([duringAlarm])) }
            let giveUp = started + .seconds(15)
            while answer.all.isEmpty, ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(50)) }
            let waited = started.duration(to: .now)
            try await Servers.stack("rabbitmqctl", "set_vm_memory_high_watermark", "0.4")
            guard let stalled = answer.all.first else {
                Issue.record("no answer after 15 s: the publish would wait for ever for a confirm that is not coming")
                await amqp.close()  // fails the waiting publish
                await publishing.value
                return
            }
            guard case .failure(.notConfirmed(let reason)) = stalled[0] else {
                Issue.record("expected notConfirmed, got \(stalled[0])")
                return
            }
            #expect(reason.contains("confirmed nothing for 2 s"))
            #expect(waited < .seconds(10), "it waited \(waited) for a confirm that was never coming")
            let deadline = ContinuousClock.now + .seconds(15)
            while !amqp.isConnected || amqp.generation < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(amqp.generation >= 2, "a new connection should have replaced the stalled one")
            try await amqp.publish(message("after-alarm"))
            // The stalled message may or may not have got through (not confirmed means unknown); the later one has.
            let got = try await Servers.collect(amqp, queue: queue) { $0.contains { $0.properties.messageID == "after-alarm" } }
            #expect(got.contains { $0.properties.messageID == "after-alarm" })
            await amqp.close()
        }

        @Test func aDeletedQueueNoLongerTakesItsRoutingKey() async throws {
            let amqp = try await Servers.connect()
            let routingKey = "test.deleted.r\(Servers.unique())"
            let queue = try await Servers.scratchQueue(amqp, routingKey: routingKey)
            // What no queue takes goes to propdesk.unrouted (fanout): watch it.
            let unrouted = try await Servers.scratchQueue(amqp, exchange: PropDeskTopology.unroutedExchange, routingKey: "")
            try await amqp.delete(queue: queue)
            try await amqp.publish(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: routingKey, body: Data("x".utf8),
                                               messageID: "after-delete"))
            let got = try await Servers.collect(amqp, queue: unrouted) { $0.contains { $0.properties.messageID == "after-delete" } }
            #expect(got.contains { $0.properties.messageID == "after-delete" })
            try await amqp.delete(queue: unrouted)
            await amqp.close()
        }

        @Test func rosterGapsWaitInTheirOwnBoundedQueueNotInTheUnroutedOne() async throws {
            let amqp = try await Servers.connect()
            let unrouted = try await Servers.scratchQueue(amqp, exchange: PropDeskTopology.unroutedExchange, routingKey: "")
            let id = Servers.unique()
            try await amqp.publish(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: "\(NotificationEvents.rosterGap).gap-\(id)",
                                               body: Data("{}".utf8), messageID: "gap-\(id)"))
            // Published after the gap and taken by nobody: once it is in the unrouted queue, the gap would be there before it.
            try await amqp.publish(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: "test.nobody.r\(id)",
                                               body: Data("{}".utf8), messageID: "nobody-\(id)"))
            let got = try await Servers.collect(amqp, queue: unrouted) { $0.contains { $0.properties.messageID == "nobody-\(id)" } }
            #expect(got.contains { $0.properties.messageID == "nobody-\(id)" })
            #expect(!got.contains { $0.properties.messageID == "gap-\(id)" })
            try await amqp.delete(queue: unrouted)
            // The real broker took the queue with its bound: the length, and dropping the oldest past it.
            let vhost = try Servers.amqpConfiguration(name: "t").vhost
            let queues = try await Servers.stack("rabbitmqctl", "list_queues", "-p", vhost, "--no-table-headers", "name", "arguments")
            let line = try #require(queues.split(separator: "\n").first { $0.hasPrefix(PropDeskTopology.rosterGapQueue + "\t") })
            #expect(line.contains("\"x-max-length\",\(PropDeskTopology.rosterGapQueueLength)"))
            #expect(line.contains("\"x-overflow\",<<\"drop-head\">>") || line.contains("\"x-overflow\",\"drop-head\""))
            await amqp.close()
        }

        @Test func aWrongBrokerAddressFailsAtStartNamingTheURL() async throws {
            var config = try Servers.amqpConfiguration()
            config.port = 1
            let amqp = AMQPConnection(configuration: config, logger: Servers.logger, initialAttempts: 2)
            await #expect { try await amqp.connect() } throws: { error in
                guard case AMQPError.connectFailed(let url, _) = error else { return false }
                return url.contains("127.0.0.1:1/") && !url.contains(":\(config.password)@")
            }
        }

        @Test func aWrongPasswordFailsAtStartWithALoginError() async throws {
            var config = try Servers.amqpConfiguration()
            config.password = "wrong"
            let amqp = AMQPConnection(configuration: config, logger: Servers.logger, initialAttempts: 1)
            await #expect { try await amqp.connect() } throws: { error in
                guard case AMQPError.connectFailed(_, let detail) = error else { return false }
                return detail.contains("login") || detail.contains("ACCESS_REFUSED")
            }
        }
    }
}
