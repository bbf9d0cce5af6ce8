import AMQP
import Desk
import Domain
import Foundation
import LocalReceivers
import Messaging
import Notify
import Postgres
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real TLS mail server (aiosmtpd, Tests/Receivers/smtp_tls_server.py) with a certificate from
/// a CA this test makes with openssl: the server's certificate names 127.0.0.1 and localhost.
struct TLSMailServer {
    let process: Subprocess
    let mailbox: URL
    let port: Int
    /// The CA that signed the server's certificate (PROPDESK_SMTP_CA_FILE).
    let ca: String

    /// Tests/Receivers/make-test-certificates: a CA and the server's certificate, signed by it.
    static func certificates() async throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-tls-\(Servers.unique())")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Receivers/make-test-certificates").path
        let make = try Subprocess("/bin/sh", [script, dir.path])
        guard try await make.wait(timeout: .seconds(60)) == 0 else { throw SetupError("the test certificates: \(make.output)") }
        return dir
    }

    /// `mode`: starttls or implicit; `extra`: the server's options (--user, --hold-first, --mechanisms).
    init(port: Int, mode: String, extra: [String] = []) async throws {
        let certs = try await Self.certificates()
        mailbox = certs.appendingPathComponent("mail")
        self.port = port
        ca = certs.appendingPathComponent("ca.pem").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Receivers/smtp_tls_server.py").path
        // The python3 on PATH: the one deploy/local/test installed aiosmtpd into.
        process = try Subprocess("/usr/bin/env", ["python3", script, "\(port)", mailbox.path, mode, certs.appendingPathComponent("server.pem").path,
                                                      certs.appendingPathComponent("server.key").path] + extra)
        let process = process
        try await eventually("the TLS mail server listening") { process.output.contains("smtp tls server listening") }
    }

    func stop() { process.signal(SIGTERM) }

    /// The server's log: CONNECT, STARTTLS, AUTH <mechanism> ok tls=True, DATA <to> tls=… auth=… peer=<port>.
    var events: [String] {
        ((try? String(contentsOf: mailbox.appendingPathComponent("events.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    var data: [String] { events.filter { $0.hasPrefix("DATA ") } }

    var messages: [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: mailbox.path)) ?? []).filter { $0.hasSuffix(".eml") }.sorted()
        return names.compactMap { try? String(contentsOf: mailbox.appendingPathComponent($0), encoding: .utf8) }
    }
}

extension RealServers {
    @Suite("Channels: mail over TLS, signed DingTalk robots, WeChat, shared limits and SMS receipts")
    struct ChannelTests {
        typealias Row = (recipient: String, channel: String, state: String, attempts: Int)

        static func settled(_ s: NotifyScenario, count: Int, timeout: Duration = .seconds(30)) async throws -> [Row] {
            try await eventually("\(count) deliveries settled", timeout: timeout) { () -> [Row]? in
                let d = try await s.deliveries()
                return d.count >= count && d.allSatisfy({ $0.state != "pending" && $0.state != "sending" }) ? d : nil
            }
        }

        @Test func mailGoesOverSTARTTLSWithAPasswordOnlyAfterTLSAndThreeMessagesShareOneConnection() async throws {
            let mail = try await TLSMailServer(port: 28_301, mode: "starttls", extra: ["--user", "desk@example.com", "--password", "pa55-word"])
            defer { mail.stop() }
            let s = try await NotifyScenario(roster: [("general_manager", nil, "Zhou", #"[{"channel":"email","address":"zhou@example.com"}]"#)],
                                             extra: ["PROPDESK_SMTP_URL": "smtp+starttls://desk%40example.com:pa55-word@127.0.0.1:28301",
                                                     "PROPDESK_SMTP_CA_FILE": mail.ca, "PROPDESK_SMTP_FROM": "desk@example.com"])
            for standard in ["C3", "C4", "C5"] {
                try await s.breach(tell: [Recipient(.generalManager)], standard: standard)
                // One after the other: the next one finds the first's connection idle and takes it.
                _ = try await Self.settled(s, count: mail.data.count + 1)
            }
            let d = try await Self.settled(s, count: 3)
            #expect(d.map(\.state) == ["sent", "sent", "sent"], "\(d)")
            #expect(mail.messages.count == 3 && mail.messages.allSatisfy { $0.contains("To: zhou@example.com") })
            #expect(mail.data.allSatisfy { $0.contains("tls=True auth=True") }, "\(mail.events)")
            #expect(mail.events.filter { $0.hasPrefix("AUTH") } == ["AUTH PLAIN ok tls=True"], "one sign-in, over TLS: \(mail.events)")
            let connections = Set(mail.data.compactMap { $0.split(separator: "peer=").last })
            #expect(connections.count == 1, "the three messages came over one connection: \(mail.data)")
            try await s.stop()
        }

        @Test func mailOverImplicitTLSSignsInWithLOGINWhenThatIsAllTheServerOffers() async throws {
            let mail = try await TLSMailServer(port: 28_302, mode: "implicit",
                                               extra: ["--user", "desk", "--password", "secret", "--mechanisms", "LOGIN"])
            defer { mail.stop() }
            let s = try await NotifyScenario(roster: [("general_manager", nil, "Zhou", #"[{"channel":"email","address":"zhou@example.com"}]"#)],
                                             extra: ["PROPDESK_SMTP_URL": "smtps://desk:secret@localhost:28302", "PROPDESK_SMTP_CA_FILE": mail.ca])
            try await s.breach(tell: [Recipient(.generalManager)], standard: "C3")
            #expect(try await Self.settled(s, count: 1).map(\.state) == ["sent"])
            #expect(mail.events.contains("AUTH LOGIN ok tls=True"), "\(mail.events)")
            #expect(mail.data.count == 1 && mail.data[0].contains("tls=True auth=True"))
            try await s.stop()
        }

        @Test func aMailServerWhoseCertificateIsNotTrustedFailsEachAttemptWithThatReasonThenTheNextContactIsTried() async throws {
            let mail = try await TLSMailServer(port: 28_303, mode: "starttls")
            defer { mail.stop() }
            // No PROPDESK_SMTP_CA_FILE: the system's store does not know the test's CA.
            let s = try await NotifyScenario(roster: [
                ("general_manager", nil, "Zhou", #"[{"channel":"email","address":"zhou@example.com"},{"channel":"sms","address":"13800000051"}]"#),
            ], extra: ["PROPDESK_SMTP_URL": "smtp+starttls://127.0.0.1:28303", "PROPDESK_NOTIFY_MAX_ATTEMPTS": "3"])
            try await s.breach(tell: [Recipient(.generalManager)], standard: "C3")
            let d = try await Self.settled(s, count: 2)
            #expect(d.map(\.channel) == ["email", "sms"] && d.map(\.state) == ["fell_back", "sent"], "\(d)")
            #expect(d[0].attempts == 3, "a certificate error is retried like any failure that may pass")
            let errors = try await s.db.query("""
                SELECT a.error FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
                WHERE d.property = $1 AND d.channel = 'email' ORDER BY a.attempt
                """, [s.property]).map { try $0.decode(0, as: String?.self) ?? "" }
            #expect(errors.count == 3 && errors.allSatisfy { $0.contains("certificate is not trusted") }, "\(errors)")
            #expect(mail.data.isEmpty && mail.events.filter { $0.hasPrefix("AUTH") }.isEmpty, "nothing was sent over the untrusted connection")
            try await s.stop()
        }

        @Test func aKill9DuringATLSSendLeavesItUnknownAndItIsNeverSentAgain() async throws {
            let mail = try await TLSMailServer(port: 28_304, mode: "implicit", extra: ["--hold-first", "60"])
            defer { mail.stop() }
            var s = try await NotifyScenario(roster: [("general_manager", nil, "Zhou", #"[{"channel":"email","address":"zhou@example.com"}]"#)],
                                             extra: ["PROPDESK_SMTP_URL": "smtps://127.0.0.1:28304", "PROPDESK_SMTP_CA_FILE": mail.ca,
                                                     "PROPDESK_NOTIFY_HTTP_TIMEOUT_SECONDS": "2"])
            try await s.breach(tell: [Recipient(.generalManager)], standard: "C3")
            // The server has the message and holds its answer: the sender dies now.
            try await eventually("the message at the server") { mail.data.count == 1 }
            try await s.killAndRestart()
            let first = try await eventually("the send in doubt marked unknown", timeout: .seconds(30)) { () -> [Row]? in
                let d = try await s.deliveries()
                return d.map(\.state) == ["unknown"] ? d : nil
            }
            #expect(first.count == 1)
            // The restarted sender works (a second event's mail arrives), and the first was not sent again.
            try await s.breach(tell: [Recipient(.generalManager)], standard: "C4")
            let d = try await Self.settled(s, count: 2)
            #expect(d.map(\.state) == ["unknown", "sent"], "\(d)")
            #expect(mail.data.count == 2, "the message in doubt went once: \(mail.data)")
            try await s.stop()
        }

        @Test func aSignedDingTalkRobotIsAcceptedAndAWrongSecretFailsAtOnceAndTheNextContactIsTried() async throws {
            let base = "http://127.0.0.1:\(NotifyScenario.receiverPort)"
            let s = try await NotifyScenario(roster: [
                ("supervisor", "customer_service", "Ma", #"[{"channel":"dingtalk","address":"signed"}]"#),
                ("technician", "engineering", "Qian", #"[{"channel":"dingtalk","address":"wrong"},{"channel":"sms","address":"13800000052"}]"#),
            ], extra: ["PROPDESK_DINGTALK_ROBOTS": "signed=\(base)/dingtalk-signed?access_token=t1;wrong=\(base)/dingtalk-signed?access_token=t2",
                       "PROPDESK_DINGTALK_SECRETS": "signed=SEC-the-right-one;wrong=SEC-an-old-one"])
            s.receiver.signedDingTalk("/dingtalk-signed", secret: "SEC-the-right-one")
            try await s.breach(tell: [Recipient(.supervisor, .customerService), Recipient(.technician, .engineering)])
            let d = try await Self.settled(s, count: 3)
            let byPerson = Dictionary(grouping: d, by: \.recipient)
            #expect(byPerson["Ma"]?.map(\.state) == ["sent"])
            #expect(byPerson["Qian"]?.map(\.channel) == ["dingtalk", "sms"] && byPerson["Qian"]?.map(\.state) == ["fell_back", "sent"], "\(d)")
            #expect(byPerson["Qian"]?.first?.attempts == 1, "a wrong signature is not retried")
            let signed = s.receiver.requests("/dingtalk-signed")
            #expect(signed.count == 2 && signed.allSatisfy { $0.query["timestamp"] != nil && $0.query["sign"] != nil && $0.query["access_token"] != nil })
            let error = try await s.db.query("SELECT last_error FROM deliveries WHERE property = $1 AND recipient = 'Qian' AND channel = 'dingtalk'",
                                             [s.property]).first.flatMap { try $0.decode(0, as: String?.self) }
            #expect(error?.contains("310000") == true, "\(String(describing: error))")
            try await s.stop()
        }

        @Test func residentsHearOnWeChatInTheirTemplateWithOneTokenForTwoReplicasAndOneRefetchWhenItExpires() async throws {
            let desk = try await DeskScenario()
            let base = "http://127.0.0.1:\(NotifyScenario.receiverPort)"
            let s = try await NotifyScenario(roster: [("technician", "engineering", "Qian", #"[{"channel":"webhook","address":"desk"}]"#)],
                                             extra: ["PROPDESK_WECHAT_APP_ID": "wx-test-app", "PROPDESK_WECHAT_APP_SECRET": "app-secret",
                                                     "PROPDESK_WECHAT_API_URL": "\(base)/wechat",
                                                     "PROPDESK_WECHAT_TEMPLATES": "received=TPL-RECEIVED:character_string1=number,thing2=kind,time3=time,phrase4=status"],
                                             property: desk.property)
            try await s.db.execute("DELETE FROM channel_tokens")
            let second = try await NotifyScenario.startService(s.environment, port: NotifyScenario.port + 1)
            defer { second.signal(SIGTERM) }
            try await s.db.execute("""
                INSERT INTO residents (id, property, building, unit, name, phone, relation, preferred_channel, contact_consent, wechat_openid)
                VALUES ($1, $2, '7号楼', '1单元0701', '李娜', '13900000077', 'owner', 'wechat', true, 'oLiNa_openid_0077')
                """, [UUID(), desk.property])
            var numbers: [String] = []
            for _ in 0..<3 {
                let reply = try await desk.file(["kind": "repair", "caller_phone": "13900000077", "building": "7号楼", "unit": "1单元0701",
                                                 "content": "水龙头漏水"])
                #expect(reply.status == 201)
                numbers.append(try #require(reply.json["number"] as? String))
            }
            func sent() -> [WebhookReceiver.Received] {
                s.receiver.requests("/wechat/cgi-bin/message/template/send").filter { $0.replyID != nil }
            }
            _ = try await s.receiver.wait(timeout: .seconds(30)) { _ in sent().count >= 3 }
            #expect(s.receiver.weChatTokenFetches.fetches == 1, "two replicas, one token: \(s.receiver.weChatTokenFetches)")
            let first = try #require(sent().first)
            #expect(first.json["touser"] as? String == "oLiNa_openid_0077" && first.json["template_id"] as? String == "TPL-RECEIVED")
            let data = try #require(first.json["data"] as? [String: [String: String]])
            #expect(numbers.contains(data["character_string1"]?["value"] ?? ""))
            #expect(data["thing2"]?["value"] == "报修" && data["phrase4"]?["value"] == "已受理")
            #expect(data["time3"]?["value"]?.contains("年") == true)

            // The token expires at WeChat: the next send is refused, one new token is fetched, and it goes.
            s.receiver.expireWeChatToken()
            let reply = try await desk.file(["kind": "repair", "caller_phone": "13900000077", "building": "7号楼", "unit": "1单元0701", "content": "门铃坏了"])
            numbers.append(try #require(reply.json["number"] as? String))
            _ = try await s.receiver.wait(timeout: .seconds(30)) { _ in sent().count >= 4 }
            let refused = s.receiver.requests("/wechat/cgi-bin/message/template/send").filter { $0.replyID == nil }
            #expect(refused.count == 1, "one send with the expired token")
            #expect(s.receiver.weChatTokenFetches == (2, 2), "one refetch: \(s.receiver.weChatTokenFetches)")
            let delivered = sent().compactMap { ($0.json["data"] as? [String: [String: String]])?["character_string1"]?["value"] }
            #expect(delivered.sorted() == numbers.sorted(), "each ticket's message arrived once")
            let states = try await s.db.query("SELECT channel, state FROM deliveries WHERE property = $1 AND audience = 'resident'", [desk.property])
                .map { "\(try $0.decode(0, as: String.self)):\(try $0.decode(1, as: String.self))" }
            #expect(states == Array(repeating: "wechat:sent", count: 4), "\(states)")
            second.signal(SIGTERM)
            _ = try await second.wait(timeout: .seconds(15))
            #expect(!second.output.contains("oLiNa_openid_0077") && !s.service.output.contains("oLiNa_openid_0077"), "the OpenID is not logged")
            try await s.stop()
            try await desk.stop()
        }

        @Test func twoReplicasShareARobotsAllowanceOfTwentyAMinuteAnEscalationIsNotHeldAndEveryMessageArrivesOnce() async throws {
            let base = "http://127.0.0.1:\(NotifyScenario.receiverPort)"
            let s = try await NotifyScenario(roster: [("technician", "engineering", "Qian", #"[{"channel":"dingtalk","address":"limited"}]"#)],
                                             extra: ["PROPDESK_DINGTALK_ROBOTS": "limited=\(base)/limited", "PROPDESK_NOTIFY_LIMITS": "dingtalk=20/min"])
            let second = try await NotifyScenario.startService(s.environment, port: NotifyScenario.port + 1)
            defer { second.signal(SIGTERM) }
            for _ in 0..<60 { try await s.followUpDue(tell: [Recipient(.technician, .engineering)]) }
            // Follow-ups are not urgent (their ticket number is T-…-0002); an escalation is (T-…-0001).
            func followUps(_ r: [WebhookReceiver.Received]) -> [WebhookReceiver.Received] {
                r.filter { $0.path == "/limited" && $0.body.contains("T-20261123-0002") }
            }
            let firstRound = try await s.receiver.wait(timeout: .seconds(30)) { followUps($0).count >= 20 }
            #expect(followUps(firstRound).count == 20, "the first minute's allowance went at once")
            // The minute's allowance is spent and 40 wait; an escalation now is not held behind them.
            let escalated = Date()
            try await s.breach(tell: [Recipient(.technician, .engineering)])
            let urgent = try await s.receiver.wait(timeout: .seconds(30)) { $0.contains { $0.path == "/limited" && $0.body.contains("T-20261123-0001") } }
                .first { $0.path == "/limited" && $0.body.contains("T-20261123-0001") }
            let heardAfter = try #require(urgent, "the escalation reached the robot").at.timeIntervalSince(escalated)
            #expect(heardAfter < 30, "the escalation went in \(heardAfter) s, not after the waiting follow-ups")
            #expect(followUps(s.receiver.requests()).count == 20, "the follow-ups still wait for the next minute")
            // 20 now, 20 a minute (and the window's margin) later, 20 after that.
            let got = try await followUps(s.receiver.wait(timeout: .seconds(200)) { followUps($0).count >= 60 }).map(\.at).sorted()
            #expect(got.count == 60)
            for (i, start) in got.enumerated() {
                let inMinute = got[i...].prefix { $0.timeIntervalSince(start) < 60 }.count
                #expect(inMinute <= 20, "\(inMinute) messages in the minute from \(start)")
            }
            let d = try await Self.settled(s, count: 61)
            #expect(d.count == 61 && d.allSatisfy { $0.state == "sent" && $0.attempts == 1 }, "each once, none refused by the robot")
            let senders = try await s.db.query("""
                SELECT count(DISTINCT date_trunc('second', a.started_at)) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
                WHERE d.property = $1
                """, [s.property]).first?.decode(0, as: Int.self)
            #expect((senders ?? 0) >= 3, "sent in three rounds, not at once")
            second.signal(SIGTERM)
            _ = try await second.wait(timeout: .seconds(15))
            try await s.stop()
        }

        @Test func smsReceiptsMarkDeliveredTryTheNextContactOnFailureAndChangeNothingWhenUnknownReplayedOrUnsigned() async throws {
            let s = try await NotifyScenario(roster: [
                ("supervisor", "customer_service", "Ma", #"[{"channel":"sms","address":"13800000061"}]"#),
                ("technician", "engineering", "Qian", #"[{"channel":"sms","address":"13800000062"},{"channel":"webhook","address":"desk"}]"#),
            ], extra: ["PROPDESK_SMS_REPLY_ID": "BizId", "PROPDESK_SMS_RECEIPT_KEY": "receipt-key-1"])
            let events = try await Servers.scratchQueue(s.amqp, routingKey: "notification.delivery.*.\(s.property)")
            try await s.breach(tell: [Recipient(.supervisor, .customerService), Recipient(.technician, .engineering)])
            _ = try await Self.settled(s, count: 2)
            let sms = s.receiver.requests("/sms")
            let ma = try #require(sms.first { $0.body.contains("13800000061") }?.replyID)
            let qian = try #require(sms.first { $0.body.contains("13800000062") }?.replyID)
            let url = "http://127.0.0.1:\(NotifyScenario.port)/sms/receipts"
            func post(_ path: String, _ body: String, contentType: String = "application/json") async throws -> (Int, [String: Any]) {
                var request = URLRequest(url: try #require(URL(string: url + path)))
                request.httpMethod = "POST"
                request.httpBody = Data(body.utf8)
                request.setValue(contentType, forHTTPHeaderField: "Content-Type")
                let (data, response) = try await URLSession.shared.data(for: request)
                return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
            }
            func receipts() async throws -> Int { try await s.db.query("SELECT count(*) FROM sms_receipts").first?.decode(0, as: Int.self) ?? -1 }
            let before = try await receipts()
            let batch = """
                [{"phone_number":"1380000****","send_time":"2026-12-02 10:00:00","report_time":"2026-12-02 10:00:05","success":true,
                  "err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"\(ma)","out_id":""},
                 {"phone_number":"1380000****","send_time":"2026-12-02 10:00:00","report_time":"2026-12-02 10:00:09","success":false,
                  "err_code":"MK:0001","err_msg":"空号","sms_size":"1","biz_id":"\(qian)","out_id":""}]
                """
            // No key, a wrong key, the wrong media type, a NUL in an id: refused, nothing recorded.
            #expect(try await post("/aliyun", batch).0 == 401)
            let wrong = try await post("/aliyun?key=guess", batch)
            #expect(wrong.0 == 401 && wrong.1["code"] as? String == "receipt_key_invalid")
            #expect(try await post("/aliyun?key=receipt-key-1", batch, contentType: "text/plain").0 == 415)
            #expect(try await post("/aliyun?key=receipt-key-1", #"[{"biz_id":"a\u0000b","success":true}]"#).0 == 422)
            #expect(try await receipts() == before)

            let ok = try await post("/aliyun?key=receipt-key-1", batch)
            #expect(ok.0 == 200 && ok.1["code"] as? Int == 0)
            let d = try await Self.settled(s, count: 3)
            let byPerson = Dictionary(grouping: d, by: \.recipient)
            #expect(byPerson["Ma"]?.map(\.state) == ["delivered"], "\(d)")
            #expect(byPerson["Qian"]?.map(\.channel) == ["sms", "webhook"] && byPerson["Qian"]?.map(\.state) == ["fell_back", "sent"], "\(d)")
            _ = try await s.receiver.wait { $0.contains { $0.path == "/desk" } }

            // The same batch again, and a receipt for a message nobody sent: recorded, nothing moves.
            #expect(try await post("/aliyun?key=receipt-key-1", batch).0 == 200)
            let tencent = try await post("/tencent?key=receipt-key-1", """
                [{"user_receive_time":"2026-12-02 10:01:00","nationcode":"86","mobile":"13800000063","report_status":"SUCCESS",
                  "errmsg":"DELIVRD","description":"用户短信送达成功","sid":"no-such-message"}]
                """)
            #expect(tencent.0 == 200 && tencent.1["result"] as? Int == 0)
            let after = try await s.deliveries()
            #expect(after.map(\.state) == d.map(\.state), "\(after)")
            let outcomes = try await s.db.query("SELECT outcome FROM sms_receipts ORDER BY id DESC LIMIT 3")
                .map { try $0.decode(0, as: String.self) }.reversed()
            #expect(Array(outcomes) == ["applied", "applied", "unknown"], "\(outcomes)")
            #expect(try await receipts() == before + 3)
            let published = try await Servers.collect(s.amqp, queue: events, idle: .seconds(1), timeout: .seconds(10), until: { $0.count >= 1 })
            let types = try published.map { try EventEnvelope.decode($0.body).type }
            #expect(types == ["notification.delivery.delivered"], "\(types)")
            #expect(!s.service.output.contains("13800000061") && !s.service.output.contains("1380000****"))
            try await s.stop()
        }
    }
}
