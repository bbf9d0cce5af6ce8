import AMQP
import Contracts
import Desk
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Messaging
import Postgres
import Testing
@testable import PropDeskBilling

/// The money desk on real servers: intake and dispatch (``DeskScenario``), escalation (the money
/// clocks) and billing, started from the built executables against the test stack.
struct BillingScenario: ServerScenario {
    static let billingPort = DeskScenario.intakePort + 20
    let clocks: ClockScenario
    let escalation: Subprocess
    let billing: Subprocess
    /// Every `billing.*` event of the property.
    let events: String

    var desk: DeskScenario { clocks.desk }
    var db: PostgresClient { desk.db }
    var property: String { desk.property }

    init() async throws { try await self.init(moneyRules: []) }

    /// `moneyRules`: the property's own money clocks (fast ones), in place of the standard's.
    init(moneyRules: [MoneyClockRule]) async throws {
        clocks = try await ClockScenario(rules: [])
        for rule in moneyRules {
            try await clocks.desk.db.execute("INSERT INTO money_clock_rules (property, id, rule) VALUES ($1, $2, $3::jsonb)",
                                             [clocks.desk.property, rule.id, try PostgresJSON(encoding: rule)])
        }
        events = try await Servers.scratchQueue(clocks.desk.amqp, routingKey: "billing.*.*.\(clocks.desk.property)")
        escalation = try await clocks.startEscalation()
        let env = RealServers.ServiceProcessTests.self
        billing = try Subprocess(try env.binary("billing"), ["serve"], environment: env.environment(service: "billing", ["PROPDESK_HTTP_PORT": "\(Self.billingPort)"]))
        guard try await env.waitReady(port: Self.billingPort) else { throw SetupError("billing did not become ready:\n\(billing.output)") }
    }

    func stop() async throws {
        billing.signal(SIGTERM)
        _ = try await billing.wait(timeout: .seconds(15))
        // What billing logged about a failure, for whoever reads a failed run.
        let failures = billing.output.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") }
        if !failures.isEmpty { print("billing logged:\n" + failures.suffix(20).joined(separator: "\n")) }
        try await clocks.stop([escalation])
    }

    /// A request to billing as `role` (the scenario's account in it; "" signs in as nobody).
    func send(_ method: String, _ path: String, _ body: Any? = nil, as role: String, headers: [String: String] = [:]) async throws -> DeskScenario.Reply {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        return try await desk.request(method, path, body: data, headers: [DeskScenario.asRole: role].merging(headers) { $1 }, port: Self.billingPort)
    }

    func post(_ path: String, _ body: Any, as role: String, key: String? = nil) async throws -> DeskScenario.Reply {
        try await send("POST", path, body, as: role, headers: key.map { ["Idempotency-Key": $0] } ?? [:])
    }

    /// A bearer header for `account`.
    func bearer(_ account: TestAccount) async throws -> [String: String] {
        ["Authorization": "Bearer \(try await account.signIn(port: DeskScenario.intakePort))", DeskScenario.asRole: ""]
    }

    func settings(rateFen: Int64 = 350, lateFee: String? = nil, publicList: Bool = false, approval: String = "{}") async throws {
        try await db.execute("""
            INSERT INTO billing_settings (property, fee_rate_fen, late_fee, price_list_public, approval) VALUES ($1, $2, $3::jsonb, $4, $5::jsonb)
            ON CONFLICT (property) DO UPDATE SET fee_rate_fen = excluded.fee_rate_fen, late_fee = excluded.late_fee,
                price_list_public = excluded.price_list_public, approval = excluded.approval
            """, [property, rateFen, lateFee, publicList, approval])
    }

    func publishPrices(_ items: [[String: Any]]) async throws -> DeskScenario.Reply {
        try await post("/price-lists/\(property)", ["items": items], as: "finance")
    }

    /// Runs `billing verify` as finance would; its exit status and what it printed.
    func verify() async throws -> (status: Int32, output: String) {
        let env = RealServers.ServiceProcessTests.self
        let run = try await Subprocess.run(try env.binary("billing"), ["verify"], environment: env.environment(service: "billing"))
        return (run.status, run.output)
    }

    /// The `billing.*` events of this property that arrive until `done`.
    func billingEvents(until done: @escaping @Sendable ([AMQPDelivery]) -> Bool) async throws -> [(type: String, payload: BillingEventPayload)] {
        try await Servers.collect(desk.amqp, queue: events, idle: .seconds(3), timeout: .seconds(30), until: done).map {
            let e = try EventEnvelope.decode($0.body)
            return (e.type, try e.decodePayload(BillingEventPayload.self))
        }
    }

    /// Money-clock firings (`escalation.b*.breached`) until `done`.
    func firings(until done: @escaping @Sendable ([AMQPDelivery]) -> Bool) async throws -> [MoneyDeadlinePayload] {
        try await Servers.collect(desk.amqp, queue: clocks.breaches, idle: .seconds(3), timeout: .seconds(40), until: done).compactMap {
            try? EventEnvelope.decode($0.body).decodePayload(MoneyDeadlinePayload.self)
        }
    }

    /// The property's ledger sums to zero, entry by entry.
    func ledgerBalances() async throws -> Bool {
        try await db.query("""
            SELECT NOT EXISTS (SELECT 1 FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id WHERE e.property = $1
                               GROUP BY e.id HAVING sum(p.amount_fen) <> 0)
            """, [property])[0].decode(0)
    }

    func count(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> Int {
        try await one(sql, parameters, as: Int.self)
    }

    /// The first column of the first row; a missing row fails the test, never the process.
    func one<T: PostgresDecodable>(_ sql: String, _ parameters: [any PostgresEncodable] = [], as: T.Type) async throws -> T {
        guard let row = try await db.query(sql, parameters).first else { throw SetupError("no row for \(sql.prefix(80))") }
        return try row.decode(0, as: T.self)
    }

    /// A ticket filed by the desk, and its first work order once dispatch made it.
    func ticket(kind: String, category: String? = nil, content: String) async throws -> (id: String, number: String, order: String) {
        var fields: [String: Any] = ["kind": kind, "content": content, "channel": "phone"]
        if let category { fields["category"] = category }
        let filed = try await desk.file(fields)
        let id = try #require(filed.json["id"] as? String, "\(filed.json)")
        let order = try await eventually("the ticket's work order") { try await desk.workOrders(id, count: 1).first?["id"] as? String }
        return (id.lowercased(), filed.json["number"] as! String, order.lowercased())
    }

    /// Units for the fee tests, straight into the register (the API's POST /units is tested too).
    func unit(_ building: String, _ unit: String, area: String, status: UnitStatus, resident: UUID? = nil) async throws -> String {
        let reply = try await post("/units", ["property": property, "building": building, "unit": unit, "area": area, "status": status.rawValue]
                                   .merging(resident.map { ["resident_id": $0.uuidString] } ?? [:]) { $1 }, as: "finance")
        return try #require(reply.json["id"] as? String, "\(reply.status) \(reply.json)")
    }

    /// `run` for a scenario whose property has its own money clocks.
    static func run(moneyRules: [MoneyClockRule], _ body: (BillingScenario) async throws -> Void) async throws {
        try await run(starting: { try await BillingScenario(moneyRules: moneyRules) }, body)
    }

    /// A fast money clock: the standard rule with its steps `seconds` apart.
    static func fast(_ id: String, _ seconds: [Int]) -> MoneyClockRule {
        var rule = MoneyClocks.rules.first { $0.id == id }!
        rule.steps = seconds.enumerated().map { i, s in
            let standard = rule.steps[min(i, rule.steps.count - 1)]
            return MoneyClockStep(.seconds(s), tell: standard.tell, tellNamed: standard.tellNamed)
        }
        return rule
    }
}

extension RealServers {
    @Suite("Billing: every fen accounted for, every receipt numbered, nothing charged twice")
    struct BillingTests {
        @Test func aPaidRepairIsQuotedAcceptedDoneChargedPaidAndReceiptedAndTheBooksBalance() async throws {
            try await BillingScenario.run { s async throws in
                let t = try await s.ticket(kind: "paid_service", content: "更换厨房水龙头(有偿)")
                // The desk hands it to engineering, whose technician quotes on site.
                let transfer = try await s.desk.post("/work-orders/\(t.order)/transfer", ["to": "engineering", "reason": "水龙头是工程部的活"],
                                                     headers: [DeskScenario.asRole: "supervisor"])
                #expect(transfer.status == 200, "\(transfer.json)")
                let plumber = try await TestAccount.create(s.db, roles: [.technician], departments: [.engineering], properties: [s.property], name: "Wang Gong")
                let asPlumber = try await s.bearer(plumber)
                let engineeringOrder = try await eventually("engineering's order") {
                    try await s.desk.workOrders(t.id, count: 2).first { $0["department"] as? String == "engineering" }?["id"] as? String
                }
                // No price yet: the work cannot be finished.
                let early = try await s.desk.post("/work-orders/\(engineeringOrder)/resolve", ["note": "done", "outcome": "done"], headers: asPlumber)
                #expect(early.status == 409 && early.code == "quote_not_accepted", "\(early.status) \(early.json)")

                let quote = try await s.desk.request("POST", "/quotes", body: try JSONSerialization.data(withJSONObject: [
                    "ticket_id": t.id, "description": "更换水龙头: 配件 ¥180, 人工 ¥20", "cost": "200.00", "margin_percent": 10]),
                    headers: asPlumber, port: BillingScenario.billingPort)
                #expect(quote.status == 201, "\(quote.json)")
                #expect(quote.json["amount"] as? String == "220.00")
                #expect(quote.json["cost"] as? String == "200.00" && quote.json["margin"] as? String == "20.00", "保本微利 shown: \(quote.json)")
                #expect(quote.json["department"] as? String == "engineering")
                let quoteID = try #require(quote.json["id"] as? String)
                #expect(try await s.desk.post("/tickets/\(t.id)/resolve", ["note": "done", "outcome": "done"]).code == "quote_not_accepted")

                let accepted = try await s.post("/quotes/\(quoteID)/accept", ["note": "业主电话同意"], as: "operator")
                #expect(accepted.status == 200 && accepted.json["state"] as? String == "accepted", "\(accepted.json)")
                #expect(try await s.post("/quotes/\(quoteID)/decline", [:], as: "operator").status == 409, "answered once")
                #expect(try await s.desk.post("/work-orders/\(engineeringOrder)/resolve", ["note": "换好了", "outcome": "换好了"], headers: asPlumber).status == 200)
                // Engineering's order was the last one open: its resolution resolves the ticket.
                try await eventually("the ticket resolved") { try await s.desk.ticket(t.id)["status"] as? String == "resolved" }

                let charge = try await eventually("the charge") {
                    try await s.db.query("SELECT id::text FROM charges WHERE ticket_id = $1::uuid", [t.id]).first?.decode(0, as: String.self)
                }
                let key = "pay-\(Servers.unique())"
                let paid = try await s.post("/payments", ["charge_id": charge, "amount": "220.00", "method": "wechat_pay",
                                                          "reference": "4200001234202612010001", "payer": "张先生"], as: "operator", key: key)
                #expect(paid.status == 201, "\(paid.json)")
                let number = try #require(paid.json["receipt_number"] as? String)
                #expect(number.range(of: #"^[A-Z]{4}-R-000001$"#, options: .regularExpression) != nil, "\(number)")
                // The same request again (a retry after a lost reply) records nothing new.
                let again = try await s.post("/payments", ["charge_id": charge, "amount": "220.00", "method": "wechat_pay",
                                                           "reference": "4200001234202612010001", "payer": "张先生"], as: "operator", key: key)
                #expect(again.status == 201 && again.json["receipt_number"] as? String == number && again.headers["idempotent-replayed"] == "true")
                #expect(try await s.count("SELECT count(*) FROM payments WHERE property = $1", [s.property]) == 1)
                let reused = try await s.post("/payments", ["charge_id": charge, "amount": "1.00", "method": "cash"], as: "operator", key: key)
                #expect(reused.status == 422 && reused.code == "idempotency_key_reused")
                #expect(try await s.post("/payments", ["charge_id": charge, "amount": "0.01", "method": "cash"], as: "operator", key: "k-\(Servers.unique())").status == 409,
                        "paid in full")

                let receipt = try await s.send("GET", "/receipts/\(number)", as: "finance")
                #expect(receipt.json["amount"] as? String == "220.00" && (receipt.json["for"] as? [String: Any])?["ticket_number"] as? String == t.number)
                let page = try await s.send("GET", "/receipts/\(number)/print", as: "finance")
                let html = String(decoding: page.data, as: UTF8.self)
                #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true)
                let localTime = try await s.one("""
                    SELECT to_char(p.paid_at AT TIME ZONE pr.time_zone, 'YYYY-MM-DD HH24:MI:SS') FROM payments p JOIN properties pr ON pr.code = p.property
                    WHERE p.receipt_number = $1
                    """, [number], as: String.self)
                for part in ["存根联", "收据联", "记账联", "贰佰贰拾元整", number, "微信支付", localTime] { #expect(html.contains(part), "\(part) on the receipt") }

                // A redelivered resolution and a second one charge nothing twice.
                let resolvedRows = try await s.db.query("""
                    SELECT exchange, routing_key, envelope::text, message_id FROM outbox WHERE envelope->>'type' = 'ticket.paid_service.resolved' AND (envelope->>'ticket_id')::uuid = $1::uuid
                    """, [t.id])
                let resolved = try #require(resolvedRows.first)
                try await s.desk.amqp.publish(AMQPMessage(exchange: try resolved.decode(0), routingKey: try resolved.decode(1), body: Data(try resolved.decode(2, as: String.self).utf8),
                                                          messageID: try resolved.decode(3, as: UUID.self).postgresText, type: "ticket.paid_service.resolved", mandatory: true))
                #expect(try await s.desk.post("/tickets/\(t.id)/reopen", ["note": "业主说还滴水", "reason": "业主说还滴水"]).status == 200)
                #expect(try await s.desk.post("/tickets/\(t.id)/resolve", ["note": "再次修好", "outcome": "再次修好"]).status == 200)
                try await eventually("billing handled both") {
                    try await s.count("SELECT count(*) FROM inbox i JOIN outbox o ON o.message_id = i.message_id WHERE i.consumer = 'billing' AND (o.envelope->>'ticket_id')::uuid = $1::uuid", [t.id]) >= 2
                }
                #expect(try await s.count("SELECT count(*) FROM charges WHERE ticket_id = $1::uuid", [t.id]) == 1)
                #expect(try await s.ledgerBalances())
                let verified = try await s.verify()
                #expect(verified.status == 0 && verified.output.contains("ok:"), "\(verified.output)")
                let types = try await s.billingEvents { $0.count >= 5 }.map(\.type)
                for expected in ["billing.quote.issued", "billing.quote.accepted", "billing.charge.posted", "billing.payment.received"] {
                    #expect(types.contains(expected), "\(expected) in \(types)")
                }
            }
        }

        @Test func receiptNumbersHaveNoGapsWhenAPaymentFailsMidwayAndUnderEightConcurrentClients() async throws {
            try await BillingScenario.run { s async throws in
                try await s.settings(rateFen: 1_000)
                var units: [String] = []
                for i in 1...8 { units.append(try await s.unit("1号楼", "\(100 + i)", area: "100.00", status: .occupied)) }
                let run = try await s.post("/bill-runs", ["property": s.property, "period": "2026-11", "due_date": "2026-11-30"], as: "finance")
                #expect(run.status == 201 && run.json["bills"] as? Int == 8, "\(run.json)")
                let bills = try await s.db.query("SELECT id::text FROM bills WHERE property = $1 ORDER BY id", [s.property]).map { try $0.decode(0, as: String.self) }
                try #require(bills.count == 8)
                // A payment whose transaction fails after its number was taken (a trigger stands in
                // for a crash midway): the number goes back.
                try await s.db.execute("""
                    CREATE OR REPLACE FUNCTION test_fail_midway() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN IF NEW.payer = 'fail-midway' THEN RAISE EXCEPTION 'the payment failed midway'; END IF; RETURN NEW; END $$
                    """)
                try await s.db.execute("DROP TRIGGER IF EXISTS test_fail_midway ON payments")
                try await s.db.execute("CREATE TRIGGER test_fail_midway BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION test_fail_midway()")
                let first = try await s.post("/payments", ["bill_id": bills[0], "amount": "1.00", "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                #expect(first.json["receipt_number"] as? String != nil)
                let failed = try await s.post("/payments", ["bill_id": bills[0], "amount": "1.00", "method": "cash", "payer": "fail-midway"],
                                              as: "operator", key: "k-\(Servers.unique())")
                #expect(failed.status >= 500 && failed.code != nil, "a failure is a JSON error: \(failed.status) \(failed.json)")
                // Eight desks at once, 20 payments each, each desk on its own bill.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for client in 0..<8 {
                        group.addTask {
                            for _ in 0..<20 {
                                let r = try await s.post("/payments", ["bill_id": bills[client], "amount": "1.00", "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                                guard r.status == 201 else { throw SetupError("payment refused: \(r.status) \(r.json)") }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                try await s.db.execute("DROP TRIGGER test_fail_midway ON payments")
                let seqs = try await s.db.query("SELECT receipt_seq FROM payments WHERE property = $1 ORDER BY receipt_seq", [s.property]).map { try $0.decode(0, as: Int64.self) }
                #expect(seqs == Array(1...161), "161 receipts numbered 1…161: \(seqs.count), highest \(seqs.last ?? 0)")
                #expect(try await s.count("SELECT count(DISTINCT receipt_number) FROM payments WHERE property = $1", [s.property]) == 161)
                #expect(try await s.one("SELECT paid_fen FROM bills WHERE id = $1::uuid", [bills[0]], as: Int64.self) == 2_100)
                let verified = try await s.verify()
                #expect(verified.status == 0, "\(verified.output)")
            }
        }

        @Test func aVoidAndARefundGetNumbersOfTheirOwnAndTheOriginalReceiptStaysVisible() async throws {
            try await BillingScenario.run { s async throws in
                try await s.settings(rateFen: 500)
                _ = try await s.unit("2号楼", "301", area: "80.00", status: .occupied)
                _ = try await s.post("/bill-runs", ["property": s.property, "period": "2026-10", "due_date": "2026-10-31"], as: "finance")
                let bill = try await s.one("SELECT id::text FROM bills WHERE property = $1", [s.property], as: String.self)
                let a = try await s.post("/payments", ["bill_id": bill, "amount_fen": 10_000, "method": "card", "reference": "POS-1"], as: "operator", key: "k-\(Servers.unique())")
                let b = try await s.post("/payments", ["bill_id": bill, "amount": "300.00", "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                let first = try #require(a.json["receipt_number"] as? String), second = try #require(b.json["receipt_number"] as? String)
                #expect(try await s.post("/receipts/\(first)/void", ["reason": "x"], as: "operator").status == 403, "the desk does not void")
                let voided = try await s.post("/receipts/\(first)/void", ["reason": "收错金额"], as: "finance")
                #expect(voided.status == 201, "\(voided.json)")
                let reversal = try #require((voided.json["reversals"] as? [[String: Any]])?.first?["number"] as? String)
                #expect(reversal.hasSuffix("-V-000001") && voided.json["receipt_number"] as? String == first)
                #expect(try await s.post("/receipts/\(first)/void", ["reason": "again"], as: "finance").status == 409)
                let refund = try await s.post("/receipts/\(second)/refund", ["amount": "50.00", "reason": "多收"], as: "finance")
                #expect((refund.json["reversals"] as? [[String: Any]])?.first?["number"] as? String == reversal.replacingOccurrences(of: "000001", with: "000002"))
                let over = try await s.post("/receipts/\(second)/refund", ["amount": "250.01", "reason": "too much"], as: "finance")
                #expect(over.status == 422 && over.code == "amount_over_balance")
                let page = String(decoding: try await s.send("GET", "/receipts/\(first)/print", as: "finance").data, as: UTF8.self)
                #expect(page.contains("作废 VOID") && page.contains(first) && page.contains(reversal))
                #expect(try await s.one("SELECT paid_fen FROM bills WHERE id = $1::uuid", [bill], as: Int64.self) == 25_000)
                #expect(try await s.ledgerBalances())
                #expect(try await s.verify().status == 0)
            }
        }

        @Test func theReceiptPrintsAsThreePartsInARealBrowserAndSavesAsPDF() async throws {
            try await BillingScenario.run { s async throws in
                try await s.settings(rateFen: 400)
                _ = try await s.unit("7号楼", "702", area: "100.00", status: .occupied)
                _ = try await s.post("/bill-runs", ["property": s.property, "period": "2026-12", "due_date": "2026-12-31"], as: "finance")
                let bill = try await s.one("SELECT id::text FROM bills WHERE property = $1", [s.property], as: String.self)
                let paid = try await s.post("/payments", ["bill_id": bill, "amount": "400.00", "method": "alipay", "reference": "2026120122001", "payer": "陈先生"],
                                            as: "operator", key: "k-\(Servers.unique())")
                let number = try #require(paid.json["receipt_number"] as? String)
                let finance = try await TestAccount.create(s.db, roles: [.finance], properties: [s.property], name: "刘会计")
                let session = try await consoleSession(finance, port: DeskScenario.intakePort)
                let fixture: [String: Any] = ["url": "http://127.0.0.1:\(BillingScenario.billingPort)", "cookie": session.cookie, "number": number,
                                              "capitals": Money(fen: 40_000).capitals,
                                              "artifacts": Servers.repositoryRoot.appendingPathComponent(".local/test-artifacts/billing").path]
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("receipt-fixture-\(Servers.unique()).json")
                try JSONSerialization.data(withJSONObject: fixture).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                var environment = ProcessInfo.processInfo.environment
                environment["PROPDESK_RECEIPT_FIXTURE"] = file.path
                let script = Servers.repositoryRoot.appendingPathComponent("Tests/Browser/receipt_test.py").path
                let run = try await Subprocess.run("/usr/bin/env", ["python3", script], environment: environment, timeout: .seconds(120))
                #expect(run.status == 0, "the browser's receipt:\n\(run.output)")
            }
        }

        @Test func approvalsRouteByAmountAtEachBoundaryTellTheApproverAndAWaitTooLongEscalates() async throws {
            try await BillingScenario.run(moneyRules: [BillingScenario.fast(MoneyClocks.approvalWait, [2, 30])]) { s async throws in
                let t = try await s.ticket(kind: "repair", category: "plumbing", content: "水管爆裂, 需更换")
                let cases: [(String, [String])] = [
                    ("1000.00", ["department_manager/customer_service"]),
                    ("1000.01", ["chief_engineer/engineering", "vice_general_manager/management"]),
                    ("10000.00", ["chief_engineer/engineering", "vice_general_manager/management"]),
                    ("10000.01", ["general_manager/management"]),
                    ("20000.00", ["general_manager/management"]),
                    ("20000.01", ["general_manager/management"]),
                ]
                var approvals: [String: String] = [:]
                for (amount, approvers) in cases {
                    let r = try await s.post("/approvals", ["work_order_id": t.order, "amount": amount, "description": "更换主水管"], as: "chief_engineer")
                    #expect(r.status == 201, "\(r.json)")
                    let steps = try #require(r.json["steps"] as? [[String: Any]])
                    let roles = steps.map { "\($0["role"]!)/\($0["department"]!)" }
                    let audit = amount == "20000.01" ? "department_manager/audit" : "department_manager/customer_service"
                    #expect(roles == approvers + [audit], "¥\(amount): \(roles)")
                    approvals[amount] = r.json["id"] as? String
                }
                // Each first step's event names its approver for notification to tell.
                let requested = try await s.billingEvents { d in d.filter { (try? EventEnvelope.decode($0.body).type) == "billing.approval.requested" }.count >= 6 }
                    .filter { $0.type == "billing.approval.requested" }
                #expect(Set(requested.compactMap { $0.payload.recipients?.first }.map { "\($0.role.rawValue)/\($0.department!.rawValue)" })
                        == ["department_manager/customer_service", "chief_engineer/engineering", "general_manager/management"])

                // ¥1,000.01 walks its chain: only the named role decides each step.
                let id = try #require(approvals["1000.01"])
                #expect(try await s.post("/approvals/\(id)/decide", ["decision": "approve"], as: "general_manager").status == 403, "not the GM's step")
                #expect(try await s.post("/approvals/\(id)/decide", ["decision": "approve", "note": "核实"], as: "chief_engineer").status == 200)
                #expect(try await s.post("/approvals/\(id)/decide", ["decision": "approve"], as: "vice_general_manager").status == 200)
                let audited = try await s.post("/approvals/\(id)/decide", ["decision": "approve"], as: "department_manager")
                #expect(audited.json["state"] as? String == "approved", "\(audited.json)")
                #expect(try await s.post("/approvals/\(id)/decide", ["decision": "approve"], as: "department_manager").status == 409)
                let rejected = try await s.post("/approvals/\(approvals["10000.01"]!)/decide", ["decision": "reject"], as: "general_manager")
                #expect(rejected.status == 422, "a rejection says why")

                // A wait too long escalates: the approver is reminded (2 s in this property).
                let late = try await s.firings { d in d.contains { (try? EventEnvelope.decode($0.body).type) == "escalation.b4.breached" } }
                let first = try #require(late.first { $0.ruleID == MoneyClocks.approvalWait })
                #expect(first.step == 1 && first.subject == "approval_step" && first.reference == t.number)
                #expect(first.firingLatenessMs < 3_000, "on time: \(first.firingLatenessMs) ms late")
                #expect(!first.tell.isEmpty)
                #expect(try await s.ledgerBalances())
            }
        }

        @Test func warrantyRepairCostsComeOutOfTheContractorsQualityDeposit_B5() async throws {
            try await BillingScenario.run { s async throws in
                let t = try await s.ticket(kind: "repair", category: "plumbing", content: "新房卫生间渗水(保修期内)")
                let held = try await s.post("/contractor-deposits", ["property": s.property, "contractor": "宏达建设", "amount": "50000.00", "method": "card", "reference": "BANK-778"], as: "finance")
                #expect(held.status == 201, "\(held.json)")
                let r = try await s.post("/approvals", ["work_order_id": t.order, "amount": "800.00", "description": "防水层返修", "repair_class": "A", "contractor": "宏达建设"],
                                         as: "chief_engineer")
                let id = try #require(r.json["id"] as? String)
                for _ in 0..<2 { _ = try await s.post("/approvals/\(id)/decide", ["decision": "approve"], as: "department_manager") }
                let balance = try await s.one("""
                    SELECT sum(amount_fen) FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
                    WHERE e.property = $1 AND p.account = 'contractor_quality_deposit' AND p.party = '宏达建设'
                    """, [s.property], as: Int64.self)
                #expect(balance == -(5_000_000 - 80_000), "the deposit held is ¥49,200 after the warranty repair")
                #expect(try await s.verify().status == 0)
            }
        }

        /// R5 with B5: a repair signed off as class A under a contractor's warranty is approved as
        /// class A from that contractor's deposit without saying so again; an approval that calls it
        /// class B is refused.
        @Test func aRepairSignedOffAsClassAIsChargedToItsContractorsDepositAndCannotBeApprovedAsClassB() async throws {
            try await BillingScenario.run { s async throws in
                let t = try await s.ticket(kind: "repair", category: "plumbing", content: "新房阳台渗水(保修期内)")
                #expect(try await s.post("/contractor-deposits", ["property": s.property, "contractor": "宏达建设", "amount": "50000.00", "method": "card",
                                                                  "reference": "BANK-779"], as: "finance").status == 201)
                #expect(try await s.desk.post("/work-orders/\(t.order)/resolve", ["outcome": "重做防水"]).status == 200)
                let signed = try await s.desk.post("/work-orders/\(t.order)/sign-off", ["repair_class": "A", "contractor": "宏达建设", "signer": "业主 赵敏"])
                #expect(signed.status == 201, "\(signed.json)")
                let classB = try await s.post("/approvals", ["work_order_id": t.order, "amount": "600.00", "description": "防水层返修", "repair_class": "B"],
                                              as: "chief_engineer")
                #expect(classB.status == 409, "\(classB.json)")
                let r = try await s.post("/approvals", ["work_order_id": t.order, "amount": "600.00", "description": "防水层返修"], as: "chief_engineer")
                #expect(r.status == 201 && r.json["repair_class"] as? String == "A" && r.json["contractor"] as? String == "宏达建设", "\(r.json)")
                let id = try #require(r.json["id"] as? String)
                for _ in 0..<2 { _ = try await s.post("/approvals/\(id)/decide", ["decision": "approve"], as: "department_manager") }
                let balance = try await s.one("""
                    SELECT sum(amount_fen) FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
                    WHERE e.property = $1 AND p.account = 'contractor_quality_deposit' AND p.party = '宏达建设'
                    """, [s.property], as: Int64.self)
                #expect(balance == -(5_000_000 - 60_000), "the deposit pays the warranty repair")
            }
        }

        @Test func aCustodialHomesBillIsSeventyPercentAndAnUnpaidFeeWalksTheDunningLadderOnTheCalendarUntilPaid() async throws {
            let fast = [BillingScenario.fast(MoneyClocks.letter, [1]), BillingScenario.fast(MoneyClocks.visit, [1]), BillingScenario.fast(MoneyClocks.legal, [1])]
            try await BillingScenario.run(moneyRules: fast) { s async throws in
                try await s.settings(rateFen: 350, lateFee: #"{"per": "day", "rate": 5, "grace_days": 0}"#)
                let occupied = try await s.unit("5号楼", "1201", area: "89.50", status: .occupied)
                let vacant = try await s.unit("5号楼", "1202", area: "89.50", status: .vacant)
                // February 2026's fees, due Friday the 13th; Saturday the 14th is worked in lieu of a Spring Festival day.
                let run = try await s.post("/bill-runs", ["property": s.property, "period": "2026-02", "due_date": "2026-02-13"], as: "finance")
                #expect(run.status == 201 && run.json["total"] as? String == "532.53", "\(run.json)")
                #expect(try await s.post("/bill-runs", ["property": s.property, "period": "2026-02", "due_date": "2026-02-13"], as: "finance").status == 409)
                let bill = { (unit: String) async throws -> [String: Any] in
                    let id = try await s.one("SELECT id::text FROM bills WHERE unit_id = $1::uuid", [unit], as: String.self)
                    return try await s.send("GET", "/bills/\(id)", as: "finance").json
                }
                #expect(try await bill(occupied)["amount"] as? String == "313.25")
                let vacantView = try await bill(vacant)
                #expect(vacantView["amount"] as? String == "219.28" && vacantView["percent"] as? Int == 70, "B8: 70% for a vacant home")
                let reminderDue = try await s.one("SELECT due_at FROM money_deadlines WHERE property = $1 AND rule_id = $2", [s.property, MoneyClocks.overdue], as: Date.self)
                #expect(reminderDue == ISO8601DateFormatter().date(from: "2026-02-14T01:00:00Z"), "09:00 on the make-up Saturday, not after the holiday: \(reminderDue)")

                // The reminder went by SMS for both; the letter falls due (1 s here), finance sends it.
                let occupiedBill = try #require(try await bill(occupied)["id"] as? String)
                try await eventually("the letter due") { try await bill(occupied)["dunning_stage"] as? String == "letter_due" }
                let reminded = try #require((try await bill(occupied)["dunning"] as? [[String: Any]])?.first)
                #expect(reminded["stage"] as? String == "reminded" && reminded["channel"] as? String == "sms" && reminded["actor"] as? String == "PropDesk")
                let noTracking = try await s.post("/bills/\(occupiedBill)/dunning", ["stage": "letter_sent", "channel": "express"], as: "finance")
                #expect(noTracking.status == 422, "a demand letter needs its tracking number")
                #expect(try await s.post("/bills/\(occupiedBill)/dunning", ["stage": "letter_sent", "channel": "express", "tracking_number": "SF1234567890"], as: "finance").status == 201)
                try await eventually("the visit due") { try await bill(occupied)["dunning_stage"] as? String == "visit_due" }
                #expect(try await s.post("/bills/\(occupiedBill)/dunning", ["stage": "visited", "channel": "visit", "note": "业主称下月缴纳"], as: "finance").status == 201)
                try await eventually("the legal hand-over") { try await bill(occupied)["dunning_stage"] as? String == "legal" }
                let steps = (try await bill(occupied)["dunning"] as? [[String: Any]] ?? []).map { $0["stage"] as? String ?? "" }
                #expect(steps == ["reminded", "letter_sent", "visited", "legal"])
                #expect((try await bill(occupied)["dunning"] as? [[String: Any]])?[1]["tracking_number"] as? String == "SF1234567890")

                // The vacant home pays in two parts: the ladder stops at the second.
                let vacantBill = try #require(try await bill(vacant)["id"] as? String)
                try await eventually("the vacant home's letter due") { try await bill(vacant)["dunning_stage"] as? String == "letter_due" }
                _ = try await s.post("/payments", ["bill_id": vacantBill, "amount": "100.00", "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                #expect(try await bill(vacant)["outstanding"] as? String == "119.28", "partial payment shown")
                #expect(try await s.post("/bills/\(vacantBill)/dunning", ["stage": "letter_sent", "channel": "express", "tracking_number": "SF1"], as: "finance").status == 201)
                _ = try await s.post("/payments", ["bill_id": vacantBill, "amount": "119.28", "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                #expect(try await bill(vacant)["state"] as? String == "paid")
                try await eventually("the ladder stopped") {
                    let pending = try await s.count("SELECT count(*) FROM money_deadlines WHERE subject_id = $1::uuid AND state = 'pending'", [vacantBill])
                    let met = try await s.count("SELECT count(*) FROM money_deadlines WHERE subject_id = $1::uuid AND met_at IS NOT NULL", [vacantBill])
                    return pending == 0 && met >= 1
                }
                #expect(try await bill(vacant)["dunning_stage"] as? String == "letter_sent", "paying stops the ladder where it was")
                #expect(try await s.post("/bills/\(vacantBill)/dunning", ["stage": "visited", "channel": "visit"], as: "finance").status == 409)

                // A late fee by the property's rule, and the statement shows it all.
                let fee = try await s.post("/bills/\(occupiedBill)/late-fee", [:], as: "finance")
                #expect(fee.status == 201 && fee.json["kind"] as? String == "late_fee", "\(fee.json)")
                let statement = try await s.send("GET", "/units/\(occupied)/statement", as: "finance").json
                #expect((statement["bills"] as? [[String: Any]])?.first?["dunning_stage"] as? String == "legal")
                let lateFee = try #require(fee.json["amount_fen"] as? Int)
                #expect(statement["arrears_fen"] as? Int == 31_325 + lateFee)
                #expect(try await s.verify().status == 0)
            }
        }

        @Test func anUmbrellaLoanTakesADepositRefundedOnReturnInAWeekAndForfeitedWithoutOne_B7() async throws {
            try await BillingScenario.run(moneyRules: [BillingScenario.fast(MoneyClocks.itemReturn, [1, 2])]) { s async throws in
                let list = try await s.publishPrices([["code": "umbrella", "name": "雨伞押金", "unit": "把", "price": "20.00", "kind": "deposit"]])
                #expect(list.status == 201, "\(list.status) \(list.json)")
                let lent = try await s.post("/deposits", ["property": s.property, "item_code": "umbrella", "method": "cash", "payer": "李女士"], as: "operator", key: "k-\(Servers.unique())")
                #expect(lent.status == 201 && lent.json["amount"] as? String == "20.00" && lent.json["state"] as? String == "held", "\(lent.json)")
                let lentID = try #require(lent.json["id"] as? String)
                let returned = try await s.post("/deposits/\(lentID)/return", ["condition": "good"], as: "operator")
                #expect(returned.json["state"] as? String == "refunded" && (returned.json["refund_number"] as? String)?.contains("-V-") == true, "\(returned.json)")

                let kept = try await s.post("/deposits", ["property": s.property, "item_code": "umbrella", "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                let keptID = try #require(kept.json["id"] as? String)
                try await eventually("forfeited by rule") { try await s.send("GET", "/deposits/\(keptID)", as: "finance").json["state"] as? String == "forfeited" }
                let chased = try await s.firings { d in d.count >= 2 }.filter { $0.ruleID == MoneyClocks.itemReturn && $0.subjectID.uuidString.lowercased() == keptID }
                #expect(chased.first?.tell.contains(Recipient(.supervisor, .concierge)) == true, "the concierge was told to chase it")
                #expect(try await s.one("""
                    SELECT sum(amount_fen) FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id WHERE e.property = $1 AND p.account = 'deposits_held'
                    """, [s.property], as: Int64.self) == 0, "nothing left held")
                #expect(try await s.verify().status == 0)
            }
        }

        @Test func badAmountsAreRefusedWithTheirDocumentedErrorsAndStoreNothing() async throws {
            try await BillingScenario.run { s async throws in
                try await s.settings(rateFen: 100)
                _ = try await s.unit("1号楼", "101", area: "50", status: .occupied)
                _ = try await s.post("/bill-runs", ["property": s.property, "period": "2026-09", "due_date": "2026-09-30"], as: "finance")
                let bill = try await s.one("SELECT id::text FROM bills WHERE property = $1", [s.property], as: String.self)
                let before = try await s.count("SELECT count(*) FROM billing_requests")
                let cases: [(Any, String)] = [("-1.00", "amount_negative"), ("0", "amount_zero"), ("0.00", "amount_zero"), ("1.001", "amount_too_precise"),
                                              ("abc", "amount_not_numeric"), ("1,000", "amount_not_numeric"), (20.5, "amount_not_numeric"),
                                              ("100000000.01", "amount_too_large"), ("50.01", "amount_over_balance")]
                for (amount, code) in cases {
                    let r = try await s.post("/payments", ["bill_id": bill, "amount": amount, "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                    #expect([409, 422].contains(r.status) && r.code == code, "\(amount): \(r.status) \(r.json)")
                }
                let fen = try await s.post("/payments", ["bill_id": bill, "amount_fen": -5, "method": "cash"], as: "operator", key: "k-\(Servers.unique())")
                #expect(fen.code == "amount_negative")
                let nul = try await s.post("/payments", ["bill_id": bill, "amount": "1.00", "method": "card", "reference": "POS\u{0}1"], as: "operator", key: "k-\(Servers.unique())")
                #expect(nul.status == 422 && nul.code == "invalid_format")
                let plain = try await s.desk.request("POST", "/payments", body: Data("amount=1".utf8),
                                                     headers: [DeskScenario.asRole: "operator", "Content-Type": "text/plain", "Idempotency-Key": "k-\(Servers.unique())"],
                                                     port: BillingScenario.billingPort)
                #expect(plain.status == 415 && plain.code == "unsupported_media_type")
                let noKey = try await s.post("/payments", ["bill_id": bill, "amount": "1.00", "method": "cash"], as: "operator")
                #expect(noKey.status == 422 && noKey.code == "required")
                let quote = try await s.post("/quotes", ["ticket_id": UUID().uuidString, "cost": "1.234"], as: "supervisor")
                #expect(quote.code == "validation_failed" || quote.code == "amount_too_precise", "\(quote.json)")
                let area = try await s.post("/units", ["property": s.property, "building": "1号楼", "unit": "102", "area": "-3"], as: "finance")
                #expect(area.status == 422)
                let year = try await s.post("/bill-runs", ["property": s.property, "period": "9999-01", "due_date": "9999-01-31"], as: "finance")
                #expect(year.status == 422)
                #expect(try await s.count("SELECT count(*) FROM payments WHERE property = $1", [s.property]) == 0)
                #expect(try await s.count("SELECT count(*) FROM billing_requests") == before, "a refused request stores nothing, not even its key")
                #expect(try await s.count("SELECT count(*) FROM units WHERE property = $1", [s.property]) == 1)
            }
        }

        @Test func thePriceListIsVersionedOldQuotesKeepTheirPriceAndItIsPublicOnlyWhenThePropertySaysSo() async throws {
            try await BillingScenario.run { s async throws in
                #expect(try await s.publishPrices([["code": "aircon-clean", "name": "空调清洗", "unit": "台", "price": "80.00", "department": "engineering"]]).status == 201)
                let t = try await s.ticket(kind: "paid_service", content: "空调清洗两台")
                let q1 = try await s.post("/quotes", ["ticket_id": t.id, "item_code": "aircon-clean"], as: "supervisor")
                #expect(q1.json["amount"] as? String == "80.00" && q1.json["list_version"] as? Int == 1, "\(q1.json)")
                let q1ID = try #require(q1.json["id"] as? String)
                let v2 = try await s.publishPrices([["code": "aircon-clean", "name": "空调清洗", "unit": "台", "price": "95.00"]])
                #expect(v2.json["version"] as? Int == 2)
                #expect(try await s.send("GET", "/quotes/\(q1ID)", as: "finance").json["amount"] as? String == "80.00", "made at v1's price")
                let q2 = try await s.post("/quotes", ["ticket_id": t.id, "item_code": "aircon-clean"], as: "supervisor")
                let q2ID = try #require(q2.json["id"] as? String)
                #expect(q2.json["amount"] as? String == "95.00")
                #expect(try await s.send("GET", "/quotes/\(q1ID)", as: "finance").json["state"] as? String == "superseded")
                #expect(try await s.send("GET", "/price-lists/\(s.property)?version=1", as: "operator").json["items"].map { "\($0)" }?.contains("80.00") == true)
                #expect(try await s.send("GET", "/price-lists/\(s.property)", as: "").status == 401, "not public yet")
                try await s.settings(publicList: true)
                let open = try await s.send("GET", "/price-lists/\(s.property)", as: "")
                #expect(open.status == 200 && open.json["version"] as? Int == 2)
                // A disputed price goes to the department head at once (B3), and the price stays.
                let disputed = try await s.post("/quotes/\(q2ID)/dispute", ["reason": "业主认为价格偏高"], as: "operator")
                #expect(disputed.status == 201 && disputed.json["amount"] as? String == "95.00")
                let told = try await s.firings { d in d.contains { (try? EventEnvelope.decode($0.body).type) == "escalation.b3.breached" } }
                #expect(told.first { $0.ruleID == MoneyClocks.dispute }?.tell == [Recipient(.departmentManager, .customerService)])
                let dispute = try #require((disputed.json["disputes"] as? [[String: Any]])?.first?["id"] as? String)
                #expect(try await s.post("/disputes/\(dispute)/resolve", ["resolution": "解释配件价格, 业主接受"], as: "department_manager").status == 200)
                try await eventually("the dispute's clock met") {
                    try await s.count("SELECT count(*) FROM money_deadlines WHERE subject_id = $1::uuid AND state = 'met'", [dispute]) == 1
                }
            }
        }

        @Test func everyBillingRouteAsEveryRoleGives401Then403OrServesAndAnotherPropertysRecordsAreNotFound() async throws {
            try await BillingScenario.run { s async throws in
                var covered = 0
                for role in StaffRole.allCases {
                    let account = try await TestAccount.create(s.db, roles: [role], departments: [.engineering], properties: [s.property])
                    let headers = try await s.bearer(account)
                    let identity = StaffIdentity(id: UUID(), login: account.login, name: account.name, roles: [role], departments: [.engineering], properties: [s.property])
                    for route in BillingAPI.routes {
                        let path = route.path.replacingOccurrences(of: "{property}", with: s.property).replacingOccurrences(of: "{id}", with: UUID().uuidString)
                            .replacingOccurrences(of: "{number}", with: "XX-R-000001")
                        let body: Any? = route.method == .post ? [:] : nil
                        let nobody = try await s.send(route.method.rawValue, path, body, as: "")
                        #expect(nobody.status == 401 && nobody.code == "not_signed_in", "\(route.method) \(route.path) as nobody: \(nobody.status)")
                        let reply = try await s.desk.request(route.method.rawValue, path, body: try body.map { try JSONSerialization.data(withJSONObject: $0) },
                                                             headers: headers, port: BillingScenario.billingPort)
                        covered += 1
                        if identity.acting(route.permission) == nil {
                            #expect(reply.status == 403 && reply.code == "forbidden", "\(route.method) \(route.path) as \(role): \(reply.status)")
                        } else {
                            #expect(![401, 403].contains(reply.status) && reply.code != nil || reply.status < 300, "\(route.method) \(route.path) as \(role): \(reply.status) \(reply.json)")
                        }
                    }
                }
                #expect(covered == BillingAPI.routes.count * StaffRole.allCases.count)
                // Another property's bill, receipt and statement read as not found, even by finance.
                let other = try await Servers.newProperty(s.db, prefix: "o")
                let financeElsewhere = try await TestAccount.create(s.db, roles: [.finance], properties: [other])
                try await s.db.execute("INSERT INTO billing_settings (property, fee_rate_fen) VALUES ($1, 100)", [other])
                let elsewhere = try await s.bearer(financeElsewhere)
                let unit = try await s.desk.request("POST", "/units", body: try JSONSerialization.data(withJSONObject: ["property": other, "building": "9号楼", "unit": "901", "area": "70"]),
                                                    headers: elsewhere, port: BillingScenario.billingPort)
                let unitID = try #require(unit.json["id"] as? String, "\(unit.json)")
                _ = try await s.desk.request("POST", "/bill-runs", body: try JSONSerialization.data(withJSONObject: ["property": other, "period": "2026-12", "due_date": "2026-12-31"]),
                                             headers: elsewhere, port: BillingScenario.billingPort)
                let bill = try await s.one("SELECT id::text FROM bills WHERE property = $1", [other], as: String.self)
                for path in ["/bills/\(bill)", "/units/\(unitID)/statement"] {
                    #expect(try await s.send("GET", path, as: "finance").status == 404, "\(path) from another property")
                }
                #expect(try await s.post("/payments", ["bill_id": bill, "amount": "1.00", "method": "cash"], as: "operator", key: "k-\(Servers.unique())").status == 404)
                #expect(try await s.post("/bill-runs", ["property": other, "period": "2026-11", "due_date": "2026-11-30"], as: "finance").status == 404)
            }
        }
    }
}
