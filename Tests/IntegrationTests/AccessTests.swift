import AMQP
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Identity
import Messaging
import Postgres
@testable import PropDeskIntake
import Testing

extension RealServers {
    @Suite("Identity and access: who may do what, and see what")
    struct AccessTests {
        /// A universal body: every step finds the field it needs (unknown fields are ignored).
        static var anyStep: [String: Any] { [
            "note": "n", "outcome": "done", "reason": "test", "to": "security", "assignee": "Xu", "reached": true, "satisfied": true,
            "until": ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400)), "minutes": 5,
        ] }

        /// The lists that name their property (`?property=`): another property's is 404.
        static let listsOfAProperty: Set<String> = ["/handovers", "/handovers/draft", "/keys", "/key-loans", "/key-counts", "/surveys"]

        /// A route's path with ids and query filled in for one property.
        static func path(_ route: String, method get: Bool, _ ids: (ticket: String, order: String), resident: String, request: String,
                         property: String, file: String, records: RecordIDs) -> String {
            var p = route
            if p.hasPrefix("/reports/files/") { return p.replacingOccurrences(of: "{id}", with: file) }
            if p.hasPrefix("/handovers/") { p = p.replacingOccurrences(of: "{id}", with: records.handover) }
            if p.hasPrefix("/keys/") { p = p.replacingOccurrences(of: "{id}", with: records.key) }
            if p.hasPrefix("/key-loans/") { p = p.replacingOccurrences(of: "{id}", with: records.loan) }
            if p.hasPrefix("/surveys/") { p = p.replacingOccurrences(of: "{id}", with: records.survey) }
            if p.hasPrefix("/survey-households/") { p = p.replacingOccurrences(of: "{id}", with: records.household) }
            if get, listsOfAProperty.contains(p) { p += "?property=\(property)" }
            if p.hasPrefix("/tickets/") { p = p.replacingOccurrences(of: "{id}", with: ids.ticket) }
            if p.hasPrefix("/work-orders/") { p = p.replacingOccurrences(of: "{id}", with: ids.order) }
            if p.hasPrefix("/residents/") { p = p.replacingOccurrences(of: "{id}", with: resident) }
            if p.hasPrefix("/file-requests/") { p = p.replacingOccurrences(of: "{id}", with: request) }
            if p.hasPrefix("/reports/") { p += "?property=\(property)" }
            if p == "/callers" { p += "?property=\(property)&building=1%E5%8F%B7%E6%A5%BC&unit=101" }
            return p
        }

        /// Routes with an id, or a property to read: probed outside the caller's scope too. (One
        /// function: the same `||` chain inline crashes Swift 6.3.1's SendNonSendable pass.)
        static func namesWhatItReaches(_ route: IntakeAPI.Route) -> Bool {
            route.path.contains("{id}") || route.path.hasPrefix("/reports/") || (route.method == .get && listsOfAProperty.contains(route.path))
        }

        struct RecordIDs: Sendable {
            var handover: String, key: String, loan: String, survey: String, household: String
        }

        /// A handover of engineering's shift, a special room's key and a loan of it waiting for
        /// approval (requested by `login`), at `property`.
        static func records(_ s: DeskScenario, _ property: String, ticket: String, by login: String) async throws -> RecordIDs {
            func fresh() -> String { UUID().uuidString.lowercased() }
            let ids = RecordIDs(handover: fresh(), key: fresh(), loan: fresh(), survey: fresh(), household: fresh())
            let resident = fresh()
            try await s.db.execute("""
                INSERT INTO handovers (id, property, department, shift, items, created_by) SELECT $1::uuid, $2, 'engineering', '早班', '[]', id FROM staff WHERE login = $3
                """, [ids.handover, property, login])
            try await s.db.execute("INSERT INTO keys (id, property, label, special, copies) VALUES ($1::uuid, $2, $3, true, 9)",
                                   [ids.key, property, "k-\(ids.key.prefix(8))"])
            try await s.db.execute("""
                INSERT INTO key_loans (id, key_id, property, ticket_id, borrower, relation, reason, state, requested_by, due_back_at)
                SELECT $1::uuid, $2::uuid, $3, $4::uuid, '王师傅', 'staff', 'test', 'awaiting_approval', id, now() + interval '1 day' FROM staff WHERE login = $5
                """, [ids.loan, ids.key, property, ticket, login])
            try await s.db.execute("""
                INSERT INTO residents (id, property, building, unit, name, phone, relation) VALUES ($1::uuid, $2, '9号楼', $3, '钱进', '13600009999', 'owner')
                """, [resident, property, "u-\(resident.prefix(8))"])
            try await s.db.execute("""
                INSERT INTO surveys (id, property, kind, period, share, households, eligible, drawn, drawn_by)
                SELECT $1::uuid, $2, 'quarterly', $3, 20, 1, 1, 1, id FROM staff WHERE login = $4
                """, [ids.survey, property, "x-\(ids.survey.prefix(8))", login])
            try await s.db.execute("""
                INSERT INTO survey_households (id, survey_id, property, building, unit, resident_id) VALUES ($1::uuid, $2::uuid, $3, '9号楼', $4, $5::uuid)
                """, [ids.household, ids.survey, property, "u-\(resident.prefix(8))", resident])
            return ids
        }

        /// Sent with this token only (not as one of the scenario's accounts).
        func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)", DeskScenario.asRole: ""] }

        func residentAt(_ s: DeskScenario, _ property: String) async throws -> String {
            let id = UUID().uuidString.lowercased()
            try await s.db.execute("""
                INSERT INTO residents (id, property, building, unit, name, phone, relation) VALUES ($1, $2, '1号楼', '101', '赵敏', '13700001234', 'owner')
                """, [id, property])
            return id
        }

        @Test func eachRoleSignsInAndDoesItsJobAndAFileReadNeedsAnUnexpiredApproval() async throws {
            try await DeskScenario.run { s async throws in
                let desk = try await TestAccount.create(s.db, roles: [.operator_], properties: [s.property], name: "前台 李梅")
                let tech = try await TestAccount.create(s.db, roles: [.technician], departments: [.engineering], properties: [s.property], name: "王师傅")
                let supervisor = try await TestAccount.create(s.db, roles: [.supervisor], properties: [s.property])
                let manager = try await TestAccount.create(s.db, roles: [.departmentManager], departments: [.customerService], properties: [s.property])
                #expect(desk.secret != nil && tech.secret == nil, "the desk needs a second factor, a technician does not")
                // Without the code the desk is not signed in.
                var noCode = desk.credentials()
                noCode["code"] = nil
                let refused = try await s.post("/auth/login", noCode, headers: [DeskScenario.asRole: ""])
                #expect(refused.status == 401 && refused.code == "second_factor_required")
                let deskToken = try await desk.signIn(port: DeskScenario.intakePort)

                // The desk files a call; the signed-in operator is its first-contact owner.
                let filed = try await s.post("/tickets", ["property": s.property, "kind": "repair", "category": "plumbing", "channel": "phone",
                                                          "building": "3号楼", "unit": "2单元1202", "caller_phone": "13812345678",
                                                          "content": "厨房水管漏水", "taken_by": "someone else"],
                                             headers: bearer(deskToken))
                #expect(filed.status == 201, "\(filed.json)")
                #expect(filed.json["taken_by"] as? String == "前台 李梅")
                let id = try #require(filed.json["id"] as? String)
                let orders = try await s.workOrders(id, count: 1)
                let order = try #require(orders.first { $0["queue"] as? String == "engineering" }?["id"] as? String)

                // The engineer takes and resolves the engineering order; the timeline names them.
                let techToken = try await tech.signIn(port: DeskScenario.intakePort)
                let asTech = bearer(techToken)
                #expect(try await s.post("/work-orders/\(order)/accept", [:], headers: asTech).status == 200)
                let resolved = try await s.post("/work-orders/\(order)/resolve", ["outcome": "换了阀门"], headers: asTech)
                #expect(resolved.status == 200, "\(resolved.json)")
                let timeline = try #require((try await s.ticket(id))["timeline"] as? [[String: Any]])
                #expect(timeline.contains { $0["type"] as? String == "workorder.engineering.resolved" && $0["actor"] as? String == "王师傅" })
                #expect(try await s.post("/work-orders/\(order)/reassign", ["assignee": "Xu"], headers: asTech).status == 403)

                // A supervisor reassigns (the order is done, so a fresh one: the desk reopens the ticket).
                let asSupervisor = bearer(try await supervisor.signIn(port: DeskScenario.intakePort))
                #expect(try await s.post("/tickets/\(id)/reopen", ["reason": "still leaking"], headers: asSupervisor).status == 200)
                let again = try await eventually("a new engineering order") {
                    try await s.workOrders(id, count: 2).first { $0["queue"] as? String == "engineering" && $0["status"] as? String == "assigned" }?["id"] as? String
                }
                let reassigned = try await s.post("/work-orders/\(again)/reassign", ["assignee": "Xu", "reason": "Xu is on site"], headers: asSupervisor)
                #expect(reassigned.status == 200 && reassigned.json["assignee"] as? String == "Xu", "\(reassigned.json)")

                // The technician asks for a resident's file; the manager approves; the read works, until it expires.
                let resident = try await residentAt(s, s.property)
                let before = try await s.request("GET", "/residents/\(resident)", headers: asTech)
                #expect(before.status == 403 && before.code == "approval_required")
                let asked = try await s.post("/residents/\(resident)/file-requests", ["reason": "换锁前核对业主身份 (T2)"], headers: asTech)
                #expect(asked.status == 201, "\(asked.json)")
                let request = try #require(asked.json["id"] as? String)
                let selfApproval = try await s.post("/file-requests/\(request)/approve", ["minutes": 5], headers: asTech)
                #expect(selfApproval.status == 403)
                let asManager = bearer(try await manager.signIn(port: DeskScenario.intakePort))
                let pending = try await s.request("GET", "/file-requests", headers: asManager)
                #expect((pending.json["file_requests"] as? [[String: Any]] ?? []).contains { $0["id"] as? String == request })
                let approved = try await s.post("/file-requests/\(request)/approve", ["minutes": 5], headers: asManager)
                #expect(approved.status == 200 && approved.json["state"] as? String == "approved", "\(approved.json)")
                let file = try await s.request("GET", "/residents/\(resident)", headers: asTech)
                #expect(file.status == 200 && file.json["phone"] as? String == "13700001234", "\(file.json)")
                try await s.db.execute("UPDATE file_requests SET expires_at = now() - interval '1 second' WHERE id = $1", [request])
                let expired = try await s.request("GET", "/residents/\(resident)", headers: asTech)
                #expect(expired.status == 403 && expired.code == "approval_required")

                // The managers see who asked, who approved, who read and who was refused.
                let history = try await s.request("GET", "/residents/\(resident)/access-history", headers: asManager)
                let actions = (history.json["entries"] as? [[String: Any]] ?? []).map { "\($0["actor"] as? String ?? "") \($0["action"] as? String ?? "")" }
                #expect(actions == ["\(tech.login) file_read_refused", "\(tech.login) file_requested", "\(manager.login) file_approved",
                                    "\(tech.login) file_read", "\(tech.login) file_read_refused"], "\(history.json)")
                #expect(try await s.request("GET", "/residents/\(resident)/access-history", headers: asTech).status == 403)
            }
        }

        /// Every intake route, as nobody, as every role, on ids inside and outside the caller's
        /// scope: 401 without credentials, 403 without the permission, 404 outside the scope, and
        /// neither inside it.
        @Test func everyRouteAsEveryRoleGives401Then403Then404OutsideTheScopeAndServesInsideIt() async throws {
            try await DeskScenario.run { s async throws in
                let other = try await Servers.newProperty(s.db, prefix: "o")
                let everywhere = try await TestAccount.create(s.db, roles: [.generalManager], properties: [s.property, other])
                let asGM = bearer(try await everywhere.signIn(port: DeskScenario.intakePort))
                func ticket(_ property: String, _ category: String) async throws -> (ticket: String, order: String) {
                    let filed = try await s.post("/tickets", ["property": property, "kind": "repair", "category": category, "channel": "phone",
                                                              "content": "test", "caller_phone": "13812345678"], headers: asGM)
                    let id = try #require(filed.json["id"] as? String, "\(filed.json)")
                    let order = try await eventually("the order of \(id)") {
                        (try await s.request("GET", "/tickets/\(id)", headers: asGM).json["work_orders"] as? [[String: Any]])?.first?["id"] as? String
                    }
                    return (id, order)
                }
                let outside = try await ticket(other, "plumbing")
                let security = try await ticket(s.property, "security")
                let outsideResident = try await residentAt(s, other)
                let outsideRequest = UUID().uuidString.lowercased()
                try await s.db.execute("INSERT INTO file_requests (id, resident_id, property, requested_by, reason) SELECT $1, $2, $3, id, 'x' FROM staff WHERE login = $4",
                                       [outsideRequest, outsideResident, other, everywhere.login])

                // A filed Monday report on each property, for /reports/files/{id}.
                func file(_ property: String) async throws -> String {
                    let id = UUID().uuidString.lowercased()
                    try await s.db.execute("""
                        INSERT INTO report_files (id, property, report, period_from, period_to, content_type, body)
                        VALUES ($1::uuid, $2, 'weekly_complaints', '2026-11-23', '2026-11-30', 'text/html; charset=utf-8', '<p>周报</p>')
                        """, [id, property])
                    return id
                }
                let insideFile = try await file(s.property), outsideFile = try await file(other)
                let outsideRecord = try await Self.records(s, other, ticket: outside.ticket, by: everywhere.login)
                var covered = 0, outOfScope = 0
                for role in StaffRole.allCases {
                    let account = try await TestAccount.create(s.db, roles: [role], departments: [.engineering], properties: [s.property])
                    let headers = bearer(try await account.signIn(port: DeskScenario.intakePort))
                    let identity = StaffIdentity(id: UUID(), login: account.login, name: account.name, roles: [role],
                                                 departments: [.engineering], properties: [s.property])
                    // Fresh ids inside the scope for this role: an engineering repair here.
                    let inside = try await ticket(s.property, "plumbing")
                    let resident = try await residentAt(s, s.property)
                    let asker = try await TestAccount.create(s.db, roles: [.technician], departments: [.engineering], properties: [s.property])
                    let request = UUID().uuidString.lowercased()
                    try await s.db.execute("INSERT INTO file_requests (id, resident_id, property, requested_by, reason) SELECT $1, $2, $3, id, 'x' FROM staff WHERE login = $4",
                                           [request, resident, s.property, asker.login])
                    let insideRecord = try await Self.records(s, s.property, ticket: inside.ticket, by: everywhere.login)
                    for route in IntakeAPI.routes {
                        let body: Data? = route.method != .get
                            ? try JSONSerialization.data(withJSONObject: route.path == "/tickets"
                                ? ["property": s.property, "kind": "inquiry", "channel": "phone", "content": "问询"] : Self.anyStep)
                            : nil
                        let here = Self.path(route.path, method: route.method == .get, inside, resident: resident, request: request, property: s.property,
                                             file: insideFile, records: insideRecord)
                        let nobody = try await s.request(route.method.rawValue, here, body: body, headers: [DeskScenario.asRole: ""])
                        #expect(nobody.status == 401 && nobody.code == "not_signed_in", "\(route.method) \(route.path) as nobody: \(nobody.status)")
                        let reply = try await s.request(route.method.rawValue, here, body: body, headers: headers)
                        covered += 1
                        guard identity.acting(route.permission) != nil else {
                            #expect(reply.status == 403 && reply.code == "forbidden", "\(route.method) \(route.path) as \(role): \(reply.status) \(reply.json)")
                            continue
                        }
                        // Taking from a queue has no id to be outside of: by the time it runs, the ticket
                        // steps before it have closed this role's order, so an empty queue (404) is
                        // the answer (taking itself: twoTechniciansTakingAtOnce…).
                        let emptyQueue = route.path == "/work-orders/take" && reply.status == 404
                            && (reply.json["message"] as? String)?.hasPrefix("no work order is waiting") == true
                        #expect(![401, 403, 404].contains(reply.status) || reply.code == "approval_required" || emptyQueue,
                                "\(route.method) \(route.path) as \(role) in scope: \(reply.status) \(reply.json)")
                        guard Self.namesWhatItReaches(route) else { continue }
                        var away = Self.path(route.path, method: route.method == .get, outside, resident: outsideResident, request: outsideRequest,
                                             property: other, file: outsideFile, records: outsideRecord)
                        // Department staff: the same property, another department's ticket and order.
                        if identity.scope.departments != nil, route.path.hasPrefix("/tickets/") || route.path.hasPrefix("/work-orders/") {
                            away = Self.path(route.path, method: route.method == .get, security, resident: outsideResident, request: outsideRequest,
                                             property: other, file: outsideFile, records: outsideRecord)
                        }
                        let probe = try await s.request(route.method.rawValue, away, body: body, headers: headers)
                        outOfScope += 1
                        #expect(probe.status == 404, "\(route.method) \(route.path) as \(role) out of scope (\(away)): \(probe.status) \(probe.json)")
                        #expect(!String(decoding: probe.data, as: UTF8.self).contains("13812345678"))
                    }
                }
                print("access: \(covered) route × role combinations, \(outOfScope) of them also out of scope")
                #expect(covered == IntakeAPI.routes.count * StaffRole.allCases.count)
            }
        }

        @Test func bruteForceIsLockedOutWith429AndRetryAfterAndOnTheRecord() async throws {
            try await DeskScenario.run { s async throws in
                let account = try await TestAccount.create(s.db, roles: [.technician], departments: [.engineering], properties: [s.property])
                var wrong = account.credentials()
                wrong["password"] = "not-the-password"
                var replies: [DeskScenario.Reply] = []
                for _ in 0..<6 { replies.append(try await s.post("/auth/login", wrong, headers: [DeskScenario.asRole: ""])) }
                #expect(replies.prefix(4).allSatisfy { $0.status == 401 && $0.code == "invalid_credentials" }, "\(replies.map(\.status))")
                #expect(replies[4].status == 429 && replies[5].status == 429 && replies[5].code == "too_many_attempts")
                #expect(Int(replies[5].headers["retry-after"] ?? "") ?? 0 > 0)
                // Even the right password waits out the lock.
                let right = try await s.post("/auth/login", account.credentials(), headers: [DeskScenario.asRole: ""])
                #expect(right.status == 429)
                let rows = try await s.db.query("SELECT action FROM audit_log WHERE actor = $1 ORDER BY id", [account.login]).map { try $0.decode(0, as: String.self) }
                #expect(rows == Array(repeating: "login_failed", count: 5) + ["locked_out"], "\(rows)")
                // The address was counted too (it locks at four times the account limit). The test
                // takes back what it added, so that reruns on a kept stack are not locked out.
                let address = try await s.db.query("SELECT failures FROM login_throttle WHERE key = 'address:127.0.0.1'").first?.decode(0, as: Int.self)
                #expect((address ?? 0) >= 5)
                try await s.db.execute("UPDATE login_throttle SET failures = greatest(0, failures - 5) WHERE key = 'address:127.0.0.1'")
            }
        }

        @Test func expiredAlteredOrSignedOutSessionsAreRefusedAndCookieChangesNeedTheCSRFToken() async throws {
            try await DeskScenario.run { s async throws in
                let account = try await TestAccount.create(s.db, roles: [.operator_], properties: [s.property])
                let login = try await s.post("/auth/login", account.credentials(kind: "session"), headers: [DeskScenario.asRole: ""])
                #expect(login.status == 200)
                let setCookie = try #require(login.headers["set-cookie"])
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
                let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))
                let csrf = try #require(login.json["csrf_token"] as? String)
                let asCookie = ["Cookie": cookie, DeskScenario.asRole: ""]
                #expect(try await s.request("GET", "/auth/me", headers: asCookie).json["staff"] != nil)
                // A change through the cookie alone is refused; with the token it is made.
                let form: [String: Any] = ["property": s.property, "kind": "inquiry", "channel": "phone", "content": "几点停水"]
                let forged = try await s.post("/tickets", form, headers: asCookie)
                #expect(forged.status == 403 && forged.code == "csrf_token_missing")
                #expect(try await s.post("/tickets", form, headers: asCookie.merging(["X-CSRF-Token": csrf]) { $1 }).status == 201)
                // An altered cookie signs nobody in.
                var altered = Array(cookie)
                altered[altered.count - 1] = altered.last == "A" ? "B" : "A"
                #expect(try await s.request("GET", "/auth/me", headers: ["Cookie": String(altered), DeskScenario.asRole: ""]).status == 401)
                // Signed out, the same cookie is refused.
                #expect(try await s.post("/auth/logout", [:], headers: asCookie.merging(["X-CSRF-Token": csrf]) { $1 }).status == 204)
                let replayed = try await s.request("GET", "/auth/me", headers: asCookie)
                #expect(replayed.status == 401 && replayed.code == "not_signed_in")
                // An expired token is refused.
                let token = try await account.signIn(port: DeskScenario.intakePort)
                #expect(try await s.request("GET", "/auth/me", headers: bearer(token)).status == 200)
                try await s.db.execute("UPDATE staff_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [SessionToken.hash(token)])
                let expired = try await s.request("GET", "/auth/me", headers: bearer(token))
                #expect(expired.status == 401 && expired.code == "not_signed_in")
            }
        }

        /// Each service's own PostgreSQL role, with its real credentials from the stack.
        func connect(as service: String) async throws -> PostgresClient {
            let path = try Servers.required("PROPDESK_STACK_DIR") + "/secrets/\(service)-database.url"
            let url = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            return PostgresClient(configuration: try PostgresConfiguration(url: url), size: 1, logger: Servers.logger)
        }

        func refused(_ db: PostgresClient, _ sql: String) async -> Bool {
            do {
                _ = try await db.execute(sql)
                return false
            } catch let error as PostgresError {
                return error.sqlState == "42501"
            } catch {
                return false
            }
        }

        @Test func eachServiceRunsAsItsOwnDatabaseRoleAndTheForbiddenStatementsFail() async throws {
            let dispatch = try await connect(as: "dispatch"), notification = try await connect(as: "notification")
            let intake = try await connect(as: "intake"), escalation = try await connect(as: "escalation")
            defer { [dispatch, notification, intake, escalation].forEach { $0.shutdown() } }
            #expect(try await dispatch.query("SELECT current_user")[0].decode(0, as: String.self) == "propdesk_dispatch")
            #expect(await refused(dispatch, "SELECT count(*) FROM deliveries"), "dispatch cannot touch deliveries")
            #expect(await refused(notification, "UPDATE tickets SET status = status WHERE false"), "notification cannot update tickets")
            #expect(await refused(escalation, "UPDATE tickets SET status = status WHERE false"))
            for db in [dispatch, notification, intake, escalation] {
                #expect(await refused(db, "UPDATE audit_log SET reason = 'x' WHERE false"), "no service alters the audit log")
                #expect(await refused(db, "DELETE FROM audit_log WHERE false"))
                #expect(await refused(db, "CREATE TABLE nope (x int)"))
            }
            #expect(await refused(intake, "UPDATE staff SET roles = '{general_manager}' WHERE false"), "intake cannot change anyone's roles")
            for db in [dispatch, notification, escalation] {
                #expect(await refused(db, "SELECT password_hash, totp_secret FROM staff"), "only intake reads how staff sign in")
                #expect(try await db.query("SELECT count(login) FROM staff")[0].decode(0, as: Int.self) >= 0)
            }
            // What they need, they can.
            #expect(try await notification.query("SELECT count(*) FROM deliveries")[0].decode(0, as: Int.self) >= 0)
            _ = try await intake.execute("INSERT INTO audit_log (actor, action, subject) VALUES ('integration-test', 'login_failed', 'staff nobody')")
            // Not even the owner rewrites the record.
            let owner = try await Servers.database(size: 1)
            defer { owner.shutdown() }
            await #expect(throws: PostgresError.self) { try await owner.execute("DELETE FROM audit_log WHERE actor = 'integration-test'") }
        }

        /// RabbitMQ's permissions are regexes on exchange and queue names (configure, write, read)
        /// and, for topic exchanges, on routing keys: both are enforced here.
        @Test func notificationsBrokerUserCannotPublishTicketEventsNorConsumeDispatchsQueue() async throws {
            let path = try Servers.required("PROPDESK_STACK_DIR") + "/secrets/notification-amqp.url"
            let url = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let own = AMQPConnection(configuration: try AMQPConfiguration(url: url, connectionName: "test-as-notification"), logger: Servers.logger)
            try await own.connect()
            defer { Task { await own.close() } }
            let forged = AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: "ticket.complaint.cancelled.sunrise-garden", body: Data("{}".utf8))
            await #expect(throws: (any Error).self, "publishing ticket.* as notification") { try await own.publish(forged) }
            let other = AMQPConnection(configuration: try AMQPConfiguration(url: url, connectionName: "test-as-notification-2"), logger: Servers.logger)
            try await other.connect()
            defer { Task { await other.close() } }
            await #expect(throws: (any Error).self, "consuming propdesk.dispatch as notification") {
                _ = try await other.consume(queue: PropDeskTopology.queueName(service: "dispatch"))
            }
            // Its own event types it may publish.
            let third = AMQPConnection(configuration: try AMQPConfiguration(url: url, connectionName: "test-as-notification-3"), logger: Servers.logger)
            try await third.connect()
            defer { Task { await third.close() } }
            try await third.publish(AMQPMessage(exchange: PropDeskTopology.eventsExchange, routingKey: "notification.test.sunrise-garden", body: Data("{}".utf8)))
        }

        /// docker-compose cannot run here, but its RabbitMQ definitions can: the generated users,
        /// password hashes and permissions are imported into the real broker (renamed into a
        /// scratch vhost) and each generated password signs its user in.
        @Test func theComposeSecretsRabbitMQDefinitionsLoadAndTheirPasswordsSignIn() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compose-secrets-\(Servers.unique())").path
            let made = try await Subprocess.run(Servers.repositoryRoot.appendingPathComponent("deploy/docker/make-secrets").path, [],
                                                environment: ProcessInfo.processInfo.environment.merging(["PROPDESK_COMPOSE_SECRETS": dir]) { $1 })
            #expect(made.status == 0, "\(made.output)")
            let tag = "chk\(Servers.unique())"
            let original = try String(contentsOfFile: dir + "/rabbitmq-definitions.json", encoding: .utf8)
            let renamed = original.replacingOccurrences(of: "\"propdesk-", with: "\"\(tag)-")
                .replacingOccurrences(of: "\"vhost\": \"propdesk\"", with: "\"vhost\": \"\(tag)\"")
                .replacingOccurrences(of: "\"name\": \"propdesk\"", with: "\"name\": \"\(tag)\"")
                .replacingOccurrences(of: "\"user\": \"propdesk\"", with: "\"user\": \"\(tag)\"")
            #expect(!renamed.contains("\"propdesk-") && !renamed.contains("\"vhost\": \"propdesk\""), "every user and the vhost renamed")
            let file = dir + "/renamed.json"
            try renamed.write(toFile: file, atomically: true, encoding: .utf8)
            try await Servers.stack("rabbitmqctl", "import_definitions", file)
            for service in ["intake", "notification", "worker"] {
                let password = try String(contentsOfFile: dir + "/amqp-\(service)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                try await Servers.stack("rabbitmqctl", "authenticate_user", "\(tag)-\(service)", password)
            }
            try await Servers.stack("rabbitmqctl", "list_topic_permissions", "-p", tag)
            for user in ["intake", "dispatch", "escalation", "notification", "billing", "worker"] {
                try await Servers.stack("rabbitmqctl", "delete_user", "\(tag)-\(user)")
            }
            try await Servers.stack("rabbitmqctl", "delete_user", tag)
            try await Servers.stack("rabbitmqctl", "delete_vhost", tag)
            let sql = try String(contentsOfFile: dir + "/postgres-init.sql", encoding: .utf8)
            #expect(sql.contains("CREATE ROLE propdesk_dispatch LOGIN PASSWORD"))
            try? FileManager.default.removeItem(atPath: dir)
        }

        @Test func theWorkerCommandLineActsOnlyForItsOwnDepartment() async throws {
            try await DeskScenario.run { s async throws in
                let tokenFile = try await s.workerTokenFile("王师傅")
                let worker = try RealServers.ServiceProcessTests.binary("propdesk-worker")
                let env = RealServers.ServiceProcessTests.environment(service: "worker", ["PROPDESK_INTAKE_URL": "http://127.0.0.1:\(DeskScenario.intakePort)"])
                let elsewhere = try await Subprocess.run(worker, ["take", "--department", "security", "--property", s.property, "--token-file", tokenFile],
                                                         environment: env, timeout: .seconds(30))
                #expect(elsewhere.status != 0 && elsewhere.output.contains("not security"), "\(elsewhere.output)")
                let filed = try await s.file(["kind": "repair", "category": "security", "content": "门禁坏了"])
                let id = try #require(filed.json["id"] as? String)
                let order = try #require(try await s.workOrders(id, count: 1).first?["id"] as? String)
                let step = try await Subprocess.run(worker, ["on-site", order, "--token-file", tokenFile], environment: env, timeout: .seconds(30))
                #expect(step.status != 0 && step.output.contains("404"), "a security order is not found for an engineer: \(step.output)")
            }
        }
    }
}
