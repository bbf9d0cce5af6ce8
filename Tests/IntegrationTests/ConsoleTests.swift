import Desk
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Identity
import LocalReceivers
import Postgres
import Testing

/// The console (issue 15) on the real intake, dispatch and escalation: its pages' headers and
/// refusals over HTTP, and the desk and a technician at work in two real browsers
/// (Tests/Browser/console_test.py: headless Chromium driven by Selenium).
struct ConsoleScenario: ServerScenario {
    let clocks: ClockScenario
    let escalation: Subprocess
    var desk: DeskScenario { clocks.desk }
    var base: String { "http://127.0.0.1:\(DeskScenario.intakePort)" }

    /// R2 (a stuck lift's first step) in 15 s: long enough to watch its countdown, short enough
    /// to see it breach. The residents' quiet hours start two hours from now, so the survey call
    /// in the browser is made whatever the hour (the refusal in them is RecordTests').
    init() async throws {
        clocks = try await ClockScenario(rules: [ClockScenario.fast("R2", [15])],
                                         intake: ["PROPDESK_QUIET_HOURS": QuietWindow.around(from: 7200, to: 10800)])
        escalation = try await clocks.startEscalation(7)
    }

    func stop() async throws { try await clocks.stop([escalation]) }

    func session(_ account: TestAccount) async throws -> (cookie: String, csrf: String) {
        try await consoleSession(account, port: DeskScenario.intakePort)
    }

    /// A GET as a browser makes it (redirects followed): the final answer and where it came from.
    func page(_ path: String, cookie: String?) async throws -> (status: Int, headers: [String: String], body: String, url: String) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpShouldHandleCookies = false
        if let cookie { request.setValue(cookie, forHTTPHeaderField: "Cookie") }
        let (data, response) = try await DeskScenario.session.data(for: request)
        let http = response as! HTTPURLResponse
        let headers = Dictionary(http.allHeaderFields.map { ("\($0.key)".lowercased(), "\($0.value)") }, uniquingKeysWith: { a, _ in a })
        return (http.statusCode, headers, String(decoding: data, as: UTF8.self), http.url?.absoluteString ?? "")
    }
}

/// A browser's session for `account` at the intake on `port`: the cookie header and the CSRF token.
func consoleSession(_ account: TestAccount, port: Int) async throws -> (cookie: String, csrf: String) {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/auth/login")!)
    request.httpMethod = "POST"
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    request.httpBody = try JSONSerialization.data(withJSONObject: account.credentials(kind: "session"))
    request.httpShouldHandleCookies = false
    let (data, response) = try await DeskScenario.session.data(for: request)
    let http = response as! HTTPURLResponse
    guard http.statusCode == 200, let setCookie = http.value(forHTTPHeaderField: "Set-Cookie"),
          let csrf = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["csrf_token"] as? String else {
        throw SetupError("session sign-in failed: \(http.statusCode) \(String(decoding: data, as: UTF8.self))")
    }
    return (String(setCookie.split(separator: ";")[0]), csrf)
}

/// Reads `streams` until an event contains `needle` (or `timeout` passes): every event read.
func events(_ streams: EventStreams, until needle: String, timeout: TimeInterval = 15) -> [String] {
    var got: [String] = []
    let deadline = Date().addingTimeInterval(timeout)
    streams.read(until: { got.contains { $0.contains(needle) } || Date() > deadline }, event: { _, text, _ in got.append(text) })
    return got
}

extension RealServers {
    @Suite("The console: pages behind the session, live in a real browser")
    struct ConsoleTests {
        @Test func everyPageSendsAStrictContentSecurityPolicyRunsNoInlineScriptAndRefusesOutsidersAsHTML() async throws {
            try await ConsoleScenario.run { s async throws in
                let technician = try await TestAccount.create(s.desk.db, roles: [.technician], departments: [.engineering], properties: [s.desk.property])
                let (cookie, _) = try await s.session(technician)
                // A cleaning ticket: another department's, which the engineer must not reach.
                let other = try await s.desk.file(["kind": "public_anomaly", "content": "楼道垃圾没人清理"])
                let otherID = try #require(other.json["id"] as? String)
                _ = try await s.desk.workOrders(otherID, count: 1)

                let signedOut = try await s.page("/console/board?kind=repair", cookie: nil)
                #expect(signedOut.url == s.base + "/console/login?next=/console/board%3Fkind%3Drepair" && signedOut.body.contains("id=\"login\""),
                        "\(signedOut.url)")
                for path in ["/console/work", "/console/board", "/console/tickets/\(otherID)", "/console/call", "/console/supervisor"] {
                    let page = try await s.page(path, cookie: cookie)
                    let csp = page.headers["content-security-policy"] ?? ""
                    #expect(csp.contains("script-src 'self'") && csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "\(path): \(csp)")
                    #expect(page.headers["content-type"]?.hasPrefix("text/html") == true, "\(path)")
                    // Every script is the console's own file; no inline handlers.
                    let scripts = page.body.matches(of: /<script[^>]*>/).map { String($0.output) }
                    #expect(scripts.allSatisfy { $0 == "<script src=\"/console/assets/console.js\" defer>" }, "\(path): \(scripts)")
                    #expect(page.body.firstMatch(of: /\son[a-z]+=/) == nil, "\(path) has an inline event handler")
                    switch path {
                    case "/console/work", "/console/board": #expect(page.status == 200, "\(path)")
                    case "/console/tickets/\(otherID)": #expect(page.status == 404, "another department's ticket reads as missing")
                    default: #expect(page.status == 403, "\(path) is not a technician's page: \(page.status)")
                    }
                }
                // The stream refuses the signed-out with JSON, not a redirect.
                let stream = try await s.page("/console/events", cookie: nil)
                #expect(stream.status == 401 && stream.body.contains("not_signed_in"))
                // The language switch goes back only to a console page, never to another site.
                let away = try await s.page("/console/lang/en?back=//evil.example/", cookie: nil)
                #expect(away.url.hasPrefix(s.base + "/console/login"), "\(away.url)")
            }
        }

        @Test func twoTechniciansTakingAtOnceGetDifferentOrdersAndAThirdFindsTheQueueEmpty() async throws {
            try await DeskScenario.run { s async throws in
                for text in ["厨房水管漏水", "客厅灯不亮"] {
                    let filed = try await s.file(["kind": "repair", "content": text])
                    let id = try #require(filed.json["id"] as? String)
                    let orders = try await s.workOrders(id, count: 1)
                    #expect(orders.contains { $0["department"] as? String == "engineering" }, "\(orders)")
                }
                var tokens: [String] = []
                for name in ["张师傅", "李师傅", "赵师傅"] {
                    let account = try await TestAccount.create(s.db, roles: [.technician], departments: [.engineering], properties: [s.property], name: name)
                    tokens.append(try await account.signIn(port: DeskScenario.intakePort))
                }
                let take = try JSONSerialization.data(withJSONObject: ["department": "engineering"])
                let one = tokens[0], two = tokens[1]
                async let first = s.request("POST", "/work-orders/take", body: take, headers: ["Authorization": "Bearer \(one)"])
                async let second = s.request("POST", "/work-orders/take", body: take, headers: ["Authorization": "Bearer \(two)"])
                let (a, b) = try await (first, second)
                #expect(a.status == 200 && b.status == 200, "\(a.status) \(a.json) / \(b.status) \(b.json)")
                #expect(a.json["id"] as? String != b.json["id"] as? String)
                #expect(Set([a.json["assignee"] as? String, b.json["assignee"] as? String]) == ["张师傅", "李师傅"])
                #expect(a.json["status"] as? String == "accepted" && b.json["status"] as? String == "accepted")
                let third = try await s.request("POST", "/work-orders/take", body: take, headers: ["Authorization": "Bearer \(tokens[2])"])
                #expect(third.status == 404 && third.code == "not_found", "\(third.status) \(third.json)")
                // Another department's queue reads like an empty one.
                let security = try JSONSerialization.data(withJSONObject: ["department": "security"])
                let elsewhere = try await s.request("POST", "/work-orders/take", body: security, headers: ["Authorization": "Bearer \(tokens[2])"])
                #expect(elsewhere.status == 404)
            }
        }

        @Test func twoIntakeReplicasEachPushEveryChangeAndAReconnectResumesThereOrIsToldToReload() async throws {
            try await DeskScenario.run { s async throws in
                let env = RealServers.ServiceProcessTests.self
                let secondPort = DeskScenario.intakePort + 15
                let second = try Subprocess(try env.binary("intake"), ["serve"], environment: env.environment(service: "intake", [
                    "PROPDESK_HTTP_PORT": "\(secondPort)", "PROPDESK_INSTANCE": "console-b"]))
                guard try await env.waitReady(port: secondPort) else { throw SetupError("the second intake did not start:\n\(second.output)") }
                let desk = try await TestAccount.create(s.db, roles: [.operator_], properties: [s.property])
                let (cookie, _) = try await consoleSession(desk, port: DeskScenario.intakePort)
                let path = "/console/events?view=board&property=\(s.property)&after="
                let a = try EventStreams(host: "127.0.0.1", port: DeskScenario.intakePort, path: path, cookie: cookie, count: 1)
                let b = try EventStreams(host: "127.0.0.1", port: secondPort, path: path, cookie: cookie, count: 1)
                try a.waitConnected(timeout: 20)
                try b.waitConnected(timeout: 20)

                // Filed at the first replica: both replicas' pages get it.
                let filed = try #require(try await s.file(["kind": "repair", "content": "走廊灯坏了"]).json["number"] as? String)
                #expect(events(a, until: filed).contains { $0.contains(filed) }, "the first replica's page")
                let seenOnB = events(b, until: filed)
                #expect(seenOnB.contains { $0.contains(filed) }, "the second replica's page")
                // (A chunk's size line ends in \r\n, one Character to Swift: split on any newline.)
                let lastOnB = try #require(seenOnB.last { $0.contains(filed) }?.split(whereSeparator: \.isNewline).first { $0.hasPrefix("id: ") }?.dropFirst(4),
                                           "\(seenOnB.map { String($0.prefix(120)).debugDescription })")
                a.close()
                b.close()

                // Filed while the page was away: reconnecting to the same replica with its last id
                // brings it; to the other replica, whose numbers those are not, says reload.
                let missed = try #require(try await s.file(["kind": "repair", "content": "楼梯扶手松了"]).json["number"] as? String)
                let back = try EventStreams(host: "127.0.0.1", port: secondPort, path: path, cookie: cookie, count: 1,
                                            headers: ["Last-Event-ID": String(lastOnB)])
                #expect(events(back, until: missed).contains { $0.contains(missed) })
                back.close()
                let elsewhere = try EventStreams(host: "127.0.0.1", port: DeskScenario.intakePort, path: path, cookie: cookie, count: 1,
                                                 headers: ["Last-Event-ID": String(lastOnB)])
                #expect(events(elsewhere, until: "event: reload", timeout: 5).first { $0.contains("event: ") }?.contains("event: reload") == true)
                elsewhere.close()
                // A replica that stops ends its streams (the browsers reconnect elsewhere) rather
                // than waiting out its shutdown grace for them.
                let open = try EventStreams(host: "127.0.0.1", port: secondPort, path: path, cookie: cookie, count: 1)
                try open.waitConnected(timeout: 20)
                let stopping = ContinuousClock.now
                second.signal(SIGTERM)
                #expect(try await second.wait(timeout: .seconds(20)) == 0, "\(second.output.suffix(2000))")
                #expect(ContinuousClock.now - stopping < .seconds(10))
                open.close()
            }
        }

        @Test func theDeskFilesAStuckLiftAndATechnicianSeesItAcceptsItAndNeverSeesWhatIsNotTheirs_inARealBrowser() async throws {
            try await ConsoleScenario.run { s async throws in
                let db = s.desk.db, property = s.desk.property
                let phone = "139\(String(Int.random(in: 10_000_000...99_999_999)))"
                let resident = UUID()
                try await db.execute("""
                    INSERT INTO residents (id, property, building, unit, name, phone, relation) VALUES ($1, $2, '3号楼', '2单元1202', '张伟', $3, 'owner')
                    """, [resident, property, phone])
                // On duty all day, every day: the supervisor's view shows them whatever the hour.
                try await db.execute("""
                    INSERT INTO duty_roster (property, role, department, person, contacts) VALUES ($1, 'technician', 'engineering', '值班工程师 老周', '[{"channel": "console", "address": "eng"}]')
                    """, [property])
                // This week's complaints, for the weekly report's Pareto: parking twice, noise once.
                for (i, category) in ["parking", "parking", "noise"].enumerated() {
                    try await db.execute("""
                        INSERT INTO tickets (id, property, number, kind, channel, content, category, severity, taken_by)
                        VALUES ($1, $2, $3, 'complaint', 'phone', 'seeded', $4, 'minor', 'Li Mei')
                        """, [UUID(), property, "WK-\(i + 1)", category])
                }
                let desk = try await TestAccount.create(db, roles: [.operator_], properties: [property], name: "李梅")
                let supervisor = try await TestAccount.create(db, roles: [.supervisor], properties: [property], name: "王主管")
                let technician = try await TestAccount.create(db, roles: [.technician], departments: [.engineering], properties: [property], name: "张师傅")
                // The records page: the next shift's operator, a key in the register, a key-loan
                // ticket to lend it against, and a repair whose order is done, for its sign-off.
                let incoming = try await TestAccount.create(db, roles: [.operator_], properties: [property], name: "中班 王芳")
                try await db.execute("INSERT INTO keys (id, property, label, building, unit, copies) VALUES ($1, $2, '3-2-1202', '3号楼', '2单元1202', 1)",
                                     [UUID(), property])
                let loanTicket = try #require(try await s.desk.file(["kind": "key_loan", "content": "租户借钥匙", "caller_phone": phone]).json["number"] as? String)
                let repair = try #require(try await s.desk.file(["kind": "repair", "category": "plumbing", "content": "厨房水管漏水"]).json["id"] as? String)
                let repairOrder = try #require(try await s.desk.workOrders(repair, count: 1).first?["id"] as? String)
                #expect(try await s.desk.post("/work-orders/\(repairOrder)/resolve", ["outcome": "换了阀门"]).status == 200)
                let other = try await s.desk.file(["kind": "public_anomaly", "content": "楼道垃圾没人清理", "caller_phone": phone])
                let otherID = try #require(other.json["id"] as? String), otherNumber = try #require(other.json["number"] as? String)
                let otherOrders = try await s.desk.workOrders(otherID, count: 1)
                #expect(otherOrders.allSatisfy { $0["department"] as? String != "engineering" })
                // Letters only: a run of digits in a ticket's text is masked on the board, like a phone number.
                let marker = "double-" + String(Servers.unique().map { c in c.isNumber ? Character(UnicodeScalar(c.asciiValue! - 48 + 103)) : c })
                let screenshots = Servers.repositoryRoot.appendingPathComponent(".local/test-artifacts/console").path
                let fixture: [String: Any] = [
                    "url": s.base, "property": property, "screenshots": screenshots, "double_marker": marker,
                    "time_zone": try await db.query("SELECT time_zone FROM properties WHERE code = $1", [property])[0].decode(0, as: String.self),
                    // The property's day the WK complaints were taken: the reports are opened on its
                    // week and month, so a run across midnight Sunday or a month's end still finds them.
                    "seeded_day": try await db.query("""
                        SELECT to_char(t.created_at AT TIME ZONE p.time_zone, 'YYYY-MM-DD') FROM tickets t JOIN properties p ON p.code = t.property
                        WHERE t.property = $1 AND t.number LIKE 'WK-%' ORDER BY t.created_at LIMIT 1
                        """, [property])[0].decode(0, as: String.self),
                    "operator": ["login": desk.login, "password": desk.password, "secret": desk.secret!],
                    "supervisor": ["login": supervisor.login, "password": supervisor.password, "secret": supervisor.secret!],
                    "technician": ["login": technician.login, "password": technician.password],
                    "resident": ["id": resident.uuidString.lowercased(), "phone": phone, "masked": Masking.phone(phone), "name": "张伟", "unit": "2单元1202"],
                    "on_duty": "值班工程师 老周",
                    "other_ticket": ["id": otherID, "number": otherNumber],
                    "incoming": ["login": incoming.login, "password": incoming.password, "secret": incoming.secret!, "name": "中班 王芳"],
                    "loan_ticket": loanTicket, "repair_ticket": repair,
                ]
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("console-fixture-\(Servers.unique()).json")
                try JSONSerialization.data(withJSONObject: fixture).write(to: file)
                defer {
                    try? FileManager.default.removeItem(at: file)
                    try? FileManager.default.removeItem(atPath: file.path + ".result.json")
                }
                var environment = ProcessInfo.processInfo.environment
                environment["PROPDESK_CONSOLE_FIXTURE"] = file.path
                let script = Servers.repositoryRoot.appendingPathComponent("Tests/Browser/console_test.py").path
                let run = try await Subprocess.run("/usr/bin/env", ["python3", script], environment: environment, timeout: .seconds(300))
                #expect(run.status == 0, "the browser checks:\n\(run.output)")
                print(run.output)

                // What the browser saw is on the record: one ticket for the double click, the
                // lift routed to engineering and security and accepted by the technician.
                let result = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file.path + ".result.json"))) as? [String: Any] ?? [:]
                let doubled: Int = try await db.query("SELECT count(*) FROM tickets WHERE property = $1 AND content = $2", [property, marker])[0].decode(0)
                #expect(doubled == 1)
                #expect(result["double_number"] as? String != nil)
                let lift = try #require(result["lift_number"] as? String)
                let rows = try await db.query("""
                    SELECT w.department, w.status, coalesce(w.assignee, '') FROM work_orders w JOIN tickets t ON t.id = w.ticket_id
                    WHERE t.number = $1 ORDER BY w.department
                    """, [lift])
                let orders = try rows.map { "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: String.self)) \(try $0.decode(2, as: String.self))" }
                #expect(orders == ["engineering accepted 张师傅", "security assigned "], "\(orders)")
                // The survey call the supervisor recorded: one household, answered, a 4.
                let calls = try await db.query("SELECT state || ' ' || coalesce(satisfaction::text, '-') FROM survey_households WHERE property = $1", [property])
                #expect(try calls.map { try $0.decode(0, as: String.self) } == ["answered 4"])
            }
        }
    }
}
