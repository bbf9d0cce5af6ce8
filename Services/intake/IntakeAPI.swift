import Desk
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Logging
import Messaging
import Postgres
import Reports
import ServiceKit

/// The phone desk's HTTP API. ``routes`` is the whole surface; `docs/openapi.yaml` describes the
/// same routes and a test holds the two together.
///
/// Every route names the permission it needs (``Permission``, `x-propdesk-permission` in the
/// document) and signs its caller in (``Authenticator``: 401 without valid credentials, 403
/// without the permission). What a caller reads and changes is limited to their scope in the
/// queries themselves (``TicketStore/ticket(_:within:on:)``): an id outside it is 404. The
/// signed-in person is the actor on every step and the `taken_by` of every ticket they file,
/// whatever the body says. Lists never show residents' numbers; every unmasked read is an audit
/// row (P1).
struct IntakeAPI: Sendable {
    let postgres: PostgresClient
    /// Read-only, for the reports (``Reports``).
    let reports: PostgresClient
    let auth: AuthSettings
    let logger: Logger
    /// Signs people in; a handover's countersignature checks credentials through it too.
    let signIn: SignIn
    /// Residents are not called for surveys in these hours (F5).
    let quietHours: QuietHours

    init(postgres: PostgresClient, reports: PostgresClient, auth: AuthSettings, quietHours: QuietHours, logger: Logger) {
        self.postgres = postgres
        self.reports = reports
        self.auth = auth
        self.quietHours = quietHours
        self.logger = logger
        signIn = SignIn(postgres: postgres, settings: auth, logger: logger)
    }

    /// Request bodies over this are refused with 413 before they are read.
    static let maxBody = 64 * 1024

    typealias Handler = @Sendable (IntakeAPI, Request, PropDeskRequestContext, Caller) async throws -> Response

    struct Route: Sendable {
        let method: HTTPRequest.Method
        /// In OpenAPI form: `/tickets/{id}`.
        let path: String
        let permission: Permission
        let handler: Handler

        init(_ method: HTTPRequest.Method, _ path: String, _ permission: Permission, _ handler: @escaping Handler) {
            self.method = method
            self.path = path
            self.permission = permission
            self.handler = handler
        }
    }

    static let routes: [Route] = [
        Route(.get, "/properties", .propertiesRead) { api, _, _, caller in try await api.properties(caller) },
        Route(.get, "/callers", .callersLookup) { api, request, _, caller in try await api.callers(request, caller) },
        Route(.post, "/tickets", .ticketsCreate) { api, request, context, caller in try await api.createTicket(request, context, caller) },
        Route(.get, "/tickets", .ticketsRead) { api, request, _, caller in try await api.listTickets(request, caller) },
        Route(.get, "/tickets/{id}", .ticketsRead) { api, request, context, caller in try await api.readTicket(request, context, caller) },
    ] + TicketAction.allCases.map { action in
        Route(.post, "/tickets/{id}/\(action.pathSegment)", action.permission) { api, request, context, caller in
            try await api.ticketStep(action, request, context, caller)
        }
    } + [
        Route(.post, "/tickets/{id}/follow-up", .ticketsDesk) { api, request, context, caller in try await api.followUp(request, context, caller) },
        Route(.get, "/reports/follow-ups", .reportsRead) { api, request, _, caller in try await api.followUpReport(request, caller) },
        Route(.get, "/reports/deadlines", .reportsRead) { api, request, _, caller in try await api.deadlineReport(request, caller) },
        Route(.get, "/reports/complaints/weekly", .reportsRead) { api, request, _, caller in try await api.weeklyComplaintReport(request, caller) },
        Route(.get, "/reports/statistics", .reportsRead) { api, request, _, caller in try await api.statisticsReport(request, caller) },
        Route(.get, "/reports/files/{id}", .reportsRead) { api, _, context, caller in try await api.reportFile(context, caller) },
        Route(.post, "/tickets/{id}/extend", .ticketsDesk) { api, request, context, caller in try await api.extend(request, context, caller) },
        Route(.get, "/work-orders/{id}", .workOrdersRead) { api, request, context, caller in try await api.readWorkOrder(request, context, caller) },
        Route(.post, "/work-orders/take", .workOrdersWork) { api, request, context, caller in try await api.takeNext(request, context, caller) },
    ] + WorkOrderAction.allCases.filter { $0 != .cancel }.map { action in
        Route(.post, "/work-orders/{id}/\(action.pathSegment)", action.permission) { api, request, context, caller in
            try await api.workOrderStep(action, request, context, caller)
        }
    } + ResidentFiles.routes + Records.routes

    func register(on router: Router<PropDeskRequestContext>) {
        let authenticator = Authenticator(postgres: postgres)
        for route in Self.routes {
            let api = self
            router.on(RouterPath(Self.hummingbirdPath(route.path)), method: route.method) { request, context in
                let caller = try await authenticator.caller(request, context, route.permission)
                return try await route.handler(api, request, context, caller)
            }
        }
        signIn.register(on: router)
    }

    /// `/tickets/{id}` → `/tickets/:id`.
    static func hummingbirdPath(_ path: String) -> String {
        path.replacingOccurrences(of: "{id}", with: ":id")
    }

    // MARK: - Handlers

    /// The properties the caller serves (code, name, prefix, zone).
    func properties(_ caller: Caller) async throws -> Response {
        let mine = PostgresArray(caller.identity.properties)
        let list = try await postgres.withConnection { c in
            try DeskJSON.rows(c.query("SELECT to_jsonb(p) FROM properties p WHERE code = ANY($1::text[]) ORDER BY code", [mine]), as: PropertyView.self)
        }
        return try Self.json(["properties": list])
    }

    /// `GET /callers?phone=…` or `?property=…&building=…&unit=…`: who is calling, from the register.
    func callers(_ request: Request, _ caller: Caller) async throws -> Response {
        try Self.json(["residents": try await residents(FormQuery(request.uri.query), caller)] as [String: [ResidentView]])
    }

    /// The register's residents a caller lookup finds, with their numbers as the caller's role may
    /// see them (`unmasked: false`: masked for everyone); an unmasked read is an audit row (P1).
    func residents(_ q: FormQuery, _ caller: Caller, unmasked: Bool = true) async throws -> [ResidentView] {
        let shows = unmasked && caller.role.seesResidentContact
        let phone = q["phone"]
        let property = q["property"], building = q["building"], unit = q["unit"]
        let sql: String
        let parameters: [any PostgresEncodable]
        if let phone {
            guard NewTicket.isPhone(phone) else {
                throw APIError.badRequest(.invalidFormat, "phone must be 5–20 digits", field: "phone")
            }
            let digits = phone.filter(\.isNumber)
            sql = """
                SELECT to_jsonb(r) FROM residents r WHERE right(regexp_replace(phone, '[^0-9]', '', 'g'), 11) = right($1, 11)
                AND property = ANY($2::text[]) ORDER BY property, building, unit, name
                """
            parameters = [String(digits), PostgresArray(caller.identity.properties)]
        } else if let property, let building, let unit {
            sql = "SELECT to_jsonb(r) FROM residents r WHERE property = $1 AND building = $2 AND unit = $3 AND property = ANY($4::text[]) ORDER BY name"
            parameters = [property, building, unit, PostgresArray(caller.identity.properties)]
        } else {
            throw APIError.badRequest(.required, "give phone, or property, building and unit", field: "phone")
        }
        let residents = try await postgres.withTransaction { c in
            let found = try DeskJSON.rows(c.query(sql, parameters), as: ResidentView.self)
            if shows {
                for resident in found {
                    try Self.logContactRead(c, caller, subject: "resident \(resident.id.uuidString.lowercased())", purpose: "caller lookup")
                }
            }
            return found
        }
        return residents.map { r -> ResidentView in
            var r = r
            if !shows { r.phone = Masking.phone(r.phone) }
            return r
        }
    }

    func createTicket(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        var form = try await Self.decodeBody(TicketForm.self, request, context)
        form.takenBy = caller.identity.name
        let new = try Self.valid(form.validate(now: Date()))
        // A property outside the caller's reads like one that does not exist.
        guard caller.scope.covers(property: new.property) else { throw APIError(DeskError.unknownProperty(new.property)) }
        let key = request.headers[.idempotencyKey]
        if let key, key.isEmpty || key.count > 255 {
            throw APIError.badRequest(.invalidFormat, "Idempotency-Key must be 1–255 characters", field: "Idempotency-Key")
        }
        let hash = JSONRequest.fingerprint(try DeskJSON.encoder.encode(form))
        // A new ticket is shown as written; a replay as it is now (it may have moved on).
        let created = try await desk { try TicketStore.create(new, idempotencyKey: key, requestHash: hash, on: $0) }
        let ticket = created.ticket
        logger.info(created.replayed ? "ticket create replayed" : "ticket created", metadata: [
            "ticket_id": "\(ticket.id)", "number": "\(ticket.number)", "kind": "\(ticket.kind.rawValue)",
            "caller_phone": "\(ticket.callerPhone.map(Masking.phone) ?? "-")",
        ])
        var response = try Self.json(ticket, status: created.replayed ? .ok : .created)
        response.headers[.location] = "/tickets/\(ticket.id.uuidString.lowercased())"
        if created.replayed { response.headers[.idempotentReplayed] = "true" }
        return response
    }

    func listTickets(_ request: Request, _ caller: Caller) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        var filter = TicketStore.Filter()
        filter.property = q["property"]
        filter.number = q["number"]
        filter.status = try q.choice("status", TicketStatus.self)
        filter.kind = try q.choice("kind", TicketKind.self)
        filter.department = try q.choice("department", Department.self)
        filter.overdue = try q.flag("overdue")
        if let limit = q["limit"] {
            guard let n = Int(limit), (1...200).contains(n) else {
                throw APIError.badRequest(.invalidFormat, "limit is a number from 1 to 200", field: "limit")
            }
            filter.limit = n
        }
        filter.scope = caller.scope
        let chosen = filter
        let tickets = try await postgres.withConnection { c in try TicketStore.list(chosen, on: c) }
        // A list shows no resident's number or unit to anyone (P1): opening one ticket does, for
        // the roles that call back, and that read is logged.
        return try Self.json(["tickets": tickets.map(\.listed)])
    }

    func readTicket(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let role = caller.role
        let id = try context.pathID()
        let ticket = try await deskTransaction { c -> TicketView in
            guard let ticket = try TicketStore.ticket(id, within: caller.scope, on: c) else { throw DeskError.notFound("ticket") }
            if role.seesResidentContact, ticket.callerPhone != nil {
                try Self.logContactRead(c, caller, subject: "ticket \(id.uuidString.lowercased())", purpose: "ticket read")
            }
            return ticket
        }
        return try Self.json(ticket.masked(for: role))
    }

    func readWorkOrder(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let role = caller.role
        let id = try context.pathID()
        guard var order = try await postgres.withConnection({ c in try TicketStore.workOrder(id, within: caller.scope, on: c) }) else {
            throw APIError.notFound("work order")
        }
        // Department staff see the work order's ticket with the resident's contact masked.
        order.ticket = order.ticket?.masked(for: role)
        return try Self.json(order)
    }

    func ticketStep(_ action: TicketAction, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let role = caller.role
        let id = try context.pathID()
        let step = try Self.validate(try await Self.decodeBody(StepForm.self, request, context), by: caller, wordField: action.wordField)
        let scope = caller.scope
        let ticket = try await deskTransaction { c in
            guard try TicketStore.reaches(scope, ticket: id, on: c) else { throw DeskError.notFound("ticket") }
            if action == .resolve { try TicketStore.requireAcceptedPrice(ticket: id, on: c) }
            try TicketStore.apply(action, ticket: id, by: Actor(name: step.actor, role: role), text: step.text, on: c)
            return try TicketStore.ticket(id, within: scope, on: c)!
        }
        logger.info("ticket step", metadata: ["ticket_id": "\(id)", "action": "\(action.rawValue)", "status": "\(ticket.status.rawValue)"])
        return try Self.json(ticket.masked(for: role))
    }

    /// The outcome of a follow-up call, by the desk.
    func followUp(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let (ticket, outcome) = try await deskChange(request, context, caller, FollowUpForm.self,
                                                     validate: { var f = $0; f.actor = caller.identity.name; return f.validate() }, change: TicketStore.recordFollowUp)
        logger.info("follow-up recorded", metadata: ["ticket_id": "\(ticket.id)", "reached": "\(outcome.reached)", "status": "\(ticket.status.rawValue)"])
        return try Self.json(ticket)
    }

    /// A later time agreed with the customer, recorded by the desk.
    func extend(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let (ticket, ext) = try await deskChange(request, context, caller, ExtensionForm.self,
                                                 validate: { var f = $0; f.actor = caller.identity.name; return f.validate(now: Date()) }, change: TicketStore.extend)
        logger.info("ticket extended", metadata: ["ticket_id": "\(ticket.id)", "until": "\(ext.until)"])
        return try Self.json(ticket)
    }

    /// A change to one ticket that only the desk's roles make (the route's permission): validates
    /// the body, runs `change` in a transaction on a ticket in the caller's scope and returns the
    /// ticket as the caller may see it.
    private func deskChange<Form: Decodable, Valid: Sendable>(
        _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller, _ form: Form.Type,
        validate: (Form) -> Result<Valid, ValidationFailure>,
        change: @escaping @Sendable (Valid, UUID, StaffRole, PostgresConnection) throws -> TicketView
    ) async throws -> (TicketView, Valid) {
        let role = caller.role
        let scope = caller.scope
        let id = try context.pathID()
        let valid = try Self.valid(validate(try await Self.decodeBody(form, request, context)))
        let ticket = try await deskTransaction { c in
            guard try TicketStore.reaches(scope, ticket: id, on: c) else { throw DeskError.notFound("ticket") }
            _ = try change(valid, id, role, c)
            return try TicketStore.ticket(id, within: scope, on: c)!
        }
        return (ticket.masked(for: role), valid)
    }

    func followUpReport(_ request: Request, _ caller: Caller) async throws -> Response {
        let report = try await report(request, caller) { property, period, c in try Reports.followUps(property: property, period: period, on: c) }
        return try Self.json(report)
    }

    func deadlineReport(_ request: Request, _ caller: Caller) async throws -> Response {
        let (property, period, rows) = try await report(request, caller) { property, period, c in
            try Reports.deadlines(property: property, period: period, on: c).map { (property, period, $0) }
        }
        return try Self.json(DeadlineReport(property: property, from: period.from, to: period.to, rules: rows))
    }

    struct DeadlineReport: Codable {
        var property: String
        var from: CivilDate
        var to: CivilDate
        var rules: [Reports.DeadlineOutcome]
    }

    /// A report over `property` (required) and the period `from`, `to` (dates; default: the 30
    /// days up to and including the property's own today): 404 for an unknown property, 400 for
    /// a period that is not one.
    private func report<T: Sendable>(_ request: Request, _ caller: Caller,
                                     _ read: @escaping @Sendable (String, ReportPeriod, PostgresConnection) throws -> T?) async throws -> T {
        try await report(request, caller, period: { query, property, c in
            try Reports.period(property: property, from: try Self.date(query, "from"), to: try Self.date(query, "to"), now: Date(), on: c)
        }, read)
    }

    /// A report over `property` (required) and the period `period` makes of the query (nil: no
    /// such property), read on the reports connection.
    private func report<T: Sendable>(_ request: Request, _ caller: Caller,
                                     period: @escaping @Sendable (FormQuery, String, PostgresConnection) throws -> ReportPeriod?,
                                     _ read: @escaping @Sendable (String, ReportPeriod, PostgresConnection) throws -> T?) async throws -> T {
        let query = try FormQuery(request.uri.query)
        guard let property = query["property"], !property.isEmpty else {
            throw APIError.badRequest(.required, "property is required", field: "property")
        }
        // Another property's report reads like an unknown property's.
        guard caller.scope.covers(property: property) else { throw APIError(DeskError.notFound("property \(property.prefix(40))")) }
        let found: T?
        do {
            found = try await reports.withConnection { c -> T? in
                guard let resolved = try period(query, property, c) else { return nil }
                return try read(property, resolved, c)
            }
        } catch let failure as ValidationFailure {
            throw APIError(status: .badRequest, code: failure.problems.first?.code ?? .invalidFormat,
                           message: failure.description, problems: failure.problems)
        }
        guard let found else { throw APIError(DeskError.notFound("property \(property.prefix(40))")) }
        return found
    }

    /// The date a report's query names in `name`, if any (400 for one that is not a date).
    static func date(_ query: FormQuery, _ name: String) throws -> CivilDate? {
        guard let text = query[name], !text.isEmpty else { return nil }
        guard let d = CivilDate(text) else { throw APIError.badRequest(.invalidFormat, "\(name) is a date YYYY-MM-DD", field: name) }
        return d
    }

    /// The weekly complaint report (C9) for `property` and the week holding `week` (a date;
    /// default the property's today), as JSON or, with `format=csv`, the category table as CSV.
    func weeklyComplaintReport(_ request: Request, _ caller: Caller) async throws -> Response {
        let csv = try Self.wantsCSV(request)
        let report = try await report(request, caller, period: { query, property, c in
            try Reports.week(property: property, containing: try Self.date(query, "week"), now: Date(), on: c)
        }) { property, week, c in try Reports.weeklyComplaints(property: property, week: week, on: c) }
        return csv ? Self.csv(report.csv, name: "complaints", property: report.property, from: report.from) : try Self.json(report)
    }

    /// The statistics (P3) of `property` over `period`, a month (`2026-11`) or a quarter
    /// (`2026-Q4`), default the property's current month; JSON or, with `format=csv`, CSV.
    func statisticsReport(_ request: Request, _ caller: Caller) async throws -> Response {
        let csv = try Self.wantsCSV(request)
        let report = try await report(request, caller, period: { query, property, c in
            try Reports.monthOrQuarter(property: property, query["period"].flatMap { $0.isEmpty ? nil : $0 }, now: Date(), on: c)
        }) { property, period, c in try Reports.statistics(property: property, period: period, on: c) }
        return csv ? Self.csv(report.csv, name: "statistics", property: report.property, from: report.from) : try Self.json(report)
    }

    /// A scheduled report's file as it was sent (the Monday report's link); another property's
    /// reads as unknown. Its style is inline and it runs no script.
    func reportFile(_ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let file = try await reports.withConnection { c -> (property: String, type: String, body: String, from: String)? in
            guard let row = try c.query("SELECT property, content_type, body, period_from::text FROM report_files WHERE id = $1", [id]).first else { return nil }
            return (try row.decode(0), try row.decode(1), try row.decode(2), try row.decode(3))
        }
        guard let file, caller.scope.covers(property: file.property) else { throw APIError.notFound("report file") }
        return Response(status: .ok, headers: [
            .contentType: file.type, .cacheControl: "private, no-store", .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ], body: .init(byteBuffer: ByteBuffer(string: file.body)))
    }

    /// `format=csv` (true), `json` or none (false); anything else is refused.
    static func wantsCSV(_ request: Request) throws -> Bool {
        let format = try FormQuery(request.uri.query)["format"] ?? "json"
        guard format == "json" || format == "csv" else {
            throw APIError.badRequest(.unknownValue, "format must be one of json, csv", field: "format")
        }
        return format == "csv"
    }

    /// A report's CSV as a download named `<name>-<property>-<from>.csv`.
    static func csv(_ text: String, name: String, property: String, from: CivilDate) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        let safe = String(property.unicodeScalars.filter { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") })
        headers[.contentDisposition] = "attachment; filename=\"\(name)-\(safe)-\(from).csv\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func workOrderStep(_ action: WorkOrderAction, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let role = caller.role
        let id = try context.pathID()
        let step = try Self.validate(try await Self.decodeBody(StepForm.self, request, context), by: caller, wordField: action.wordField,
                                     needsDestination: action == .transfer, needsAssignee: action == .reassign)
        let scope = caller.scope
        let order = try await deskTransaction { c in
            guard try TicketStore.reaches(scope, workOrder: id, on: c) else { throw DeskError.notFound("work order") }
            if action == .resolve { try TicketStore.requireAcceptedPrice(workOrder: id, on: c) }
            try TicketStore.apply(action, workOrder: id, by: Actor(name: step.actor, role: role), text: step.text,
                                  transferTo: step.to, assignee: step.assignee, on: c)
            return try TicketStore.workOrder(id, within: scope, on: c)!
        }
        logger.info("work order step", metadata: ["work_order_id": "\(id)", "action": "\(action.rawValue)", "status": "\(order.status.rawValue)"])
        var shown = order
        shown.ticket = order.ticket?.masked(for: role)
        return try Self.json(shown)
    }

    struct TakeForm: Decodable, Sendable {
        var department: String?
    }

    /// Takes the next order waiting on one of the caller's departments' queues and accepts it as
    /// the caller, in one transaction (the console's "take", as `propdesk-worker take` does from
    /// the broker's queue). Two people taking at once get different orders.
    func takeNext(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let form = try await Self.decodeBody(TakeForm.self, request, context)
        let mine = caller.scope.departments ?? Department.allCases
        let department: Department
        if let raw = form.department {
            guard let chosen = Department(rawValue: raw) else {
                throw APIError.validation(ValidationFailure(problems: [Problem(field: "department", code: .unknownValue,
                    message: "department must be one of \(Department.allCases.map(\.rawValue).joined(separator: ", "))")]))
            }
            department = chosen
        } else if mine.count == 1 {
            department = mine[0]
        } else {
            throw APIError.validation(ValidationFailure(problems: [Problem(field: "department", code: .required,
                                                                            message: "say which department's queue to take from")]))
        }
        let role = caller.role, scope = caller.scope, actor = Actor(name: caller.identity.name, role: role)
        // Another department's queue reads like an empty one.
        let taken = mine.contains(department) ? try await deskTransaction { c -> WorkOrderView? in
            guard let id = try TicketStore.nextWaiting(department, within: scope, on: c) else { return nil }
            try TicketStore.apply(.accept, workOrder: id, by: actor, text: nil, transferTo: nil, assignee: nil, on: c)
            return try TicketStore.workOrder(id, within: scope, on: c)
        } : nil
        guard var order = taken else {
            throw APIError(status: .notFound, code: .notFound, message: "no work order is waiting on the \(department.rawValue) queue")
        }
        logger.info("work order taken", metadata: ["work_order_id": "\(order.id)", "department": "\(department.rawValue)"])
        order.ticket = order.ticket?.masked(for: role)
        return try Self.json(order)
    }

    // MARK: - Helpers

    /// Runs `body` in a transaction; desk refusals become their HTTP errors (and roll back).
    func deskTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try await postgres.withTransaction(body)
        } catch let error as DeskError {
            throw APIError(error)
        }
    }

    /// For store calls that run their own transactions.
    private func desk<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try await postgres.withConnection(body)
        } catch let error as DeskError {
            throw APIError(error)
        }
    }

    /// P1: an unmasked read of a resident's contact, on the record.
    static func logContactRead(_ c: PostgresConnection, _ caller: Caller, subject: String, purpose: String) throws {
        try Audit.record(c, actor: caller.login, action: .contactRead, subject: subject, reason: purpose, address: caller.address,
                         detail: ["role": caller.role.rawValue])
    }


    /// The step as the signed-in caller takes it: they are its actor, whatever the body says.
    private static func validate(_ form: StepForm, by caller: Caller, wordField: String?, needsDestination: Bool = false,
                                 needsAssignee: Bool = false) throws -> StepForm.Step {
        // An actor in the body is ignored, but not if it is unreadable: that is still refused.
        if let given = form.actor, let bad = FieldCheck.controlCharacter(in: given) {
            throw APIError.validation(ValidationFailure(problems: [Problem(field: "actor", code: .invalidFormat,
                                                                            message: "actor contains a control character (\(bad))")]))
        }
        var form = form
        form.actor = caller.identity.name
        return try valid(form.validate(wordField: wordField, needsDestination: needsDestination, needsAssignee: needsAssignee))
    }

    /// The validated value, or a 422 listing every problem.
    static func valid<T>(_ result: Result<T, ValidationFailure>) throws -> T {
        switch result {
        case .success(let value): return value
        case .failure(let failure): throw APIError.validation(failure)
        }
    }

    /// Reads a JSON body (``JSONRequest/decode(_:_:decoder:maxBody:)``).
    static func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: PropDeskRequestContext) async throws -> T {
        try await JSONRequest.decode(T.self, request, decoder: DeskJSON.decoder, maxBody: maxBody)
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try DeskJSON.encoder.encode(value))))
    }
}
