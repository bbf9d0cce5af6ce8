import AMQP
import ContractSupport
import DepartmentWorker
import Desk
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Messaging
import Postgres
import Testing

/// The real intake and dispatch executables on the test stack, and a property of the test's own
/// (so its department queues and tickets are nobody else's).
struct DeskScenario: ServerScenario {
    static let intakePort = 28_180
    let intake: Subprocess
    let dispatch: Subprocess
    let db: PostgresClient
    let amqp: AMQPConnection
    let property: String
    /// Every `workorder.*.assigned` event of the property, wherever it was routed.
    let assigned: String
    let tokens = TokenCache()

    init() async throws { try await self.init(intake: [:]) }

    /// `intake`: more of intake's settings (a browser test's quiet hours).
    init(intake settings: [String: String]) async throws {
        db = try await Servers.database()
        property = try await Servers.newProperty(db, prefix: "t")
        amqp = try await Servers.connect()
        try await amqp.declare(PropDeskTopology.shared(.standard) + DeskEvents.workQueues(property: property, .standard))
        assigned = try await Servers.scratchQueue(amqp, routingKey: "workorder.*.assigned.\(property)")
        let env = RealServers.ServiceProcessTests.self
        intake = try Subprocess(try env.binary("intake"), ["serve"], environment: env.environment(service: "intake",
                                                                                            settings.merging(["PROPDESK_HTTP_PORT": "\(Self.intakePort)"]) { $1 }))
        dispatch = try Subprocess(try env.binary("dispatch"), ["serve"], environment: env.environment(service: "dispatch", ["PROPDESK_HTTP_PORT": "\(Self.intakePort + 1)"]))
        guard try await env.waitReady(port: Self.intakePort), try await env.waitReady(port: Self.intakePort + 1) else {
            throw SetupError("intake or dispatch did not become ready:\n\(intake.output)\n\(dispatch.output)")
        }
    }

    func stop() async throws {
        intake.signal(SIGTERM)
        dispatch.signal(SIGTERM)
        _ = try await intake.wait(timeout: .seconds(15))
        _ = try await dispatch.wait(timeout: .seconds(15))
        await amqp.close()
        db.shutdown()
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let json: [String: Any]
        let data: Data
        var code: String? { json["code"] as? String }
    }

    /// Not a header PropDesk reads: which of the scenario's accounts the request is sent as (a
    /// role; "" sends it signed in as nobody). The request carries that account's bearer token.
    static let asRole = "X-Test-As-Role"

    /// The desk (an operator's account at the scenario's property) as it calls the API, unless
    /// `headers` say otherwise (a value of "" leaves that header out).
    static let deskHeaders = ["Content-Type": "application/json", asRole: StaffRole.operator_.rawValue]

    /// The bearer token of the scenario's account in `role` (all departments; this property and
    /// sunrise-garden, whose residents the register holds).
    func token(_ role: String) async throws -> String {
        if let token = tokens.get(role) { return token }
        guard let parsed = StaffRole(rawValue: role) else { throw SetupError("no role \(role)") }
        let account = try await TestAccount.create(db, roles: [parsed], properties: [property, "sunrise-garden"])
        let token = try await account.signIn(port: Self.intakePort)
        tokens.set(role, token)
        return token
    }

    /// A technician of `department` named `name` signed in with `propdesk-worker login`, as a worker
    /// at the command line does it: the path of their token file.
    func workerTokenFile(_ name: String, department: Department = .engineering, properties: [String]? = nil) async throws -> String {
        let account = try await TestAccount.create(db, roles: [.technician], departments: [department],
                                                   properties: properties ?? [property], name: name)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-worker-\(Servers.unique())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let passwordFile = dir + "/password", tokenFile = dir + "/token"
        try Data(account.password.utf8).write(to: URL(fileURLWithPath: passwordFile))
        let login = try await Subprocess.run(try RealServers.ServiceProcessTests.binary("propdesk-worker"),
                                             ["login", "--login", account.login, "--password-file", passwordFile, "--token-file", tokenFile],
                                             environment: RealServers.ServiceProcessTests.environment(service: "worker", [
                                                 "PROPDESK_INTAKE_URL": "http://127.0.0.1:\(Self.intakePort)"]))
        guard login.status == 0 else { throw SetupError("propdesk-worker login: \(login.output)") }
        return tokenFile
    }

    /// A client that keeps no cookies: a test sends exactly the credentials it means to.
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration)
    }()

    /// A request to intake, or to the service on `port`.
    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:], port: Int = Self.intakePort) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        // Cookies only as a test sends them: URLSession's own store would replay a session.
        request.httpShouldHandleCookies = false
        var sent = Self.deskHeaders.merging(headers, uniquingKeysWith: { $1 })
        if let role = sent.removeValue(forKey: Self.asRole), !role.isEmpty, sent["Authorization"] == nil {
            sent["Authorization"] = "Bearer \(try await token(role))"
        }
        for (k, v) in sent where !v.isEmpty { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let headers = Dictionary(http.allHeaderFields.map { ("\($0.key)".lowercased(), "\($0.value)") }, uniquingKeysWith: { a, _ in a })
        return Reply(status: http.statusCode, headers: headers, json: json, data: data)
    }

    func post(_ path: String, _ body: [String: Any], headers: [String: String] = [:]) async throws -> Reply {
        try await request("POST", path, body: try JSONSerialization.data(withJSONObject: body), headers: headers)
    }

    /// Files a ticket for this scenario's property; `fields` override a minimal valid complaint.
    func file(_ fields: [String: Any], key: String? = nil) async throws -> Reply {
        var body: [String: Any] = ["property": property, "kind": "complaint", "caller_phone": "13812345678",
                                   "building": "3号楼", "unit": "2单元1202", "content": "test", "taken_by": "Li Mei"]
        body.merge(fields) { $1 }
        return try await post("/tickets", body, headers: key.map { ["Idempotency-Key": $0] } ?? [:])
    }

    /// The work-order events that reached one department queue.
    func onQueue(_ queue: WorkQueue, expecting count: Int = 1) async throws -> [WorkOrderEventPayload] {
        try await Servers.collect(amqp, queue: DeskEvents.workQueueName(queue, property: property), idle: .seconds(2), timeout: .seconds(20),
                                  until: { $0.count >= count })
            .map { try EventEnvelope.decode($0.body).decodePayload(WorkOrderEventPayload.self) }
    }

    /// The queues the property's `assigned` events went to: all that arrive until a second passes
    /// with nothing new (so one too many is seen, not cut off at `count`).
    func assignedQueues(expecting count: Int) async throws -> [String] {
        try await Servers.collect(amqp, queue: assigned, idle: .seconds(1), timeout: .seconds(20), until: { $0.count > count })
            .map { try EventEnvelope.decode($0.body).decodePayload(WorkOrderEventPayload.self).queue.name }.sorted()
    }

    func ticketCount() async throws -> Int {
        try await db.query("SELECT count(*) FROM tickets WHERE property = $1", [property])[0].decode(0)
    }

    func outboxCount() async throws -> Int {
        try await db.query("SELECT count(*) FROM outbox WHERE envelope->>'property' = $1", [property])[0].decode(0)
    }

    func ticket(_ id: String, role: String = "operator") async throws -> [String: Any] {
        try await request("GET", "/tickets/\(id)", headers: [Self.asRole: role]).json
    }

    /// Waits until dispatch has made `count` work orders for the ticket.
    func workOrders(_ id: String, count: Int) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let orders = try await ticket(id)["work_orders"] as? [[String: Any]] ?? []
            if orders.count >= count { return orders }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await ticket(id)["work_orders"] as? [[String: Any]] ?? []
    }

}

/// Servers a test starts and must stop, whether it passes or throws.
protocol ServerScenario {
    init() async throws
    func stop() async throws
}

extension ServerScenario {
    /// Starts the scenario, runs `body`, and stops it either way.
    static func run(_ body: (Self) async throws -> Void) async throws { try await run(starting: { try await Self() }, body) }

    /// The same for a scenario `start` makes.
    static func run(starting start: () async throws -> Self, _ body: (Self) async throws -> Void) async throws {
        let s = try await start()
        do {
            try await body(s)
        } catch {
            try? await s.stop()
            throw error
        }
        try await s.stop()
    }
}

extension RealServers {
    @Suite("Intake and dispatch: a call reaches the right departments, on the record")
    struct DeskFlowTests {
        @Test func aComplaintFiledOverHTTPAppearsOnCustomerServiceAndTheDepartmentItIsAbout() async throws {
            try await DeskScenario.run { s async throws in
                let reply = try await s.file(["category": "cleaning", "content": "楼道垃圾三天没人清理"])
                #expect(reply.status == 201)
                let number = try #require(reply.json["number"] as? String)
                #expect(number.range(of: #"^[A-Z]{4}-\d{6}-0001$"#, options: .regularExpression) != nil, "\(number)")
                #expect(try await s.assignedQueues(expecting: 2) == ["cleaning", "customer_service"])
                let cleaning = try await s.onQueue(.department(.cleaning))
                #expect(cleaning.map(\.ticketNumber) == [number])
                #expect(cleaning.first?.ruleID == "complaint-cleaning")
                #expect(cleaning.first?.place == "3号楼 ***", "the unit is masked in events (P1)")
            }
        }

        @Test func aStuckLiftReachesEngineeringAndSecurityAsUrgent_R2() async throws {
            try await DeskScenario.run { s async throws in
                let reply = try await s.file(["kind": "emergency", "emergency_type": "stopped_lift", "content": "5号楼电梯停在8楼, 有人被困"])
                #expect(reply.status == 201)
                #expect(try await s.assignedQueues(expecting: 2) == ["engineering", "security"])
                for queue in [WorkQueue.department(.engineering), .department(.security)] {
                    let orders = try await s.onQueue(queue)
                    #expect(orders.count == 1)
                    #expect(orders.first?.priority == .urgent)
                    #expect(orders.first?.emergencyType == .stoppedLift)
                }
            }
        }

        @Test func aLockChangeReachesCustomerServiceConciergeAndEngineeringTogether_T2() async throws {
            try await DeskScenario.run { s async throws in
                #expect(try await s.file(["kind": "lock_change", "content": "钥匙丢失, 业主要求换锁"]).status == 201)
                #expect(try await s.assignedQueues(expecting: 3) == ["concierge", "customer_service", "engineering"])
            }
        }

        @Test func aComplaintOfAnUnknownCategoryReachesTheTriageQueueNotNowhere() async throws {
            try await DeskScenario.run { s async throws in
                #expect(try await s.file(["category": "ufo-sighting", "content": "strange lights over the roof"]).status == 201)
                #expect(try await s.assignedQueues(expecting: 1) == ["triage"])
                let triage = try await s.onQueue(.triage)
                #expect(triage.count == 1)
                #expect(triage.first?.department == .customerService)
            }
        }

        @Test func theSameCreateRetriedWithOneIdempotencyKeyMakesOneTicket() async throws {
            try await DeskScenario.run { s async throws in
                let key = "call-\(Servers.unique())"
                let first = try await s.file(["content": "noise at night"], key: key)
                let retry = try await s.file(["content": "noise at night"], key: key)
                #expect(first.status == 201)
                #expect(retry.status == 200)
                #expect(retry.headers["idempotent-replayed"] == "true")
                #expect(retry.json["id"] as? String == first.json["id"] as? String)
                #expect(retry.json["number"] as? String == first.json["number"] as? String)
                let other = try await s.file(["content": "a different call"], key: key)
                #expect(other.status == 422)
                #expect(other.code == "idempotency_key_reused")
                #expect(try await s.ticketCount() == 1)
            }
        }

        @Test func aRedeliveredTicketEventMakesNoSecondWorkOrder() async throws {
            try await DeskScenario.run { s async throws in
                let reply = try await s.file(["kind": "repair", "content": "卫生间漏水"])
                let id = try #require(reply.json["id"] as? String)
                #expect(try await s.workOrders(id, count: 1).count == 1)
                // The broker delivers the same event again (same message id), and a copy under a new id.
                let row = try await s.db.query("SELECT envelope::text FROM outbox WHERE (envelope->>'ticket_id')::uuid = $1::uuid AND envelope->>'type' = 'ticket.repair.created'",
                                                [id])[0]
                let original = try EventEnvelope.decode(Data(try row.decode(0, as: String.self).utf8))
                var copy = original
                copy.id = UUID()
                for envelope in [original, copy] {
                    try await s.amqp.publish(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: Outbox.routingKey(for: envelope),
                                                         body: envelope.encoded(), messageID: envelope.id.uuidString.lowercased()))
                }
                let engineering = try await s.onQueue(.department(.engineering), expecting: 2)
                #expect(engineering.count == 1, "one work order on the queue, not \(engineering.count)")
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await s.workOrders(id, count: 1).count == 1)
                let handled = try await s.db.query("SELECT count(*) FROM inbox WHERE consumer = 'dispatch' AND message_id = $1", [copy.id])[0]
                #expect(try handled.decode(0, as: Int.self) == 1, "dispatch handled the copy and made nothing")
            }
        }

        @Test func everyStepFromTheWorkerCommandLineShowsInTheTicketsTimelineInOrder() async throws {
            try await DeskScenario.run { s async throws in
                let reply = try await s.file(["kind": "repair", "category": "plumbing", "content": "厨房水管漏水"])
                let id = try #require(reply.json["id"] as? String)
                let worker = try RealServers.ServiceProcessTests.binary("propdesk-worker")
                var env = RealServers.ServiceProcessTests.environment(service: "worker", ["PROPDESK_INTAKE_URL": "http://127.0.0.1:\(DeskScenario.intakePort)"])
                env["PROPDESK_LOG_LEVEL"] = nil
                let wang = try await s.workerTokenFile("王师傅")
                let take = try await Subprocess.run(worker, ["take", "--department", "engineering", "--property", s.property, "--token-file", wang],
                                                    environment: env, timeout: .seconds(60))
                #expect(take.status == 0, "\(take.output)")
                let order = try #require(take.output.firstMatch(of: /TAKEN ([0-9a-f-]{36})/)?.1, "\(take.output)")
                for step in [["on-site"], ["note", "--text", "换了阀门, 等待试水"], ["resolve", "--outcome", "水管已修复"]] {
                    let result = try await Subprocess.run(worker, [step[0], String(order), "--token-file", wang] + step.dropFirst(),
                                                          environment: env)
                    #expect(result.status == 0, "\(step[0]): \(result.output)")
                }
                let illegal = try await Subprocess.run(worker, ["resolve", String(order), "--token-file", wang, "--outcome", "again"], environment: env)
                #expect(illegal.status != 0)
                #expect(illegal.output.contains("cannot be resolved"), "\(illegal.output)")

                let ticket = try await s.ticket(id)
                #expect(ticket["status"] as? String == "resolved")
                #expect(ticket["outcome"] as? String == "水管已修复")
                let timeline = try #require(ticket["timeline"] as? [[String: Any]])
                #expect(timeline.map { $0["type"] as? String ?? "" } == [
                    "ticket.repair.created", "workorder.engineering.assigned",
                    "workorder.engineering.accepted", "ticket.repair.acknowledged",
                    "workorder.engineering.on_site", "ticket.repair.on_site",
                    "workorder.engineering.noted",
                    "workorder.engineering.resolved", "ticket.repair.resolved",
                ])
                #expect(timeline.map { $0["sequence"] as? Int ?? 0 } == Array(1...9))
                #expect(timeline.dropFirst(2).allSatisfy { $0["actor"] as? String == "王师傅" })
                // The events went out in the same order, each carrying its sequence.
                let sequences = try await s.db.query("""
                    SELECT (envelope->'payload'->>'sequence')::int FROM outbox WHERE (envelope->>'ticket_id')::uuid = $1::uuid ORDER BY id
                    """, [id]).map { try $0.decode(0, as: Int.self) }
                #expect(sequences == Array(1...9))
            }
        }

        @Test func workersShareAQueueAndAWorkerThatDiesBeforeTakingAnOrderLeavesItForTheNext() async throws {
            try await DeskScenario.run { s async throws in
                let reply = try await s.file(["kind": "door_open", "content": "钥匙锁在屋里"])
                let id = try #require(reply.json["id"] as? String)
                let worker = try RealServers.ServiceProcessTests.binary("propdesk-worker")
                let env = RealServers.ServiceProcessTests.environment(service: "worker", ["PROPDESK_INTAKE_URL": "http://127.0.0.1:\(DeskScenario.intakePort)"])
                let args = ["take", "--department", "concierge", "--property", s.property]
                // A holds the order while deciding, then is killed without a word.
                let (tokenA, tokenB) = (try await s.workerTokenFile("A", department: .concierge), try await s.workerTokenFile("B", department: .concierge))
                let a = try Subprocess(worker, args + ["--token-file", tokenA, "--confirm"], environment: env, openStdin: true)
                let deadline = ContinuousClock.now + .seconds(20)
                while !a.output.contains("take it?"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                #expect(a.output.contains("take it?"), "\(a.output)")
                a.signal(SIGKILL)
                _ = try await a.wait()
                let b = try await Subprocess.run(worker, args + ["--token-file", tokenB], environment: env, timeout: .seconds(60))
                #expect(b.status == 0, "\(b.output)")
                #expect(b.output.contains("TAKEN"), "\(b.output)")
                let orders = try await s.workOrders(id, count: 1)
                #expect(orders.count == 1)
                #expect(orders.first?["assignee"] as? String == "B")
                #expect(orders.first?["status"] as? String == "accepted")
            }
        }

        @Test func anOrderPutBackMoreOftenThanTheDeliveryLimitStaysOnTheQueueUntilSomeoneTakesIt() async throws {
            try await DeskScenario.run { s async throws in
                let id = try #require(try await s.file(["kind": "door_open", "content": "钥匙锁在屋里"]).json["id"] as? String)
                _ = try await s.workOrders(id, count: 1)
                let zhou = try await TestAccount.create(s.db, roles: [.technician], departments: [.concierge], properties: [s.property], name: "Zhou")
                let worker = DepartmentWorker(property: s.property, queue: .department(.concierge), amqp: s.amqp,
                                              intake: IntakeClient(baseURL: URL(string: "http://127.0.0.1:\(DeskScenario.intakePort)")!,
                                                                   token: try await zhou.signIn(port: DeskScenario.intakePort)),
                                              logger: Servers.logger)
                // Declined seven times (the queue's delivery limit is 5), then taken.
                let offers = Recorder<Int>()
                let taking = Task {
                    try await worker.take(count: 1, queues: .standard, decide: { _ in
                        offers.append(1)
                        return offers.all.count <= 7 ? .putBack : .accept
                    }, report: { _ in })
                }
                defer { taking.cancel() }
                try await eventually("the order taken at the eighth offer", timeout: .seconds(30)) {
                    try await s.workOrders(id, count: 1).first?["status"] as? String == "accepted"
                }
                try await taking.value
                #expect(offers.all.count == 8)
                #expect(try await s.workOrders(id, count: 1).first?["assignee"] as? String == "Zhou")
            }
        }

        @Test func aWorkerOnClassicQueuesDeclaresThemAsTheServicesDoAndWaitsForWork() async throws {
            try await DeskScenario.run { s async throws in
                let property = try await Servers.newProperty(s.db, prefix: "c")
                let classic = QueueArguments(type: .classic, deliveryLimit: 5)
                try await s.amqp.declare(DeskEvents.workQueues(property: property, classic))   // as dispatch would, with PROPDESK_QUEUE_TYPE=classic
                let qian = try await s.workerTokenFile("Qian", properties: [property])
                let worker = try Subprocess(try RealServers.ServiceProcessTests.binary("propdesk-worker"),
                                            ["take", "--department", "engineering", "--property", property, "--token-file", qian],
                                            environment: RealServers.ServiceProcessTests.environment(service: "worker", [
                                                "PROPDESK_QUEUE_TYPE": "classic", "PROPDESK_INTAKE_URL": "http://127.0.0.1:\(DeskScenario.intakePort)"]))
                defer { worker.signal(SIGKILL) }
                try await eventually("the worker waiting for work, or its error") {
                    worker.output.contains("waiting for work") || worker.output.lowercased().contains("error")
                }
                #expect(!worker.output.contains("PRECONDITION"), "\(worker.output)")
                #expect(worker.output.contains("waiting for work"), "\(worker.output)")
                for queue in WorkQueue.all {
                    _ = try? await s.amqp.delete(queue: DeskEvents.workQueueName(queue, property: property))
                }
            }
        }

        @Test func twoWorkersOnOneQueueEachTakeADifferentOrder() async throws {
            try await DeskScenario.run { s async throws in
                for content in ["1202 locked out", "0301 locked out"] {
                    #expect(try await s.file(["kind": "door_open", "content": content]).status == 201)
                }
                let worker = try RealServers.ServiceProcessTests.binary("propdesk-worker")
                let env = RealServers.ServiceProcessTests.environment(service: "worker", ["PROPDESK_INTAKE_URL": "http://127.0.0.1:\(DeskScenario.intakePort)"])
                let args = ["take", "--department", "concierge", "--property", s.property]
                let (tokenA, tokenB) = (try await s.workerTokenFile("A", department: .concierge), try await s.workerTokenFile("B", department: .concierge))
                async let a = Subprocess.run(worker, args + ["--token-file", tokenA], environment: env, timeout: .seconds(60))
                async let b = Subprocess.run(worker, args + ["--token-file", tokenB], environment: env, timeout: .seconds(60))
                let taken = try await [a, b].map { result in
                    #expect(result.status == 0, "\(result.output)")
                    return result.output.firstMatch(of: /TAKEN ([0-9a-f-]{36})/).map { String($0.1) }
                }
                #expect(taken.compactMap { $0 }.count == 2)
                #expect(Set(taken.compactMap { $0 }).count == 2, "each took a different order: \(taken)")
            }
        }

        @Test func aTransferredOrderLandsOnTheOtherQueueCanBeReassignedAndAReopenedTicketIsRoutedAgain() async throws {
            try await DeskScenario.run { s async throws in
                let id = try #require(try await s.file(["kind": "repair", "category": "plumbing", "content": "下水道堵了"]).json["id"] as? String)
                let first = try #require(try await s.workOrders(id, count: 1).first?["id"] as? String)
                _ = try await s.onQueue(.department(.engineering))
                let moved = try await s.post("/work-orders/\(first)/transfer", ["actor": "Wang", "reason": "it is a cleaning job", "to": "cleaning"],
                                             headers: [DeskScenario.asRole: "supervisor"])
                #expect(moved.status == 200, "\(String(decoding: moved.data, as: UTF8.self))")
                #expect(moved.json["status"] as? String == "transferred")
                let cleaning = try await s.onQueue(.department(.cleaning))
                #expect(cleaning.count == 1)
                #expect(cleaning.first?.transferredFrom?.uuidString.lowercased() == first.lowercased())
                let again = try await s.post("/work-orders/\(first)/transfer", ["actor": "Wang", "reason": "twice", "to": "cleaning"])
                #expect(again.status == 409)

                let order = try #require(cleaning.first?.workOrderID.uuidString)
                let technician = try await s.post("/work-orders/\(order)/reassign", ["actor": "Liu", "reason": "mine", "assignee": "Liu"],
                                                  headers: [DeskScenario.asRole: "technician"])
                #expect(technician.status == 403)
                #expect(technician.code == "forbidden")
                let unnamed = try await s.post("/work-orders/\(order)/reassign", ["actor": "Qian", "reason": "drains"],
                                               headers: [DeskScenario.asRole: "supervisor"])
                #expect(unnamed.status == 422)
                #expect(unnamed.code == "required")
                let reassigned = try await s.post("/work-orders/\(order)/reassign", ["actor": "Qian", "reason": "Zhou knows the drains",
                                                                                     "assignee": "Zhou"],
                                                  headers: [DeskScenario.asRole: "supervisor"])
                #expect(reassigned.status == 200, "\(String(decoding: reassigned.data, as: UTF8.self))")
                #expect(reassigned.json["assignee"] as? String == "Zhou")
                #expect(try await s.ticket(id)["status"] as? String == "acknowledged")
                #expect(try await s.post("/work-orders/\(order)/resolve", ["actor": "Zhou", "outcome": "cleared"]).status == 200)
                #expect(try await s.ticket(id)["status"] as? String == "resolved")
                #expect(try await s.post("/tickets/\(id)/reopen", ["actor": "Li", "reason": "blocked again next day"]).status == 200)
                let orders = try await s.workOrders(id, count: 3)
                #expect(orders.count == 3, "round 2 was routed again")
                #expect(orders.filter { $0["round"] as? Int == 2 }.map { $0["queue"] as? String } == ["engineering"])
            }
        }

        @Test func badRequestsGetTheirDocumentedErrorAndStoreNothing() async throws {
            try await DeskScenario.run { s async throws in
                func form(_ fields: [String: Any]) throws -> Data {
                    try JSONSerialization.data(withJSONObject: ["property": s.property, "kind": "inquiry", "content": "x", "taken_by": "Li"]
                        .merging(fields) { $1 })
                }
                let json = ["Content-Type": "application/json"]
                let cases: [(String, Data, [String: String], Int, String)] = [
                    ("unknown kind", try form(["kind": "haunting"]), json, 422, "unknown_value"),
                    ("complaint without a phone", try form(["kind": "complaint"]), json, 422, "required"),
                    ("content over 2000 characters", try form(["content": String(repeating: "长", count: 2001)]), json, 422, "too_long"),
                    ("bad UTF-8", Data([0x7b, 0x22, 0x6b, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), json, 400, "invalid_utf8"),
                    ("not JSON", Data("kind=complaint".utf8), json, 400, "invalid_json"),
                    ("unknown property", try form(["property": "no-such-place"]), json, 422, "unknown_property"),
                    ("a time that is not a time", try form(["requested_at": "tomorrow"]), json, 422, "invalid_format"),
                    ("year 0000", try form(["requested_at": "0000-01-01T00:00:00Z"]), json, 422, "invalid_format"),
                    ("year 9999", try form(["requested_at": "9999-06-01T00:00:00Z"]), json, 422, "invalid_format"),
                    ("month 13, day 45, 99:99", try form(["requested_at": "2025-13-45T99:99:99Z"]), json, 422, "invalid_format"),
                    ("30 February", try form(["requested_at": "2026-02-30T10:00:00+08:00"]), json, 422, "invalid_format"),
                    ("a NUL in the content", try form(["content": "漏水\u{0}"]), json, 422, "invalid_format"),
                    ("a NUL in the caller's name", try form(["caller_name": "王\u{0}丽"]), json, 422, "invalid_format"),
                    ("a NUL in the building", try form(["building": "3号楼\u{0}"]), json, 422, "invalid_format"),
                    ("a NUL in the category", try form(["category": "noise\u{0}x"]), json, 422, "invalid_format"),
                    ("JSON sent as text/plain", try form([:]), ["Content-Type": "text/plain"], 415, "unsupported_media_type"),
                    ("JSON with no Content-Type", try form([:]), ["Content-Type": ""], 415, "unsupported_media_type"),
                    ("nobody signed in", try form([:]), [DeskScenario.asRole: ""], 401, "not_signed_in"),
                    ("a forged token", try form([:]), ["Authorization": "Bearer " + String(repeating: "A", count: 43)], 401, "not_signed_in"),
                    ("several problems", try JSONSerialization.data(withJSONObject: ["kind": "complaint"]), json, 422, "validation_failed"),
                    ("over 64 KiB", Data(("{\"content\":\"" + String(repeating: "x", count: 70_000) + "\"}").utf8), json, 413, "body_too_large"),
                ]
                // This property's record: its tickets, its events, and the day's ticket numbers.
                let record = {
                    try await s.db.query("""
                        SELECT (SELECT count(*) FROM tickets WHERE property = $1), (SELECT count(*) FROM outbox WHERE envelope->>'property' = $1),
                               (SELECT coalesce(sum(last), 0)::int8 FROM ticket_counters WHERE property = $1)
                        """, [s.property]).map { [try $0.decode(0, as: Int.self), try $0.decode(1, as: Int.self), try $0.decode(2, as: Int.self)] }
                }
                let before = try await record()
                let documented = try OpenAPIDocument().errorCodes
                for (name, body, headers, status, code) in cases {
                    let reply = try await s.request("POST", "/tickets", body: body, headers: headers)
                    #expect(reply.status == status, "\(name): \(String(decoding: reply.data, as: UTF8.self))")
                    #expect(reply.code == code, "\(name): \(String(decoding: reply.data, as: UTF8.self))")
                    #expect(documented.contains(reply.code ?? ""), "\(name)")
                    #expect(!(reply.json["message"] as? String ?? "").isEmpty, "\(name) has a message for a person")
                }
                #expect(try await record() == before, "a refused request stored something or used up a ticket number")
                #expect(try await s.db.query("SELECT count(*) FROM tickets WHERE property = 'no-such-place'")[0].decode(0, as: Int.self) == 0)

                // The steps refuse a NUL by field, and the ticket does not move.
                let id = try #require(try await s.file(["kind": "inquiry", "content": "停车费多少"]).json["id"] as? String)
                _ = try await s.workOrders(id, count: 1)   // routed: nothing else moves it now
                let sequence = try await s.ticket(id)["sequence"] as? Int
                for (path, body, field) in [("notes", ["actor": "Li", "note": "a\u{0}b"], "note"), ("acknowledge", ["actor": "Li\u{0}"], "actor"),
                                            ("cancel", ["actor": "Li", "reason": "\u{0}"], "reason")] {
                    let reply = try await s.post("/tickets/\(id)/\(path)", body, headers: [DeskScenario.asRole: "supervisor"])
                    #expect(reply.status == 422, "\(path): \(String(decoding: reply.data, as: UTF8.self))")
                    #expect((reply.json["problems"] as? [[String: Any]])?.first?["field"] as? String == field, "\(path)")
                }
                #expect(try await s.ticket(id)["sequence"] as? Int == sequence)
            }
        }

        @Test func theDeskLooksUpANumberTypedWithPlusSignsForSpacesAndRefusesANULInTheQuery() async throws {
            try await DeskScenario.run { s async throws in
                let spaced = try await s.request("GET", "/callers?phone=138+1234+5678")
                #expect(spaced.status == 200, "\(String(decoding: spaced.data, as: UTF8.self))")
                #expect((spaced.json["residents"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["王丽"])
                let nul = try await s.request("GET", "/tickets?property=%00")
                #expect(nul.status == 400)
                #expect(nul.code == "invalid_format")
            }
        }

        @Test func resolvingACancelledTicketGets409WithTheReasonAndChangesNothing() async throws {
            try await DeskScenario.run { s async throws in
                let id = try #require(try await s.file(["kind": "inquiry", "content": "停车费多少"]).json["id"] as? String)
                let byTechnician = try await s.post("/tickets/\(id)/cancel", ["actor": "Liu", "reason": "not mine"],
                                                    headers: [DeskScenario.asRole: "technician"])
                #expect(byTechnician.status == 403, "department staff do not cancel the desk's tickets")
                #expect(try await s.post("/tickets/\(id)/cancel", ["actor": "Li", "reason": "caller hung up"]).status == 200)
                let before = try await s.ticket(id)["sequence"] as? Int
                let reply = try await s.post("/tickets/\(id)/resolve", ["actor": "Li", "outcome": "answered"])
                #expect(reply.status == 409)
                #expect(reply.code == "illegal_transition")
                #expect(reply.json["message"] as? String == "a ticket that is cancelled cannot be resolved")
                #expect(try await s.ticket(id)["sequence"] as? Int == before)
                let missing = try await s.post("/tickets/\(id)/reopen", ["actor": "Li"])
                #expect(missing.status == 422)
                #expect(missing.code == "required")
            }
        }

        @Test func theRegisterShowsTheCallerToTheDeskAndOnlyAMaskedNumberToTechniciansAndLogsTheRead_P1() async throws {
            try await DeskScenario.run { s async throws in
                func signedIn() async throws -> (login: String, headers: [String: String]) {
                    let account = try await TestAccount.create(s.db, roles: [.operator_], properties: [s.property, "sunrise-garden"])
                    return (account.login, ["Authorization": "Bearer \(try await account.signIn(port: DeskScenario.intakePort))"])
                }
                func reads(_ login: String, _ subject: String? = nil) async throws -> Int {
                    try await s.db.query("SELECT count(*) FROM audit_log WHERE actor = $1 AND action = 'contact_read' AND ($2::text IS NULL OR subject = $2)",
                                         [login, subject])[0].decode(0, as: Int.self)
                }
                let desk = try await signedIn()
                let found = try await s.request("GET", "/callers?phone=%2B86%20138-1234-5678", headers: desk.headers)
                let residents = try #require(found.json["residents"] as? [[String: Any]])
                #expect(residents.map { $0["name"] as? String } == ["王丽"])
                #expect(residents.first?["phone"] as? String == "13812345678")
                #expect(try await reads(desk.login) == 1)
                let tech = try await s.request("GET", "/callers?property=sunrise-garden&building=3%E5%8F%B7%E6%A5%BC&unit=2%E5%8D%95%E5%85%831202",
                                               headers: [DeskScenario.asRole: "technician"])
                let phones = (tech.json["residents"] as? [[String: Any]] ?? []).compactMap { $0["phone"] as? String }
                #expect(phones.sorted() == ["138****5678", "139****4321"])
                let id = try #require(try await s.file(["content": "请回电 13812345678"]).json["id"] as? String)
                _ = try await s.workOrders(id, count: 1)
                let seen = try await s.ticket(id, role: "technician")
                #expect(seen["caller_phone"] as? String == "138****5678")
                #expect(seen["content"] as? String == "请回电 138****5678")

                // A list shows nobody's number or unit, not even to the desk, and is no file read.
                let reader = try await signedIn()
                let list = try await s.request("GET", "/tickets?property=\(s.property)", headers: reader.headers)
                let listed = try #require(list.json["tickets"] as? [[String: Any]])
                #expect(!listed.isEmpty)
                #expect(listed.allSatisfy { $0["caller_phone"] as? String == "138****5678" && $0["unit"] as? String == "***" }, "\(listed)")
                #expect(!String(decoding: list.data, as: UTF8.self).contains("13812345678"))
                #expect(try await reads(reader.login) == 0)
                // Opening the ticket at the desk shows the number, and the read is on the record.
                let opened = try await s.request("GET", "/tickets/\(id)", headers: reader.headers)
                #expect(opened.json["caller_phone"] as? String == "13812345678")
                #expect(try await reads(reader.login, "ticket \(id.lowercased())") == 1)
                // Saying nobody is calling gets nobody's number, and cannot cancel.
                let anonymous = try await s.request("GET", "/tickets/\(id)", headers: [DeskScenario.asRole: ""])
                #expect(anonymous.status == 401 && anonymous.code == "not_signed_in")
                #expect(!String(decoding: anonymous.data, as: UTF8.self).contains("5678"))
                let cancel = try await s.post("/tickets/\(id)/cancel", ["actor": "?", "reason": "x"], headers: [DeskScenario.asRole: ""])
                #expect(cancel.status == 401)
                #expect(try await s.ticket(id)["status"] as? String == "open")
            }
        }

        @Test func everyEventATicketsLifeMakesIsInTheAsyncAPIDocument() async throws {
            try await DeskScenario.run { s async throws in
                let supervisor = [DeskScenario.asRole: "supervisor"]
                func step(_ path: String, _ body: [String: Any], headers: [String: String] = supervisor) async throws {
                    let reply = try await s.post(path, body, headers: headers)
                    #expect(reply.status == 200, "\(path): \(String(decoding: reply.data, as: UTF8.self))")
                }
                // A ticket's whole life, each step once: this test's own events, nobody else's.
                let id = try #require(try await s.file(["category": "cleaning", "content": "楼道垃圾"]).json["id"] as? String)
                let orders = try await s.workOrders(id, count: 2).compactMap { $0["id"] as? String }
                try #require(orders.count == 2)
                try await step("/work-orders/\(orders[0])/accept", ["actor": "Liu"])
                try await step("/work-orders/\(orders[0])/on-site", ["actor": "Liu"])
                try await step("/work-orders/\(orders[0])/notes", ["actor": "Liu", "note": "需要工程部"])
                try await step("/work-orders/\(orders[0])/transfer", ["actor": "Liu", "reason": "drains", "to": "engineering"])
                try await step("/work-orders/\(orders[1])/accept", ["actor": "Sun"])
                try await step("/work-orders/\(orders[1])/release", ["actor": "Sun", "reason": "off shift"])
                try await step("/work-orders/\(orders[1])/reassign", ["actor": "Wang", "reason": "Zhao is on", "assignee": "Zhao"])
                try await step("/tickets/\(id)/notes", ["actor": "Li", "note": "业主来电催促"])
                try await step("/tickets/\(id)/resolve", ["actor": "Wang", "outcome": "cleaned"])
                try await step("/tickets/\(id)/close", ["actor": "Li"])
                try await step("/tickets/\(id)/reopen", ["actor": "Li", "reason": "dirty again"])
                _ = try await s.workOrders(id, count: 5)   // round 2 routed again: its orders are cancelled with the ticket
                try await step("/tickets/\(id)/cancel", ["actor": "Li", "reason": "duplicate of another call"])
                let keys = try await eventually("the reopened round's work orders cancelled") { () -> [String]? in
                    let keys = try await s.db.query("SELECT DISTINCT routing_key FROM outbox WHERE envelope->>'property' = $1", [s.property])
                        .map { try $0.decode(0, as: String.self) }
                    return keys.contains { $0.hasPrefix("workorder.") && $0.contains(".cancelled.") } ? keys : nil
                }
                let events = Set(keys.map { $0.split(separator: ".").prefix(3).joined(separator: ".") })
                for expected in ["ticket.complaint.created", "ticket.complaint.acknowledged", "ticket.complaint.on_site", "ticket.complaint.noted",
                                 "ticket.complaint.resolved", "ticket.complaint.closed", "ticket.complaint.reopened", "ticket.complaint.cancelled",
                                 "workorder.cleaning.assigned", "workorder.cleaning.accepted", "workorder.cleaning.on_site", "workorder.cleaning.noted",
                                 "workorder.cleaning.transferred", "workorder.engineering.assigned", "workorder.customer_service.released",
                                 "workorder.customer_service.reassigned"] {
                    #expect(events.contains(expected), "\(expected) not published: \(events.sorted())")
                }
                let document = try AsyncAPIDocument()
                let undocumented = keys.filter { !document.describes(routingKey: $0) }
                #expect(undocumented.isEmpty, "not in docs/asyncapi.yaml: \(undocumented)")
            }
        }
    }
}
