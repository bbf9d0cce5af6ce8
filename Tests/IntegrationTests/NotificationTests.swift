import AMQP
import Desk
import Domain
import Foundation
import LocalReceivers
import Messaging
import Notify
import Postgres
import Testing

/// A property with a duty roster, a real HTTP receiver standing in for the webhook, robot and SMS
/// endpoints, and the notification service running against it.
struct NotifyScenario {
    static let port = 28_190
    static let receiverPort = 28_195
    /// Nothing listens here: a dead channel.
    static let deadPort = 28_199
    let db: PostgresClient
    let amqp: AMQPConnection
    let property: String
    let receiver: WebhookReceiver
    let environment: [String: String]
    var service: Subprocess

    /// `extra`: more environment for the service (an SMTP server, say).
    /// `property`: one that exists already (a ``DeskScenario``'s); otherwise a new one.
    init(roster: [(role: String, department: String?, person: String, contacts: String)], extra: [String: String] = [:],
         property existing: String? = nil) async throws {
        db = try await Servers.database()
        if let existing {
            property = existing
        } else {
            property = try await Servers.newProperty(db, prefix: "n")
        }
        // Earlier tests' properties keep their rosters and deliveries in this database; their
        // late events (an escalation step firing now) must not reach this test's receiver.
        try await db.execute("UPDATE duty_roster SET active = false WHERE property <> $1", [property])
        try await db.execute("""
            UPDATE deliveries SET state = 'failed', last_error = 'an earlier test' WHERE property <> $1 AND state IN ('pending', 'sending')
            """, [property])
        // Each test starts with the channels' allowances unused.
        try await db.execute("DELETE FROM channel_budgets")
        for entry in roster {
            try await db.execute("INSERT INTO duty_roster (property, role, department, person, contacts) VALUES ($1, $2, $3, $4, $5::jsonb)",
                                 [property, entry.role, entry.department, entry.person, entry.contacts])
        }
        amqp = try await Servers.connect()
        receiver = WebhookReceiver(port: Self.receiverPort)
        try await receiver.start()
        environment = Self.environment(extra)
        service = try await Self.startService(environment)
    }

    static func environment(_ extra: [String: String]) -> [String: String] {
        let base = "http://127.0.0.1:\(receiverPort)"
        return RealServers.ServiceProcessTests.environment(service: "notification", [
            "PROPDESK_HTTP_PORT": "\(port)", "PROPDESK_LOG_LEVEL": "debug",
            "PROPDESK_WEBHOOKS": "desk=\(base)/desk;flaky=\(base)/flaky;slow=\(base)/slow",
            "PROPDESK_WECOM_ROBOTS": "engineering=\(base)/wecom;dead=http://127.0.0.1:\(deadPort)/robot",
            "PROPDESK_DINGTALK_ROBOTS": "security=\(base)/dingtalk",
            "PROPDESK_SMS_URL": "\(base)/sms",
            "PROPDESK_NOTIFY_RETRY_BASE_MS": "50", "PROPDESK_NOTIFY_MAX_ATTEMPTS": "4",
            "PROPDESK_QUIET_HOURS": "00:00-00:00",
        ].merging(extra) { $1 })
    }

    /// `port`: another replica's, beside the first.
    static func startService(_ environment: [String: String], port: Int = port) async throws -> Subprocess {
        let env = RealServers.ServiceProcessTests.self
        var environment = environment
        environment["PROPDESK_HTTP_PORT"] = "\(port)"
        let service = try Subprocess(try env.binary("notification"), ["serve"], environment: environment)
        guard try await env.waitReady(port: port) else { throw SetupError("notification did not become ready:\n\(service.output)") }
        return service
    }

    /// kill -9, then a new process with the same settings.
    mutating func killAndRestart() async throws {
        service.signal(SIGKILL)
        _ = try await service.wait(timeout: .seconds(15))
        service = try await Self.startService(environment)
    }

    func stop() async throws {
        service.signal(SIGTERM)
        _ = try await service.wait(timeout: .seconds(15))
        receiver.stop()
        await amqp.close()
        db.shutdown()
    }

    /// Publishes an event as escalation would: an escalation breach naming roles to tell.
    func breach(id: UUID = UUID(), tell: [Recipient], standard: String = "C1") async throws {
        let payload: JSONValue = .object([
            "ticket_id": .string(UUID().uuidString.lowercased()), "ticket_number": .string("T-20261123-0001"), "kind": .string("complaint"),
            "round": .number(1), "rule_id": .string(standard), "standard": .string(standard), "title": .string("Supervisor told within 5 minutes"),
            "step": .number(1), "steps": .number(2), "started_at": .string("2026-11-23T01:00:00Z"), "due_at": .string("2026-11-23T01:05:00Z"),
            "fired_at": .string("2026-11-23T01:05:00Z"), "firing_lateness_ms": .number(3),
            "tell": try JSONValue(encoding: tell),
        ])
        try await publish(EventEnvelope(id: id, type: "escalation.\(standard.lowercased()).breached", property: property, payload: payload))
    }

    /// Publishes a follow-up call falling due, as escalation would: not urgent, so rate limits apply.
    func followUpDue(tell: [Recipient]) async throws {
        try await publish(EventEnvelope(type: "followup.complaint.due", property: property, payload: .object([
            "ticket_id": .string(UUID().uuidString.lowercased()), "ticket_number": .string("T-20261123-0002"), "kind": .string("complaint"),
            "round": .number(1), "rule_id": .string("F1"), "standard": .string("F1"), "title": .string("Follow-up call"),
            "step": .number(2), "steps": .number(2), "started_at": .string("2026-11-23T01:00:00Z"), "due_at": .string("2026-11-24T01:00:00Z"),
            "fired_at": .string("2026-11-24T01:00:00Z"), "firing_lateness_ms": .number(3), "tell": try JSONValue(encoding: tell),
        ])))
    }

    /// Publishes an event to `propdesk.events` as its service's relay would.
    func publish(_ envelope: EventEnvelope) async throws {
        try await amqp.publish(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: "\(envelope.type).\(property)",
                                           body: envelope.encoded(), messageID: envelope.id.uuidString.lowercased()))
    }

    func deliveries() async throws -> [(recipient: String, channel: String, state: String, attempts: Int)] {
        try await db.query("SELECT recipient, channel, state, attempts FROM deliveries WHERE property = $1 ORDER BY id", [property]).map {
            (try $0.decode(0), try $0.decode(1), try $0.decode(2), try $0.decode(3))
        }
    }
}

extension RealServers {
    @Suite("Notification: the right person hears, once, on the channel they read")
    struct NotificationTests {
        @Test func anEscalationReachesTheOnDutySupervisorOnceEvenWhenTheEventArrivesTwice() async throws {
            let s = try await NotifyScenario(roster: [
                ("supervisor", "customer_service", "Zhao", #"[{"channel":"webhook","address":"desk"}]"#),
                ("technician", "engineering", "Qian", #"[{"channel":"wecom","address":"engineering"}]"#),
            ])
            let id = UUID()
            try await s.breach(id: id, tell: [Recipient(.supervisor, .customerService)])
            let got = try await s.receiver.wait { $0.contains { $0.path == "/desk" } }
            let message = try #require(got.first { $0.path == "/desk" })
            #expect(message.json["recipient"] as? String == "Zhao")
            #expect((message.json["subject"] as? String)?.contains("T-20261123-0001") == true)
            #expect(message.headers["idempotency-key"] == "\(id.uuidString.lowercased())/Zhao/webhook")
            // The broker delivers it again (a redelivery, or a replayed event): nothing is sent twice.
            try await s.breach(id: id, tell: [Recipient(.supervisor, .customerService)])
            try await eventually("the second copy recognised as a duplicate") { s.service.output.contains("duplicate delivery ignored") }
            #expect(s.receiver.requests("/desk").count == 1)
            // The receiver has it before the sender writes the outcome: wait for the record.
            let recorded = try await eventually("the delivery's outcome recorded") { () -> [String]? in
                let states = try await s.deliveries().map(\.state)
                return states.contains("sending") || states.contains("pending") ? nil : states
            }
            #expect(recorded == ["sent"])
            try await s.stop()
        }

        @Test func aReceiverFailingThreeTimesThenRecoveringGetsExactlyOneMessage() async throws {
            let s = try await NotifyScenario(roster: [("supervisor", nil, "Sun", #"[{"channel":"webhook","address":"flaky"}]"#)])
            s.receiver.fail("/flaky", times: 3)
            try await s.breach(tell: [Recipient(.supervisor, .customerService)])
            _ = try await s.receiver.wait { $0.contains { $0.path == "/flaky" } }
            // Recorded as sent: from then on nothing may send it again.
            let d = try await eventually("the delivery recorded as sent") { () -> [(recipient: String, channel: String, state: String, attempts: Int)]? in
                let d = try await s.deliveries()
                return d.contains { $0.state == "sent" } ? d : nil
            }
            #expect(s.receiver.requests("/flaky").count == 1)
            #expect(d.count == 1 && d[0].state == "sent" && d[0].attempts == 4)
            let outcomes = try await s.db.query("""
                SELECT outcome FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.property = $1 ORDER BY attempt
                """, [s.property]).map { try $0.decode(0, as: String.self) }
            #expect(outcomes == ["failed", "failed", "failed", "sent"])
            try await s.stop()
        }

        @Test func aDeadRobotFallsBackToTheNextContactAndNobodyOnDutyGoesUpALevel() async throws {
            let s = try await NotifyScenario(roster: [
                // No engineering technician on the roster: the supervisor above is told, and the gap reported.
                ("supervisor", "engineering", "Li", #"[{"channel":"wecom","address":"dead"},{"channel":"sms","address":"13800000042"}]"#),
            ])
            let gaps = try await Servers.scratchQueue(s.amqp, routingKey: "notification.roster.gap.\(s.property)")
            try await s.breach(tell: [Recipient(.technician, .engineering)], standard: "R2")
            let got = try await s.receiver.wait { $0.contains { $0.path == "/sms" } }
            let recorded = try await s.deliveries()
            let sms = try #require(got.first { $0.path == "/sms" }, "\(got.map(\.path)) \(recorded)")
            #expect(sms.json["to"] as? String == "13800000042")
            #expect((sms.json["text"] as? String)?.contains("R2") == true)
            // The receiver answers before the sender writes the outcome: wait for the record.
            let d = try await eventually("the SMS recorded") { () -> [(recipient: String, channel: String, state: String, attempts: Int)]? in
                let d = try await s.deliveries()
                return d.allSatisfy({ $0.state != "sending" && $0.state != "pending" }) ? d : nil
            }
            #expect(d.map(\.channel) == ["wecom", "sms"])
            #expect(d.map(\.state) == ["fell_back", "sent"])
            #expect(d[0].attempts == 4)
            let gap = try await Servers.collect(s.amqp, queue: gaps, idle: .seconds(2), timeout: .seconds(10), until: { $0.count >= 1 })
            let envelope = try EventEnvelope.decode(try #require(gap.first).body)
            #expect(envelope.payload["asked"] == .string("technician/engineering"))
            #expect(envelope.payload["reached_as"] == .string("supervisor"))
            try await s.stop()
        }

        @Test func aSecondContactOnTheSameChannelIsReachedWhenTheFirstIsDead() async throws {
            let s = try await NotifyScenario(roster: [
                ("supervisor", "customer_service", "Ma", #"[{"channel":"wecom","address":"dead"},{"channel":"wecom","address":"engineering"}]"#),
            ])
            try await s.breach(tell: [Recipient(.supervisor, .customerService)])
            let got = try await s.receiver.wait { $0.contains { $0.path == "/wecom" } }
            #expect(got.filter { $0.path == "/wecom" }.count == 1)
            let d = try await eventually("both deliveries on the record") { () -> [(recipient: String, channel: String, state: String, attempts: Int)]? in
                let d = try await s.deliveries()
                return d.map(\.state) == ["fell_back", "sent"] ? d : nil
            }
            #expect(d.map(\.channel) == ["wecom", "wecom"])
            try await s.stop()
        }

        @Test func aMalformedTicketEventIsDeadLetteredWithItsReasonNotAckedSilently() async throws {
            let s = try await NotifyScenario(roster: [("supervisor", "customer_service", "Zhao", #"[{"channel":"webhook","address":"desk"}]"#)])
            let type = "ticket.complaint.created"
            let dead = try await Servers.scratchQueue(s.amqp, exchange: PropDeskTopology.deadLetterExchange, routingKey: "\(type).\(s.property)")
            let bad = EventEnvelope(type: type, property: s.property, payload: .object(["number": .string("no ticket id or kind")]))
            try await s.publish(bad)
            let parked = try await Servers.collect(s.amqp, queue: dead, timeout: .seconds(20)) { all in
                all.contains { $0.properties.messageID == bad.id.uuidString.lowercased() }
            }
            let mine = try #require(parked.first { $0.properties.messageID == bad.id.uuidString.lowercased() })
            let reason = mine.properties.headers["x-propdesk-rejection-reason"].flatMap { if case .string(let r) = $0 { r } else { nil } }
            #expect(reason?.contains("ticket_id") == true && reason?.contains("kind") == true, "\(mine.properties.headers)")
            #expect(try await s.deliveries().isEmpty)
            try await s.stop()
        }

        @Test func aBacklogOnARateLimitedRobotDoesNotHoldUpTheSMSBehindIt() async throws {
            let s = try await NotifyScenario(roster: [
                ("technician", "engineering", "Qian", #"[{"channel":"wecom","address":"engineering"}]"#),
                ("supervisor", "customer_service", "Zhao", #"[{"channel":"sms","address":"13800000043"}]"#),
            ], extra: ["PROPDESK_NOTIFY_LIMITS": "wecom=1/5s,sms=10/s"])
            for _ in 0..<12 { try await s.followUpDue(tell: [Recipient(.technician, .engineering)]) }
            try await eventually("the robot's backlog queued") {
                try await s.deliveries().filter { $0.channel == "wecom" }.count == 12
            }
            try await s.followUpDue(tell: [Recipient(.supervisor, .customerService)])
            // The robot may send one message in 5 s: its backlog takes a minute. The SMS does not wait for it.
            let got = try await s.receiver.wait(timeout: .seconds(15)) { $0.contains { $0.path == "/sms" } }
            #expect(got.contains { $0.path == "/sms" })
            #expect(got.filter { $0.path == "/wecom" }.count < 12, "the robot's limit held")
            try await s.stop()
        }

        @Test func aDeployLetsTheSendInFlightFinishAndRecordsItSentOnce() async throws {
            let s = try await NotifyScenario(roster: [("supervisor", nil, "Wu", #"[{"channel":"webhook","address":"slow"}]"#)])
            s.receiver.stall("/slow", for: .seconds(3))
            try await s.breach(tell: [Recipient(.supervisor, .customerService)])
            _ = try await s.receiver.wait { $0.contains { $0.path == "/slow" } }
            // SIGTERM while the receiver is still answering: the send completes and is recorded.
            s.service.signal(SIGTERM)
            #expect(try await s.service.wait(timeout: .seconds(30)) == 0, "\(s.service.output.suffix(800))")
            let d = try await s.deliveries()
            #expect(d.map(\.state) == ["sent"], "\(d)")
            #expect(d.first?.attempts == 1)
            #expect(s.receiver.requests("/slow").count == 1)
            try await s.stop()
        }

        @Test func aSendCutOffByKill9IsRecordedAsUnknownReportedAndNeverSentAgain() async throws {
            var s = try await NotifyScenario(roster: [("supervisor", nil, "Wu", #"[{"channel":"webhook","address":"slow"}]"#)],
                                             extra: ["PROPDESK_NOTIFY_HTTP_TIMEOUT_SECONDS": "2"])
            s.receiver.stall("/slow", for: .seconds(60))
            let failures = try await Servers.scratchQueue(s.amqp, routingKey: "notification.delivery.failed.\(s.property)")
            try await s.breach(tell: [Recipient(.supervisor, .customerService)])
            // The request has reached the receiver, which has not answered: the service dies now.
            _ = try await s.receiver.wait { $0.contains { $0.path == "/slow" } }
            try await s.killAndRestart()
            // Its lease (2 × 2 s + 5 s) runs out; the new process may not know whether it arrived.
            var states: [String] = []
            for _ in 0..<300 {
                states = try await s.deliveries().map(\.state)
                if states == ["unknown"] { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(states == ["unknown"])
            let reported = try await Servers.collect(s.amqp, queue: failures, idle: .seconds(1), timeout: .seconds(10), until: { $0.count >= 1 })
            #expect(reported.count == 1)
            let envelope = try EventEnvelope.decode(try #require(reported.first).body)
            #expect(envelope.payload["recipient"] == .string("Wu"))
            let reason: String? = if case .string(let r)? = envelope.payload["reason"] { r } else { nil }
            #expect(reason?.contains("unknown") == true, "\(envelope.payload)")
            let outcome = try await s.db.query("""
                SELECT outcome FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.property = $1
                """, [s.property]).map { try $0.decode(0, as: String.self) }
            #expect(outcome == ["unknown"])
            #expect(s.receiver.requests("/slow").count == 1, "it was not sent a second time")
            try await s.stop()
        }

        @Test func aRepairCostAwaitingApprovalReachesTheApproverItsStepNamesAndNotFinance_B4() async throws {
            let s = try await NotifyScenario(roster: [
                ("department_manager", "finance", "Qin", #"[{"channel":"webhook","address":"desk"}]"#),
                ("vice_general_manager", "management", "Deng", #"[{"channel":"wecom","address":"engineering"}]"#),
            ])
            // As billing publishes it: a ¥1,234.50 cost's approval step, for the vice GM.
            let payload = BillingEventPayload(subject: "approval_step", subjectID: UUID(), reference: "T-20261123-0042", amountFen: 123_450,
                                              ticketID: UUID(), recipients: [Recipient(.viceGeneralManager, .management)], action: "approve",
                                              actor: "Wang", note: "更换水泵")
            try await s.publish(EventEnvelope(type: "billing.approval.requested", property: s.property, payload: try JSONValue(encoding: payload)))
            do {
                let got = try await s.receiver.wait { $0.contains { $0.path == "/wecom" } }
                let message = try #require(got.first { $0.path == "/wecom" }, "\(got.map(\.path))")
                let text = "\(message.json)"
                #expect(text.contains("T-20261123-0042") && text.contains("¥1,234.50") && text.contains("审批"), "\(text)")
                #expect(try await s.deliveries().map(\.recipient) == ["Deng"], "the approver hears of it, not the finance manager")
            } catch {
                try? await s.stop()
                throw error
            }
            try await s.stop()
        }

        @Test func anEmailArrivesAtARealSMTPServer() async throws {
            let smtpPort = 28_198
            let mailbox = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-mail-\(Servers.unique())")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/local/smtp-sink.py").path
            let sink = try Subprocess("/usr/bin/python3", [script, "\(smtpPort)", mailbox.path])
            defer { sink.signal(SIGTERM) }
            try await eventually("the SMTP sink listening") { sink.output.contains("smtp sink listening") }
            let s = try await NotifyScenario(roster: [("general_manager", nil, "Zhou", #"[{"channel":"email","address":"zhou@example.com"}]"#)],
                                             extra: ["PROPDESK_SMTP_URL": "smtp://127.0.0.1:\(smtpPort)", "PROPDESK_SMTP_FROM": "desk@example.com"])
            let id = UUID()
            try await s.breach(id: id, tell: [Recipient(.generalManager)], standard: "C3")
            var files: [String] = []
            for _ in 0..<100 where files.isEmpty {
                files = (try? FileManager.default.contentsOfDirectory(atPath: mailbox.path).filter { $0.hasSuffix(".eml") }) ?? []
                try await Task.sleep(for: .milliseconds(100))
            }
            let mail = try String(contentsOf: mailbox.appendingPathComponent(try #require(files.first)), encoding: .utf8)
            #expect(mail.contains("To: zhou@example.com"))
            #expect(mail.contains("Message-ID: <\(id.uuidString.lowercased()).Zhou.email@propdesk>"))
            // The receiver has it before the sender writes the outcome: wait for the record.
            let recorded = try await eventually("the delivery's outcome recorded") { () -> [String]? in
                let states = try await s.deliveries().map(\.state)
                return states.contains("sending") || states.contains("pending") ? nil : states
            }
            #expect(recorded == ["sent"])
            try await s.stop()
        }

        @Test func aRelayThatAnswersEachStepJustInTimeStillFailsWithinTheTimeoutAndIsNeverInDoubt() async throws {
            let smtpPort = 28_197
            let mailbox = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-mail-\(Servers.unique())")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/local/smtp-sink.py").path
            // 1.5 s before each of the session's seven replies: each within the 2 s timeout, 10.5 s in all,
            // longer than the delivery's lease (2 × 2 s + 5 s).
            let sink = try Subprocess("/usr/bin/python3", [script, "\(smtpPort)", mailbox.path, "1.5"])
            defer { sink.signal(SIGTERM) }
            try await eventually("the slow SMTP sink listening") { sink.output.contains("smtp sink listening") }
            let s = try await NotifyScenario(roster: [("general_manager", nil, "Zhou", #"[{"channel":"email","address":"zhou@example.com"}]"#)],
                                             extra: ["PROPDESK_SMTP_URL": "smtp://127.0.0.1:\(smtpPort)", "PROPDESK_SMTP_FROM": "desk@example.com",
                                                     "PROPDESK_NOTIFY_HTTP_TIMEOUT_SECONDS": "2", "PROPDESK_NOTIFY_MAX_ATTEMPTS": "2"])
            try await s.breach(tell: [Recipient(.generalManager)], standard: "C3")
            let d = try await eventually("the delivery given up", timeout: .seconds(40)) { () -> [(recipient: String, channel: String, state: String, attempts: Int)]? in
                let d = try await s.deliveries()
                return d.contains { $0.state != "pending" && $0.state != "sending" } ? d : nil
            }
            #expect(d.map(\.state) == ["failed"], "\(d)")
            let errors = try await s.db.query("""
                SELECT a.outcome, coalesce(a.error, '') FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.property = $1 ORDER BY attempt
                """, [s.property]).map { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
            #expect(errors.map(\.0) == ["failed", "failed"])
            #expect(errors.allSatisfy { $0.1.contains("timed out") }, "\(errors)")
            try await s.stop()
        }

        @Test func theCallerHearsTheirNumberAndTheirPhoneAppearsInNoStaffMessageAndNoLog() async throws {
            let desk = try await DeskScenario()
            let s = try await NotifyScenario(roster: [
                ("control_room", "security", "Control", #"[{"channel":"webhook","address":"desk"}]"#),
                ("technician", "engineering", "Qian", #"[{"channel":"wecom","address":"engineering"}]"#),
                ("technician", "security", "Feng", #"[{"channel":"dingtalk","address":"security"}]"#),
            ], property: desk.property)
            try await s.db.execute("""
                INSERT INTO residents (id, property, building, unit, name, phone, relation, preferred_channel, contact_consent)
                VALUES ($1, $2, '9号楼', '1单元0101', '周敏', '139 1234 5678', 'owner', 'sms', true)
                """, [UUID(), desk.property])
            let reply = try await desk.file(["kind": "emergency", "emergency_type": "stopped_lift", "caller_phone": "13912345678",
                                             "building": "9号楼", "unit": "1单元0101", "content": "电梯困人, 请回电 13912345678"])
            #expect(reply.status == 201)
            let number = try #require(reply.json["number"] as? String)
            let got = try await s.receiver.wait { all in
                Set(all.map(\.path)).isSuperset(of: ["/sms", "/desk", "/wecom", "/dingtalk"])
            }
            let resident = try #require(got.first { $0.path == "/sms" })
            #expect(resident.json["to"] as? String == "139 1234 5678")
            #expect((resident.json["text"] as? String)?.contains(number) == true)
            for staff in got where staff.path != "/sms" {
                #expect(!staff.body.filter(\.isNumber).contains("13912345678"), "a staff message carries the caller's number: \(staff.body)")
                #expect(!staff.body.contains("0101"), "a staff message carries the unit: \(staff.body)")
                #expect(staff.body.contains(number))
            }
            let emergencyText = try #require(got.first { $0.path == "/wecom" }?.json["text"] as? [String: Any])["content"] as? String
            #expect(emergencyText?.contains("紧急") == true)
            try await s.stop()
            try await desk.stop()
            #expect(!s.service.output.isEmpty)
            #expect(!s.service.output.contains("13912345678") && !s.service.output.contains("1234 5678"), "the log shows the caller's number")
        }
    }
}
