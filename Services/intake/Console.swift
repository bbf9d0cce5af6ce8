import Console
import Desk
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Logging
import NIOCore
import Notify
import Postgres
import Reports
import ServiceKit
import ServiceLifecycle

/// The web console, served by intake: server-rendered pages (``ConsolePages``) behind the
/// session cookie, over the same stores and scope queries as the API; the pages' changes go
/// through the API itself (their script sends JSON with the CSRF token). Live updates are
/// Server-Sent Events from this replica's ``LiveHub``.
///
/// A page without a session redirects to the sign-in page; one the role may not use, or an id
/// outside the reader's scope, is an HTML page with 403 or 404. Every page sends a
/// Content-Security-Policy that allows only the console's own script and stylesheet.
struct ConsoleRoutes: Sendable {
    let api: IntakeAPI
    let pages: ConsolePages
    let hub: LiveHub
    let authenticator: Authenticator

    typealias PageHandler = @Sendable (ConsoleRoutes, Request, PropDeskRequestContext, Caller, ConsoleLanguage) async throws -> Response

    struct Page: Sendable {
        let path: String
        let permission: Permission
        let handler: PageHandler
    }

    static let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Every page and what it needs; ``open`` lists the rest (sign-in, files, language).
    static let signedIn: [Page] = [
        Page(path: "/console", permission: .session) { c, _, _, caller, _ in c.home(caller) },
        Page(path: "/console/call", permission: .ticketsCreate) { c, r, _, caller, l in try await c.call(r, caller, l) },
        Page(path: "/console/api/caller", permission: .callersLookup) { c, r, _, caller, l in try await c.callerLookup(r, caller, l) },
        Page(path: "/console/api/emergency", permission: .ticketsCreate) { c, r, _, _, l in try c.emergency(r, l) },
        Page(path: "/console/board", permission: .ticketsRead) { c, r, _, caller, l in try await c.board(r, caller, l) },
        Page(path: "/console/events", permission: .ticketsRead) { c, r, _, caller, l in try await c.events(r, caller, l) },
        Page(path: "/console/tickets/{id}", permission: .ticketsRead) { c, r, x, caller, l in try await c.ticket(r, x, caller, l) },
        Page(path: "/console/work", permission: .workOrdersRead) { c, r, _, caller, l in try await c.work(r, caller, l) },
        Page(path: "/console/supervisor", permission: .reportsRead) { c, r, _, caller, l in try await c.supervisor(r, caller, l) },
        Page(path: "/console/reports", permission: .reportsRead) { c, r, _, caller, l in try await c.reports(r, caller, l) },
        Page(path: "/console/records", permission: .handovers) { c, r, _, caller, l in try await c.records(r, caller, l) },
        Page(path: "/console/residents/{id}", permission: .residentsRequest) { c, r, x, caller, l in try await c.resident(r, x, caller, l) },
    ]

    /// Routes without a session: the sign-in page, the static files and the language switch.
    static let open = ["/console/login", "/console/assets/{name}", "/console/lang/{language}"]

    func register(on router: Router<PropDeskRequestContext>) {
        for page in Self.signedIn {
            let routes = self
            router.get(RouterPath(page.path.replacingOccurrences(of: "{id}", with: ":id"))) { request, context in
                let language = ConsoleLanguage(cookieHeader: request.headers[values: .cookie])
                do {
                    let caller = try await routes.authenticator.caller(request, context, page.permission)
                    return try await page.handler(routes, request, context, caller, language)
                } catch let error as APIError where error.status == .unauthorized && !page.path.hasPrefix("/console/api") && page.path != "/console/events" {
                    return Self.redirect("/console/login?next=" + Self.encoded(request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")))
                } catch let error as APIError where [.badRequest, .forbidden, .notFound].contains(error.status) && !page.path.hasPrefix("/console/api") && page.path != "/console/events" {
                    return routes.errorPage(error, language)
                }
            }
        }
        router.get("/console/login") { request, _ in
            let language = ConsoleLanguage(cookieHeader: request.headers[values: .cookie])
            let next = Self.safeNext(try FormQuery(request.uri.query)["next"])
            var context = base(nil, language, page: "login", title: ConsoleText.get("sign_in", language), request: request)
            context["next"] = next
            return html(pages.render("login", context))
        }
        router.get("/console/assets/:name") { _, context in
            guard let name = context.parameters.get("name"), let asset = pages.asset(name) else { throw APIError.notFound("file") }
            return Response(status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        }
        router.get("/console/lang/:language") { request, context in
            guard let language = context.parameters.get("language").flatMap(ConsoleLanguage.init(rawValue:)) else {
                throw APIError.badRequest(.unknownValue, "language is zh-CN or en", field: "language")
            }
            var response = Self.redirect(Self.safeNext(try FormQuery(request.uri.query)["back"]))
            response.headers[.setCookie] = "\(ConsoleLanguage.cookieName)=\(language.rawValue); Path=/; Max-Age=31536000; SameSite=Strict"
            return response
        }
    }

    // MARK: - Pages

    /// Each role's first page: the desk takes calls, department staff work their queues, the
    /// supervisors watch what is at risk.
    func home(_ caller: Caller) -> Response {
        let first = navigation(caller, .zh).first?["href"] as? String ?? "/console/board"
        return Self.redirect(first)
    }

    func call(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let properties = try await propertyList(caller)
        var context = base(caller, language, page: "call", title: ConsoleText.get("call_title", language), request: request)
        context["key"] = UUID().uuidString.lowercased()
        context["properties"] = properties.map { ["code": $0.code, "name": $0.name, "offset": ConsoleTime.offset(Self.zone($0))] }
        context["kinds"] = Self.options(TicketKind.allCases, language)
        context["channels"] = Self.options(IntakeChannel.allCases, language)
        context["severities"] = Self.options(ComplaintSeverity.allCases, language)
        context["emergencies"] = Self.options(EmergencyType.allCases, language)
        return html(pages.render("call", context))
    }

    /// The caller lookup of the call form: the register's residents and the open and recent
    /// tickets of their units. The number is masked for every role: the desk has just typed it,
    /// and a list is never an unmasked read (P1).
    func callerLookup(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let residents = try await api.residents(FormQuery(request.uri.query), caller, unmasked: false)
        var seen: Set<String> = []
        var tickets: [[String: String]] = []
        for r in residents where seen.insert("\(r.property)|\(r.building)|\(r.unit)").inserted {
            var filter = TicketStore.Filter(property: r.property, limit: 10)
            filter.building = r.building
            filter.unit = r.unit
            filter.scope = caller.scope
            let chosen = filter
            for t in try await api.postgres.withConnection({ c in try TicketStore.list(chosen, on: c) }) {
                tickets.append(["id": t.id.uuidString.lowercased(), "number": t.number, "kind_label": ConsoleText.label(t.kind.rawValue, language),
                                "status_label": ConsoleText.label(t.status.rawValue, language),
                                "summary": Masking.text(String(t.content.prefix(TicketStore.summaryLength)))])
            }
        }
        let body = try JSONSerialization.data(withJSONObject: [
            "residents": try JSONSerialization.jsonObject(with: DeskJSON.encoder.encode(residents)), "tickets": tickets,
        ], options: [.sortedKeys])
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Whether typed text reads as an emergency, by the words routing and the clocks use.
    func emergency(_ request: Request, _ language: ConsoleLanguage) throws -> Response {
        let text = try FormQuery(request.uri.query)["text"] ?? ""
        guard text.count <= TicketForm.maxContent else {
            throw APIError.badRequest(.tooLong, "text is at most \(TicketForm.maxContent) characters", field: "text")
        }
        let found = StandardEmergencies.detect(text)
        return try IntakeAPI.json(EmergencyAnswer(emergency: found, label: found.map { ConsoleText.label($0.rawValue, language) }))
    }

    struct EmergencyAnswer: Encodable {
        var emergency: EmergencyType?
        var label: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(emergency, forKey: .emergency)
            try c.encode(label, forKey: .label)
        }

        enum CodingKeys: String, CodingKey { case emergency, label }
    }

    func board(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let filter = try Self.boardFilter(q)
        let position = hub.position
        let scope = caller.scope
        let rows = try await api.postgres.withConnection { c in try TicketStore.board(filter, within: scope, on: c) }
        let now = Date()
        var context = base(caller, language, page: "board", title: ConsoleText.get("board_title", language), request: request)
        context["live"] = "board"
        context["position"] = position
        context["rows"] = rows.map { BoardLine.context($0, language, now: now) }
        context["count"] = rows.count
        context["overdue"] = filter.overdue
        context["properties"] = try await propertyList(caller).map { ["code": $0.code, "name": $0.name, "selected": $0.code == filter.property] }
        context["departments"] = Self.options(caller.scope.departments ?? Department.allCases, language, selected: filter.department)
        context["kinds"] = Self.options(TicketKind.allCases, language, selected: filter.kind)
        context["statuses"] = Self.options(TicketStatus.allCases.filter { $0 != .closed && $0 != .cancelled }, language, selected: filter.status)
        return html(pages.render("board", context))
    }

    /// The board's filters from its form: an empty choice ("all") filters nothing.
    static func boardFilter(_ q: FormQuery) throws -> BoardFilter {
        func chosen<E: RawRepresentable & CaseIterable>(_ name: String, _ type: E.Type) throws -> E? where E.RawValue == String {
            q[name]?.isEmpty == false ? try q.choice(name, type) : nil
        }
        return BoardFilter(property: q["property"].flatMap { $0.isEmpty ? nil : $0 }, department: try chosen("department", Department.self),
                           kind: try chosen("kind", TicketKind.self), status: try chosen("status", TicketStatus.self),
                           overdue: q["overdue"]?.isEmpty == false ? try q.flag("overdue") : false)
    }

    /// `GET /console/events`: the page's live updates as Server-Sent Events. `view=board` (with
    /// the board's filters), `view=ticket&ticket=<id>` or `view=all`; `after` (or the browser's
    /// `Last-Event-ID` on a reconnect) resumes after the last update the page saw.
    func events(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let view: LiveAudience.View
        switch q["view"] ?? "board" {
        case "board": view = .board(try Self.boardFilter(q))
        case "all": view = .all
        case "ticket":
            guard let raw = q["ticket"], let id = UUID(uuidString: raw) else { throw APIError.notFound("ticket") }
            let scope = caller.scope
            guard try await api.postgres.withConnection({ c in try TicketStore.reaches(scope, ticket: id, on: c) }) else {
                throw APIError.notFound("ticket")
            }
            view = .ticket(id)
        default: throw APIError.badRequest(.unknownValue, "view is board, ticket or all", field: "view")
        }
        let after = request.headers[.lastEventID] ?? q["after"].flatMap { $0.isEmpty ? nil : $0 }
        let subscription = hub.subscribe(LiveAudience(scope: caller.scope, language: language, view: view), after: after)
        let postgres = api.postgres, tokenHash = caller.session.tokenHash, heartbeat = Self.heartbeat
        let body = ResponseBody { writer in
            subscription.put("retry: 2000\n: connected\n\n")
            await withTaskGroup(of: Void.self) { group in
                // The replica is stopping: the stream ends, and the browser reconnects elsewhere.
                group.addTask {
                    try? await gracefulShutdown()
                    subscription.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: heartbeat)
                        if Task.isCancelled { break }
                        let valid = (try? await postgres.withConnection { try StaffStore.stillValid(tokenHash: tokenHash, on: $0) }) ?? true
                        if !valid {
                            subscription.put(LiveHub.event(id: nil, name: "signed-out", data: "{}"))
                            subscription.finish()
                            break
                        }
                        subscription.put(LiveHub.heartbeat)
                    }
                }
                // Everything waiting goes out in one write.
                while let text = await subscription.next() {
                    do { try await writer.write(ByteBuffer(string: text)) } catch { break }
                }
                subscription.finish()
                group.cancelAll()
            }
            try? await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                                               .xAccelBuffering: "no"], body: body)
    }

    /// How often a live stream says it is alive and checks that its session still is.
    static let heartbeat: Duration = .seconds(15)

    func ticket(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let id = try context.pathID()
        let role = caller.role, scope = caller.scope
        let (ticket, clocks, resident, zone, signOffs) = try await api.postgres.withTransaction { c -> (TicketView, [ClockStepView], UUID?, String, [UUID: SignedOff]) in
            guard let ticket = try TicketStore.ticket(id, within: scope, on: c) else { throw APIError.notFound("ticket") }
            if role.seesResidentContact, ticket.callerPhone != nil {
                try IntakeAPI.logContactRead(c, caller, subject: "ticket \(id.uuidString.lowercased())", purpose: "console ticket page")
            }
            let resident: UUID? = try ticket.callerPhone.flatMap { phone in
                try c.query("""
                    SELECT id FROM residents WHERE property = $1 AND right(regexp_replace(phone, '[^0-9]', '', 'g'), 11) = right(regexp_replace($2, '[^0-9]', '', 'g'), 11)
                    ORDER BY id LIMIT 1
                    """, [ticket.property, phone]).first.map { try $0.decode(0) }
            }
            let zone: String = try c.query("SELECT time_zone FROM properties WHERE code = $1", [ticket.property]).first?.decode(0) ?? "Asia/Shanghai"
            return (ticket.masked(for: role), try TicketStore.clocks(ticket: id, on: c), resident, zone, try Self.signOffs(ticket: id, on: c))
        }
        let tz = TimeZone(identifier: zone) ?? .current
        let now = Date()
        let filed = try FormQuery(request.uri.query)["filed"] == "1"
        var page = base(caller, language, page: "ticket", title: ticket.number, request: request)
        page["live"] = "ticket"
        page["live_ticket"] = id.uuidString.lowercased()
        page["position"] = hub.position
        page["filed"] = filed
        page["number"] = ticket.number
        page["kind"] = ConsoleText.label(ticket.kind.rawValue, language)
        page["status"] = ConsoleText.label(ticket.status.rawValue, language)
        page["property"] = ticket.property
        page["place"] = ticket.place ?? ""
        page["caller_name"] = ticket.callerName ?? ""
        page["caller_phone"] = ticket.callerPhone ?? ""
        page["resident"] = resident?.uuidString.lowercased() ?? false
        page["taken_by"] = ticket.takenBy
        page["created_at"] = ConsoleTime.local(ticket.createdAt, zone: tz)
        page["created_at_iso"] = ConsoleTime.iso(ticket.createdAt)
        page["requested_at"] = ticket.requestedAt.map { ConsoleTime.local($0, zone: tz) } ?? false
        page["content"] = ticket.content
        let orders = (ticket.workOrders ?? []).map { o -> [String: Any] in
            ["id": o.id.uuidString.lowercased(), "department": ConsoleText.label(o.department.rawValue, language),
             "priority": ConsoleText.label(o.priority.rawValue, language), "status": ConsoleText.label(o.status.rawValue, language),
             "assignee": o.assignee ?? ""]
        }
        page["orders"] = orders
        page["has_orders"] = !orders.isEmpty
        // R5: a repair's done orders, signed off or waiting for the inspection and the customer's signature.
        if [.repair, .emergency].contains(ticket.kind) {
            let works = caller.identity.acting(.workOrdersWork) != nil
            let rows = (ticket.workOrders ?? []).filter { $0.status == .done }.compactMap { o -> [String: Any]? in
                let department = ConsoleText.label(o.department.rawValue, language)
                if let done = signOffs[o.id] {
                    var row: [String: Any] = ["id": o.id.uuidString.lowercased(), "department": department, "signed": true, "signer": done.signer,
                                              "class": ConsoleText.get("signoff_class_\(done.repairClass.lowercased())", language),
                                              "at": ConsoleTime.local(done.at, zone: tz)]
                    if let contractor = done.contractor { row["contractor"] = contractor }
                    if let drawn = done.drawn { row["svg"] = drawn.svg }
                    return row
                }
                return works ? ["id": o.id.uuidString.lowercased(), "department": department, "signed": false] : nil
            }
            page["signoffs"] = rows
            page["has_signoffs"] = !rows.isEmpty
        }
        let clockRows = clocks.map { Self.clockContext($0, now: now, zone: tz, language) }
        page["clocks"] = clockRows
        page["has_clocks"] = !clockRows.isEmpty
        let actions = ticketActions(ticket, caller, language, zone: tz)
        page["actions"] = actions
        page["has_actions"] = !actions.isEmpty
        page["timeline"] = (ticket.timeline ?? []).map { e -> [String: Any] in
            var entry: [String: Any] = ["at": ConsoleTime.local(e.at, zone: tz), "at_iso": ConsoleTime.iso(e.at), "type": e.type, "actor": e.actor]
            if let role = e.role { entry["role"] = ConsoleText.label(role, language) }
            if case .object(let detail) = e.detail, case .string(let note)? = detail["note"] ?? detail["text"] { entry["note"] = note }
            return entry
        }
        return html(pages.render("ticket", page))
    }

    struct SignedOff: Sendable {
        var repairClass: String, contractor: String?, signer: String, at: Date, drawn: DrawnSignature?
    }

    /// The ticket's repair sign-offs by work order (R5).
    static func signOffs(ticket id: UUID, on c: PostgresConnection) throws -> [UUID: SignedOff] {
        var found: [UUID: SignedOff] = [:]
        for row in try c.query("SELECT work_order_id, repair_class, contractor, signer, signed_at, drawn::text FROM work_order_sign_offs WHERE ticket_id = $1", [id]) {
            let drawn = try row.decode(5, as: String?.self).map { try PostgresJSON(text: $0).decode(DrawnSignature.self) }
            found[try row.decode(0)] = SignedOff(repairClass: try row.decode(1), contractor: try row.decode(2, as: String?.self), signer: try row.decode(3),
                                                 at: try row.decode(4), drawn: drawn)
        }
        return found
    }

    static func clockContext(_ step: ClockStepView, now: Date, zone: TimeZone, _ language: ConsoleLanguage) -> [String: Any] {
        var row: [String: Any] = [
            "standard": step.standard, "title": ClockTitles.title(step.title, language), "step": step.step, "steps": step.steps, "state": step.state,
            "due": ConsoleTime.local(step.dueAt, zone: zone), "due_iso": ConsoleTime.iso(step.dueAt),
            "soon_at": ConsoleTime.iso(Urgency.soonAt(started: step.startedAt, due: step.dueAt)),
        ]
        switch step.state {
        case "pending":
            row["running"] = true
            row["left"] = ConsoleTime.duration(step.dueAt.timeIntervalSince(now))
        case "met":
            row["met"] = true
            row["by"] = ConsoleTime.duration(step.dueAt.timeIntervalSince(step.metAt ?? step.dueAt))
        case "fired":
            if let met = step.metAt {
                row["late"] = true
                row["by"] = ConsoleTime.duration(met.timeIntervalSince(step.dueAt))
            } else {
                row["late_open"] = true
                row["by"] = ConsoleTime.duration(now.timeIntervalSince(step.dueAt))
            }
        default: row["cancelled"] = true
        }
        return row
    }

    /// The steps the caller's roles may take on the ticket in its status, each a form for the API.
    func ticketActions(_ ticket: TicketView, _ caller: Caller, _ language: ConsoleLanguage, zone: TimeZone) -> [[String: Any]] {
        let id = ticket.id.uuidString.lowercased()
        var actions: [[String: Any]] = []
        for action in TicketAction.allCases where caller.identity.acting(action.permission) != nil {
            guard (try? TicketLifecycle.apply(action, to: ticket.status)) != nil else { continue }
            var form: [String: Any] = ["name": action.rawValue, "path": "/tickets/\(id)/\(action.pathSegment)",
                                       "label": ConsoleText.label(action == .onSite ? "on_site_action" : action.rawValue, language)]
            if let field = action.wordField {
                form["text"] = ["field": field, "label_text": ConsoleText.get("note_text", language), "required": true] as [String: Any]
            }
            actions.append(form)
        }
        if caller.identity.acting(.ticketsDesk) != nil {
            if ticket.status.isActive {
                actions.append(["name": "extend", "path": "/tickets/\(id)/extend", "label": ConsoleText.label("extend", language),
                                "until": true, "offset": ConsoleTime.offset(zone),
                                "text": ["field": "reason", "label_text": ConsoleText.get("reason", language), "required": true] as [String: Any]])
            }
            if ticket.status == .resolved || ticket.status == .closed {
                actions.append(["name": "follow_up", "path": "/tickets/\(id)/follow-up", "label": ConsoleText.label("follow_up", language),
                                "follow_up": true,
                                "text": ["field": "note", "label_text": ConsoleText.get("note_text", language), "required": false] as [String: Any]])
            }
        }
        return actions
    }

    func work(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let departments = caller.scope.departments ?? Department.allCases
        let scope = caller.scope
        let queue = try await api.postgres.withConnection { c in try TicketStore.workQueue(departments, within: scope, on: c) }
        var page = base(caller, language, page: "work", title: ConsoleText.get("work_title", language), request: request)
        page["live"] = "all"
        page["position"] = hub.position
        page["departments"] = Self.options(departments, language)
        page["many_departments"] = departments.count > 1
        page["orders"] = queue.map { q -> [String: Any] in
            let o = q.order
            let steps = WorkOrderAction.allCases.filter { $0 != .cancel && $0 != .reassign }.compactMap { action -> [String: Any]? in
                guard caller.identity.acting(action.permission) != nil, (try? WorkOrderLifecycle.apply(action, to: o.status)) != nil else { return nil }
                var step: [String: Any] = ["name": action.rawValue, "order": o.id.uuidString.lowercased(), "segment": action.pathSegment,
                                           "label": ConsoleText.label(action == .onSite ? "on_site_action" : action.rawValue, language)]
                if let field = action.wordField {
                    step["text"] = ["field": field, "label": ConsoleText.get("note_text", language), "required": true] as [String: Any]
                }
                if action == .transfer {
                    step["transfer"] = true
                    step["destinations"] = Self.options(Department.allCases.filter { $0 != o.department }, language)
                }
                return step
            }
            return ["id": o.id.uuidString.lowercased(), "ticket_id": o.ticketID.uuidString.lowercased(), "number": q.number,
                    "department": ConsoleText.label(o.department.rawValue, language), "priority": ConsoleText.label(o.priority.rawValue, language),
                    "status": ConsoleText.label(o.status.rawValue, language), "assignee": o.assignee ?? "", "summary": q.summary, "steps": steps]
        }
        return html(pages.render("work", page))
    }

    func supervisor(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let properties = try await propertyList(caller)
        guard let property = q["property"].flatMap({ p in properties.first { $0.code == p } }) ?? properties.first else {
            throw APIError.notFound("property")
        }
        var minutes = 30
        if let raw = q["minutes"] {
            guard let n = Int(raw), (1...1440).contains(n) else {
                throw APIError.badRequest(.invalidFormat, "minutes is a number from 1 to 1440", field: "minutes")
            }
            minutes = n
        }
        let scope = caller.scope, code = property.code, seconds = minutes * 60
        let zone = Self.zone(property)
        let now = Date()
        let (risk, breaches, owed, roster) = try await api.postgres.withConnection { c in
            (try TicketStore.steps(.dueWithin(seconds: seconds), property: code, within: scope, on: c),
             try TicketStore.steps(.breachedToday, property: code, within: scope, on: c),
             try TicketStore.steps(.followUpsOwed, property: code, within: scope, on: c),
             try Self.onDuty(code, zone: zone, now: now, on: c))
        }
        let followUps = try await api.reports.withConnection { c -> Reports.FollowUps? in
            guard let period = try Reports.period(property: code, from: nil, to: nil, now: now, on: c) else { return nil }
            return try Reports.followUps(property: code, period: period, on: c)
        }
        func line(_ s: TicketClockStep) -> [String: Any] {
            var row = Self.clockContext(s.step, now: now, zone: zone, language)
            row["ticket_id"] = s.ticketID.uuidString.lowercased()
            row["number"] = s.number
            row["holding"] = s.holding.map { ConsoleText.label($0.rawValue, language) }.joined(separator: language.listSeparator)
            row["met"] = s.step.metAt != nil
            return row
        }
        var page = base(caller, language, page: "supervisor", title: ConsoleText.get("supervisor_title", language), request: request)
        page["live"] = "all"
        page["position"] = hub.position
        page["properties"] = properties.map { ["code": $0.code, "name": $0.name, "selected": $0.code == code] }
        page["minutes"] = minutes
        page["risk"] = risk.map(line)
        page["breaches"] = breaches.map(line)
        page["follow_ups"] = owed.map(line)
        page["rate"] = followUps?.rate.map { String(format: "%.0f%%", $0 * 100) } ?? "—"
        page["on_time"] = followUps?.onTime ?? 0
        page["due_count"] = followUps?.due ?? 0
        page["roster"] = roster.map { ["role": ConsoleText.label($0.role.rawValue, language),
                                        "department": $0.department.map { ConsoleText.label($0.rawValue, language) } ?? "", "person": $0.person] }
        if caller.identity.acting(.residentsApprove) != nil {
            page["approver"] = true
            page["requests"] = try await ResidentFiles.pendingRequests(api, caller).map {
                ["id": $0.id.uuidString.lowercased(), "requested_by": $0.requestedBy, "reason": $0.reason]
            }
        }
        return html(pages.render("supervisor", page))
    }

    /// Who is on duty now at the property, by the roster's days and hours in its zone. Only the
    /// roster's names and hours are read: its contacts are the notification service's.
    static func onDuty(_ property: String, zone: TimeZone, now: Date, on c: PostgresConnection) throws -> [RosterEntry] {
        try c.query("""
            SELECT role, department, person, array_to_string(weekdays, ','), to_char(starts, 'HH24:MI'), to_char(ends, 'HH24:MI')
            FROM duty_roster WHERE property = $1 AND active ORDER BY role, department NULLS FIRST, id
            """, [property]).compactMap { row -> RosterEntry? in
            guard let role = StaffRole(rawValue: try row.decode(0)) else { return nil }
            let entry = RosterEntry(role: role, department: try row.decode(1, as: String?.self).flatMap(Department.init(rawValue:)),
                                    person: try row.decode(2), contacts: [],
                                    weekdays: try row.decode(3, as: String?.self).map { Set($0.split(separator: ",").compactMap { Int($0) }) },
                                    starts: TimeOfDay(try row.decode(4, as: String.self)) ?? TimeOfDay(seconds: 0),
                                    ends: TimeOfDay(try row.decode(5, as: String.self)) ?? TimeOfDay(seconds: 0))
            return entry.isOnDuty(at: now, in: zone) ? entry : nil
        }
    }

    func reports(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let properties = try await propertyList(caller)
        guard let property = q["property"].flatMap({ p in properties.first { $0.code == p } }) ?? properties.first else {
            throw APIError.notFound("property")
        }
        let from = try IntakeAPI.date(q, "from"), to = try IntakeAPI.date(q, "to"), day = try IntakeAPI.date(q, "week")
        let asked = q["period"].flatMap { $0.isEmpty ? nil : $0 }
        let code = property.code
        let found: (ReportPeriod, [Reports.DeadlineOutcome], Reports.FollowUps?, Reports.WeeklyComplaints?, Reports.Statistics?)?
        do {
            // The periods from the property's zone, which the page has already read.
            let zone = Self.zone(property), now = Date()
            let period = try ReportPeriod.resolve(from: from, to: to, now: now, timeZone: zone).get()
            let week = try ReportPeriod.week(containing: day, now: now, timeZone: zone).get()
            let month = try ReportPeriod.monthOrQuarter(asked, now: now, timeZone: zone).get()
            found = try await api.reports.withConnection { c in
                (period, try Reports.deadlines(property: code, period: period, on: c) ?? [],
                        try Reports.followUps(property: code, period: period, on: c),
                        try Reports.weeklyComplaints(property: code, week: week, on: c),
                        try Reports.statistics(property: code, period: month, on: c))
            }
        } catch let failure as ValidationFailure {
            throw APIError(status: .badRequest, code: failure.problems.first?.code ?? .invalidFormat, message: failure.description, problems: failure.problems)
        }
        guard let (period, deadlines, followUps, weekly, statistics) = found, let weekly, let statistics else { throw APIError.notFound("property") }
        let met = ConsoleText.get("met", language), breached = ConsoleText.get("breached", language)
        let running = ConsoleText.get("running", language)
        let deadlineChart = Charts.stackedBars(deadlines.map { d in
            Charts.Bar(label: d.ruleID == d.standard ? d.ruleID : "\(d.standard) · \(d.ruleID)",
                       parts: [(value: d.met, colour: "#1b7f3b", name: met), (value: d.breached, colour: "#b3261e", name: breached),
                               (value: d.running, colour: "#9aa0a6", name: running)])
        }, title: ConsoleText.get("deadline_report", language))
        let followUpChart = Charts.stackedBars(followUps.map { f in [
            Charts.Bar(label: ConsoleText.get("in_time", language), parts: [(value: f.onTime, colour: "#1b7f3b", name: ConsoleText.get("in_time", language))]),
            Charts.Bar(label: breached, parts: [(value: f.late, colour: "#b3261e", name: breached)]),
            Charts.Bar(label: ConsoleText.get("follow_ups_due", language), parts: [(value: f.outstanding, colour: "#a15c00", name: ConsoleText.get("follow_ups_due", language))]),
        ] } ?? [], title: ConsoleText.get("follow_up_report", language))
        var page = base(caller, language, page: "reports", title: ConsoleText.get("reports_title", language), request: request)
        page["properties"] = properties.map { ["code": $0.code, "name": $0.name, "selected": $0.code == code] }
        page["from"] = period.from.description
        page["to"] = period.to.description
        page["deadline_chart"] = deadlineChart
        page["clauses"] = deadlines.map { d in
            let none = "—"
            return ["rule": d.ruleID == d.standard ? d.ruleID : "\(d.standard) · \(d.ruleID)", "title": ClockTitles.title(d.title, language), "met": d.met, "breached": d.breached,
                    "compliance": d.compliance.map { String(format: "%.0f%%", $0 * 100) } ?? none,
                    "late_p50": d.lateP50Seconds.map(ConsoleTime.duration) ?? none, "late_p90": d.lateP90Seconds.map(ConsoleTime.duration) ?? none,
                    "late_max": d.lateMaxSeconds.map(ConsoleTime.duration) ?? none, "still_late": d.stillLate, "running": d.running] as [String: Any]
        }
        page["follow_up_chart"] = followUpChart
        page["rate"] = followUps?.rate.map { String(format: "%.0f%%", $0 * 100) } ?? "—"
        page["weekly"] = ReportViews.weekly(weekly, language)
        page["statistics"] = Self.statisticsPage(statistics, asked: asked, language)
        return html(pages.render("reports", page))
    }

    /// The statistics section: the headline rates, tickets by kind as a chart, the count tables,
    /// and the times to resolve.
    static func statisticsPage(_ s: Reports.Statistics, asked: String?, _ language: ConsoleLanguage) -> [String: Any] {
        func percent(_ value: Double?, _ format: String = "%.0f%%") -> String { value.map { String(format: format, $0 * 100) } ?? "—" }
        func rows(_ counts: [Reports.Statistics.Count], none: String) -> [[String: Any]] {
            counts.map { ["item": $0.item.map { ConsoleText.label($0, language) } ?? none, "count": $0.count] }
        }
        let kindChart = Charts.stackedBars(s.byKind.map { row in
            Charts.Bar(label: ConsoleText.label(row.item ?? "", language), parts: [(value: row.count, colour: "#0b57d0", name: ConsoleText.get("count", language))])
        }, title: ConsoleText.get("by_kind", language))
        let month = s.from.components
        let period = asked ?? String(format: "%04d-%02d", month.year, month.month)
        return [
            "property": s.property, "period": period, "from": s.from.description, "last_day": s.to.adding(days: -1).description,
            "total": s.total, "kind_chart": kindChart,
            "follow_up_rate": percent(s.followUps.rate),
            "decoration_rate": percent(s.decoration.rate, "%.1f%%"), "decoration_complaints": s.decoration.complaints,
            "decoration_applications": s.decoration.applications,
            "tables": [("by-kind", "by_kind", s.byKind), ("by-channel", "by_channel", s.byChannel), ("by-department", "by_department", s.byDepartment),
                       ("repairs-by-trade", "repairs_by_trade", s.repairsByTrade)].map { (cls, title, counts) -> [String: Any] in
                ["class": cls, "title": ConsoleText.get(title, language), "rows": rows(counts, none: ConsoleText.get("no_trade", language))]
            },
            "resolution": s.resolution.map { row in
                ["kind": row.kind.map { ConsoleText.label($0, language) } ?? ConsoleText.get("all_kinds", language), "resolved": row.resolved,
                 "p50": row.p50Seconds.map(ConsoleTime.duration) ?? "—", "p90": row.p90Seconds.map(ConsoleTime.duration) ?? "—"] as [String: Any]
            },
        ]
    }

    func resident(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let id = try context.pathID()
        var page = base(caller, language, page: "resident", title: ConsoleText.get("resident_file", language), request: request)
        page["id"] = id.uuidString.lowercased()
        page["values"] = ConsoleText.labelsJSON(["owner", "tenant", "family", "custodian", "sms", "email", "wechat", "phone"], language)
        return html(pages.render("resident", page))
    }

    /// The records page's lists: the last ten handovers of a department, the keys, the loans not
    /// back, and the open key_loan tickets a key can be lent against.
    static let recordsQueries = (
        handovers: "SELECT " + Records.array(Handovers.select, orderedBy: "h.created_at",
                                             "WHERE h.property = $1 AND h.department = $2 ORDER BY h.created_at DESC LIMIT 10") + "::text",
        keys: "SELECT " + Records.array(Keys.select, orderedBy: "k.label", ascending: true, "WHERE k.property = $1") + "::text",
        loans: "SELECT " + Records.array(Keys.loanSelect, orderedBy: "l.requested_at",
                                         "WHERE l.property = $1 AND l.state IN ('out', 'awaiting_approval')") + "::text",
        tickets: """
            SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'number', number) ORDER BY created_at DESC), '[]'::jsonb)::text
            FROM tickets WHERE property = $1 AND kind = 'key_loan' AND status IN ('open', 'acknowledged', 'on_site') AND coalesce(category, '') <> 'key_count'
            """,
        // The last daily count (T9), and whether it is today's in the property's day.
        lastCount: """
            SELECT jsonb_build_object('today', n.day = (now() AT TIME ZONE p.time_zone)::date, 'at', n.at, 'by', s.name, 'discrepancies', n.discrepancies)::text
            FROM key_counts n JOIN staff s ON s.id = n.counted_by JOIN properties p ON p.code = n.property
            WHERE n.property = $1 ORDER BY n.at DESC LIMIT 1
            """,
        surveys: "SELECT " + Records.array(Surveys.select, orderedBy: "v.drawn_at", "WHERE v.property = $1 ORDER BY v.drawn_at DESC LIMIT 8") + "::text")

    /// The office's books (issue 17): the department's shift handovers, to write, sign,
    /// countersign on this screen and amend; the key register with its open loans, lending and
    /// the daily count; the satisfaction surveys with their coverage, a supervisor's draw, and
    /// the desk's next call. The same queries as the API's (``Records``, ``Surveys``).
    func records(_ request: Request, _ caller: Caller, _ language: ConsoleLanguage) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let properties = try await propertyList(caller)
        guard let property = q["property"].flatMap({ p in properties.first { $0.code == p } }) ?? properties.first else {
            throw APIError.notFound("property")
        }
        let department = try Handovers.department(q, caller)
        let zone = Self.zone(property), code = property.code
        let keysShown = caller.identity.acting(.keysLend) != nil, surveysShown = caller.identity.acting(.reportsRead) != nil
        let (handoverText, draftText, keysText, loansText, ticketsText, countText, surveysText) = try await api.postgres.withConnection { c in
            (try Records.first(c.query(Self.recordsQueries.handovers, [code, department.rawValue])),
             try Records.first(c.query(Handovers.draftSQL, [code, department.rawValue])),
             keysShown ? try Records.first(c.query(Self.recordsQueries.keys, [code])) : nil,
             keysShown ? try Records.first(c.query(Self.recordsQueries.loans, [code])) : nil,
             keysShown ? try Records.first(c.query(Self.recordsQueries.tickets, [code])) : nil,
             keysShown ? try Records.first(c.query(Self.recordsQueries.lastCount, [code])) : nil,
             surveysShown ? try Records.first(c.query(Self.recordsQueries.surveys, [code])) : nil)
        }
        func object(_ text: String?) -> [String: Any]? { text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } }
        func objects(_ text: String?) -> [[String: Any]] {
            text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [[String: Any]] } ?? []
        }
        func time(_ value: Any?) -> String { (value as? String).flatMap(Timestamp.parse).map { ConsoleTime.local($0, zone: zone) } ?? "" }
        func signature(_ value: Any?) -> Any { (value as? [String: Any]).map { ["name": $0["name"] ?? "", "at": time($0["at"])] } ?? false }
        let me = caller.login
        var page = base(caller, language, page: "records", title: ConsoleText.get("records_title", language), request: request)
        page["properties"] = properties.map { ["code": $0.code, "name": $0.name, "selected": $0.code == code] }
        page["property"] = code
        page["department"] = department.rawValue
        page["department_label"] = ConsoleText.label(department.rawValue, language)
        let departments = caller.scope.departments ?? Department.allCases
        page["departments"] = Self.options(departments, language, selected: department)
        page["many_departments"] = departments.count > 1
        page["handovers_shown"] = true
        page["handovers"] = objects(handoverText).map { h -> [String: Any] in
            let state = h["state"] as? String ?? "draft"
            let outgoing = (h["outgoing"] as? [String: Any])?["login"] as? String
            return ["id": h["id"] ?? "", "shift": h["shift"] ?? "", "state": state, "state_label": ConsoleText.get("handover_\(state)", language),
                    "created_by": (h["created_by"] as? [String: Any])?["name"] ?? "", "created_at": time(h["created_at"]),
                    "items": h["items"] ?? [], "notes": h["notes"] as? String ?? "",
                    "outgoing": signature(h["outgoing"]), "incoming": signature(h["incoming"]),
                    "amendments": (h["amendments"] as? [[String: Any]] ?? []).map { ["author": $0["author"] ?? "", "at": time($0["at"]), "text": $0["text"] ?? ""] },
                    "can_sign": state == "draft" || (state == "awaiting_incoming" && outgoing != me),
                    "can_countersign": state == "awaiting_incoming", "can_amend": state != "draft"]
        }
        let draft = object(draftText)?["items"] as? [[String: Any]] ?? []
        // Each pending item in the page's language: number · kind · category · status · the order · the next clock.
        page["draft_items"] = draft.map { item -> String in
            var parts = [item["number"] as? String, (item["kind"] as? String).map { ConsoleText.label($0, language) }, item["category"] as? String,
                         (item["status"] as? String).map { ConsoleText.label($0, language) }]
            if let order = item["order_status"] as? String {
                parts.append(ConsoleText.get("work_orders", language) + " " + ConsoleText.label(order, language)
                             + ((item["assignee"] as? String).map { " (\($0))" } ?? ""))
            }
            if let due = item["next_due"] as? String { parts.append(ConsoleText.get("next_due", language) + " " + time(due)) }
            return parts.compactMap { $0 }.joined(separator: " · ")
        }.joined(separator: "\n")
        page["keys_shown"] = keysShown
        if keysShown {
            let keys = objects(keysText)
            page["keys"] = keys.map { k -> [String: Any] in
                let copies = k["copies"] as? Int ?? 0, out = k["out"] as? Int ?? 0
                return ["id": k["id"] ?? "", "label": k["label"] ?? "", "special": k["special"] as? Bool ?? false, "copies": copies, "out": out,
                        "on_board": max(0, copies - out)]
            }
            let decides = caller.identity.acting(.keysApprove) != nil
            page["loans"] = objects(loansText).map { l -> [String: Any] in
                let state = l["state"] as? String ?? ""
                return ["id": l["id"] ?? "", "label": l["label"] ?? "", "borrower": l["borrower"] ?? "",
                        "relation": ConsoleText.get("relation_\(l["relation"] as? String ?? "")", language),
                        "due": time(l["due_back_at"]), "due_iso": l["due_back_at"] ?? "", "overdue": l["overdue"] as? Bool ?? false,
                        "state_label": ConsoleText.get("loan_\(state)", language), "out": state == "out",
                        "can_decide": decides && state == "awaiting_approval"]
            }
            let tickets = objects(ticketsText)
            page["loan_tickets"] = tickets
            page["has_loan_tickets"] = !tickets.isEmpty && !keys.isEmpty
            page["relations"] = BorrowerRelation.allCases.map { ["value": $0.rawValue, "label": ConsoleText.get("relation_\($0.rawValue)", language)] }
            page["offset"] = ConsoleTime.offset(zone)
            let last = object(countText)
            page["counted_today"] = last?["today"] as? Bool ?? false
            page["last_count"] = last.map { ["at": time($0["at"]), "by": $0["by"] ?? "", "discrepancies": $0["discrepancies"] ?? 0] } ?? false
        }
        page["surveys_shown"] = surveysShown
        if surveysShown {
            func percent(_ value: Any?) -> String { (value as? NSNumber).map { "\(Int(($0.doubleValue * 100).rounded()))%" } ?? "—" }
            let calls = caller.identity.acting(.ticketsDesk) != nil
            page["surveys"] = objects(surveysText).map { v -> [String: Any] in
                let pending = v["pending"] as? Int ?? 0
                return ["id": v["id"] ?? "", "kind": ConsoleText.get("survey_\(v["kind"] as? String ?? "")", language), "period": v["period"] ?? "",
                        "share": v["share"] ?? 0, "households": v["households"] ?? 0, "drawn": v["drawn"] ?? 0, "coverage": percent(v["coverage"]),
                        "answered": v["answered"] ?? 0, "answered_coverage": percent(v["answered_coverage"]), "pending": pending,
                        "refused": v["refused"] ?? 0, "unreachable": v["unreachable"] ?? 0,
                        "mean": (v["mean_satisfaction"] as? NSNumber).map { String(format: "%.2f", $0.doubleValue) } ?? "—",
                        "satisfied": percent(v["satisfied_share"]), "can_call": calls && pending > 0]
            }
            page["can_draw"] = caller.identity.acting(.surveysManage) != nil
            page["survey_kinds"] = SurveyKind.allCases.map { ["value": $0.rawValue, "label": ConsoleText.get("survey_\($0.rawValue)", language)] }
            page["outcomes"] = SurveyAnswerForm.Outcome.allCases.map { ["value": $0.rawValue, "label": ConsoleText.get("survey_outcome_\($0.rawValue)", language)] }
            page["quiet_hours"] = api.quietHours.description
        }
        return html(pages.render("records", page))
    }

    // MARK: - Helpers

    /// What every page's header needs.
    func base(_ caller: Caller?, _ language: ConsoleLanguage, page: String, title: String, request: Request) -> [String: Any] {
        var context = Self.common(language, page: page, title: title,
                                  back: Self.encoded(request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")))
        if let caller {
            context["csrf"] = caller.session.csrfToken ?? ""
            context["me"] = [
                "name": caller.identity.name,
                "roles": caller.identity.roles.map { ConsoleText.label($0.rawValue, language) }.joined(separator: language.listSeparator),
                "nav": navigation(caller, language).map { item in
                    var item = item
                    item["current"] = (item["page"] as? String) == page
                    return item
                },
            ] as [String: Any]
        }
        return context
    }

    /// What every page's header needs, signed in or not.
    static func common(_ language: ConsoleLanguage, page: String, title: String, back: String) -> [String: Any] {
        ["t": ConsoleText.all(language), "lang": language.rawValue, "other_lang": language.other.rawValue, "page": page, "title": title,
         "errors": ConsoleText.errorsJSON(language), "back": back]
    }

    /// The pages the caller's roles may open, in the order their work comes: department staff
    /// see their queue first, the desk the call form.
    func navigation(_ caller: Caller, _ language: ConsoleLanguage) -> [[String: Any]] {
        let bound = caller.identity.roles.contains(where: AccessPolicy.departmentBound.contains)
        let order: [(String, String, Permission)] = bound
            ? [("work", "nav_work", .workOrdersRead), ("board", "nav_board", .ticketsRead), ("call", "nav_call", .ticketsCreate),
               ("records", "nav_records", .handovers)]
            : [("call", "nav_call", .ticketsCreate), ("board", "nav_board", .ticketsRead), ("work", "nav_work", .workOrdersRead),
               ("supervisor", "nav_supervisor", .reportsRead), ("reports", "nav_reports", .reportsRead), ("records", "nav_records", .handovers)]
        return order.enumerated().compactMap { index, item in
            caller.identity.acting(item.2) == nil ? nil
                : ["page": item.0, "href": "/console/\(item.0)", "label": ConsoleText.get(item.1, language), "key": "\(index + 1)"]
        }.enumerated().map { i, item in
            var item = item
            item["key"] = "\(i + 1)"
            return item
        }
    }

    func propertyList(_ caller: Caller) async throws -> [PropertyView] {
        let mine = PostgresArray(caller.identity.properties)
        return try await api.postgres.withConnection { c in
            try DeskJSON.rows(c.query("SELECT to_jsonb(p) FROM properties p WHERE code = ANY($1::text[]) ORDER BY code", [mine]), as: PropertyView.self)
        }
    }

    static func zone(_ property: PropertyView) -> TimeZone { TimeZone(identifier: property.timeZone) ?? TimeZone(identifier: "Asia/Shanghai")! }

    static func options<E: RawRepresentable>(_ values: [E], _ language: ConsoleLanguage, selected: E? = nil) -> [[String: Any]] where E.RawValue == String {
        values.map { ["value": $0.rawValue, "label": ConsoleText.label($0.rawValue, language), "selected": $0.rawValue == selected?.rawValue] }
    }

    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: Self.csp,
            .xContentTypeOptions: "nosniff", .referrerPolicy: "same-origin", .xFrameOptions: "DENY",
        ], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func errorPage(_ error: APIError, _ language: ConsoleLanguage) -> Response {
        let message = switch error.status {
        case .notFound: ConsoleText.get("not_found", language)
        case .forbidden: ConsoleText.get("forbidden", language) + " (\(error.message))"
        default: error.message
        }
        var context = Self.common(language, page: "error", title: ConsoleText.get("error_title", language), back: "%2Fconsole")
        context["message"] = message
        return html(pages.render("error", context), status: error.status)
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// A place inside the console to go back to: anything else (another site, `//host`) is /console.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/console"), !next.hasPrefix("//"), !next.contains("\\"), FieldCheck.controlCharacter(in: next) == nil else {
            return "/console"
        }
        return next
    }

    static func encoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/console"
    }
}

extension HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
    static let xAccelBuffering = Self("X-Accel-Buffering")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
