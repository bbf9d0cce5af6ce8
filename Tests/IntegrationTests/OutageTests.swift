import AMQP
import Domain
import Messaging
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

extension RealServers {
    @Suite("Outages: the desk says what is wrong, keeps what it can, and loses nothing")
    struct OutageTests {
        @Test func withThePostgreSQLServerDownTheDeskGetsA503ItCanRetryAndEachFailureIsLogged() async throws {
            try await DeskScenario.run { s async throws in
                _ = try await s.token(StaffRole.operator_.rawValue)   // signed in while the database is up
                try await Servers.stack("stop-postgres")
                do {
                    let reply = try await s.file(["kind": "inquiry", "content": "停车费多少"])
                    #expect(reply.status == 503, "\(String(decoding: reply.data, as: UTF8.self))")
                    #expect(reply.code == "database_unavailable")
                    #expect(!(reply.json["message"] as? String ?? "").isEmpty)
                    #expect(Int(reply.headers["retry-after"] ?? "") ?? 0 > 0)
                    let read = try await s.request("GET", "/tickets?property=\(s.property)")
                    #expect(read.status == 503 && read.code == "database_unavailable")
                    try await eventually("the failure in intake's log") { s.intake.output.contains("database unavailable") }
                    let line = try #require(s.intake.output.split(separator: "\n").first { $0.contains("database unavailable") })
                    #expect(line.contains("hb.request.id") && line.contains("/tickets"), "\(line)")
                } catch {
                    try await Servers.stack("start-postgres")
                    throw error
                }
                try await Servers.stack("start-postgres")
                // Back again: the same call goes through.
                let again = try await eventually("a ticket filed once the database is back", timeout: .seconds(30)) { () -> Int? in
                    let reply = try await s.file(["kind": "inquiry", "content": "停车费多少"])
                    return reply.status == 201 ? reply.status : nil
                }
                #expect(again == 201)
            }
        }

        @Test func theDeskTakesCallsWhileTheBrokerIsDownAndTheWorkReachesTheDepartmentWhenItIsBack() async throws {
            try await DeskScenario.run { s async throws in
                try await Servers.stack("stop-rabbitmq")
                var ticket: String?
                do {
                    // Ready means "can take calls": the database answers; the broker is reported, not required.
                    let ready = try await eventually("intake's readiness to show the broker gone") { () -> [String: Any]? in
                        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(DeskScenario.intakePort)/health/ready")!)
                        let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
                        return (body["broker"] as? String) != "ok" ? body.merging(["http": (response as? HTTPURLResponse)?.statusCode ?? 0]) { a, _ in a } : nil
                    }
                    #expect(ready["http"] as? Int == 200, "\(ready)")
                    #expect(ready["takes_calls"] as? Bool == true, "\(ready)")
                    let reply = try await s.file(["kind": "repair", "category": "plumbing", "content": "厨房水管漏水"])
                    #expect(reply.status == 201, "\(String(decoding: reply.data, as: UTF8.self))")
                    ticket = reply.json["id"] as? String
                } catch {
                    try await Servers.stack("start-rabbitmq")
                    throw error
                }
                try await Servers.stack("start-rabbitmq")
                // Intake's relay and dispatch reconnect with their back-off; the order arrives when they have.
                try await eventually("the test's own broker connection back", timeout: .seconds(60)) { s.amqp.isConnected }
                let arrived = try await Servers.collect(s.amqp, queue: DeskEvents.workQueueName(.department(.engineering), property: s.property),
                                                        idle: .seconds(45), timeout: .seconds(60), until: { $0.count >= 1 })
                let orders = try arrived.map { try EventEnvelope.decode($0.body).decodePayload(WorkOrderEventPayload.self) }
                #expect(orders.map { $0.ticketID.uuidString.lowercased() } == [try #require(ticket).lowercased()])
            }
        }
    }
}
