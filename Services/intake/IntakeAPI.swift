import Desk
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Messaging
import Postgres
import Reports
import ServiceKit

/// The phone desk's HTTP API. ``routes`` is the whole surface; `docs/openapi.yaml` describes the
/// same routes and a test holds the two together.
///
/// Callers say who they are with `X-PropDesk-Role` (required) and `X-PropDesk-Staff` (their
/// name), see ``StaffHeaders``. There is no login here: put the API behind the office's gateway,
/// which sets both. The role decides whether residents' phone numbers are shown (P1); lists
/// never show them, and every unmasked read is written to `access_log`.
struct IntakeAPI: Sendable {
    let postgres: PostgresClient
    /// Read-only, for the reports (``Reports``).
    let reports: PostgresClient
    let logger: Logger

    /// Request bodies over this are refused with 413 before they are read.
    static let maxBody = 64 * 1024

    struct Route: Sendable {
        let method: HTTPRequest.Method
        /// In OpenAPI form: `/tickets/{id}`.
        let path: String
        let handler: @Sendable (IntakeAPI, Request, BasicRequestContext) async throws -> Response

        init(_ method: HTTPRequest.Method, _ path: String,
             _ handler: @escaping @Sendable (IntakeAPI, Request, BasicRequestContext) async throws -> Response) {
            self.method = method
            self.path = path
            self.handler = handler
        }
    }

    static let routes: [Route] = [
        Route(.get, "/properties") { api, _, _ in try await api.properties() },
        Route(.get, "/callers") { api, request, _ in try await api.callers(request) },
        Route(.post, "/tickets") { api, request, context in try await api.createTicket(request, context) },
        Route(.get, "/tickets") { api, request, _ in try await api.listTickets(request) },
        Route(.get, "/tickets/{id}") { api, request, context in try await api.readTicket(request, context) },
    ] + TicketAction.allCases.map { action in
        Route(.post, "/tickets/{id}/\(action.pathSegment)") { api, request, context in try await api.ticketStep(action, request, context) }
    } + [
        Route(.post, "/tickets/{id}/follow-up") { api, request, context in try await api.followUp(request, context) },
        Route(.get, "/reports/follow-ups") { api, request, _ in try await api.followUpReport(request) },
        Route(.get, "/reports/deadlines") { api, request, _ in try await api.deadlineReport(request) },
        Route(.post, "/tickets/{id}/extend") { api, request, context in try await api.extend(request, context) },
        Route(.get, "/work-orders/{id}") { api, request, context in try await api.readWorkOrder(request, context) },
    ] + WorkOrderAction.allCases.filter { $0 != .cancel }.map { action in
        Route(.post, "/work-orders/{id}/\(action.pathSegment)") { api, request, context in
            try await api.workOrderStep(action, request, context)
        }
    }

    func register(on router: Router<BasicRequestContext>) {
        for route in Self.routes {
            let hummingbirdPath = route.path.replacingOccurrences(of: "{id}", with: ":id")
            let api = self
            router.on(RouterPath(hummingbirdPath), method: route.method) { request, context in
                try await route.handler(api, request, context)
            }
        }
    }

    // MARK: - Handlers

    /// The register of properties (code, name, prefix, zone) is no secret: no role needed.
    func properties() async throws -> Response {
        let list = try await postgres.withConnection { c in
            try DeskJSON.rows(c.query("SELECT to_jsonb(p) FROM properties p ORDER BY code"), as: PropertyView.self)
        }
        return try Self.json(["properties": list])
    }

    /// `GET /callers?phone=…` or `?property=…&building=…&unit=…`: who is calling, from the register.
    func callers(_ request: Request) async throws -> Response {
        let (staff, role) = try who(request)
        let q = try FormQuery(request.uri.query)
        let phone = q["phone"]
        let property = q["property"], building = q["building"], unit = q["unit"]
        let sql: String
        let parameters: [any PostgresEncodable]
        if let phone {
            guard NewTicket.isPhone(phone) else {
                throw APIError.badRequest(.invalidFormat, "phone must be 5–20 digits", field: "phone")
            }
            let digits = phone.filter(\.isNumber)
            sql = "SELECT to_jsonb(r) FROM residents r WHERE right(regexp_replace(phone, '[^0-9]', '', 'g'), 11) = right($1, 11) ORDER BY property, building, unit, name"
            parameters = [String(digits)]
        } else if let property, let building, let unit {
            sql = "SELECT to_jsonb(r) FROM residents r WHERE property = $1 AND building = $2 AND unit = $3 ORDER BY name"
            parameters = [property, building, unit]
        } else {
            throw APIError.badRequest(.required, "give phone, or property, building and unit", field: "phone")
        }
        let residents = try await postgres.withTransaction { c in
            let found = try DeskJSON.rows(c.query(sql, parameters), as: ResidentView.self)
            if role.seesResidentContact, !found.isEmpty {
                try Self.logAccess(c, staff: staff, role: role, subject: found.map { "resident \($0.id)" }.joined(separator: ","),
                                   purpose: "caller lookup")
            }
            return found
        }
        let shown = residents.map { r -> ResidentView in
            var r = r
            if !role.seesResidentContact { r.phone = Masking.phone(r.phone) }
            return r
        }
        return try Self.json(["residents": shown] as [String: [ResidentView]])
    }

    func createTicket(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try who(request)
        let form = try await Self.decodeBody(TicketForm.self, request, context)
        let new = try Self.valid(form.validate(now: Date()))
        let key = request.headers[.idempotencyKey]
        if let key, key.isEmpty || key.count > 255 {
            throw APIError.badRequest(.invalidFormat, "Idempotency-Key must be 1–255 characters", field: "Idempotency-Key")
        }
        let hash = Self.fingerprint(try DeskJSON.encoder.encode(form))
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

    func listTickets(_ request: Request) async throws -> Response {
        _ = try who(request)
        let q = try FormQuery(request.uri.query)
        func choice<E: RawRepresentable & CaseIterable>(_ name: String, _: E.Type) throws -> E? where E.RawValue == String {
            guard let raw = q[name] else { return nil }
            guard let value = E(rawValue: raw) else {
                throw APIError.badRequest(.unknownValue,
                    "\(name) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))", field: name)
            }
            return value
        }
        var filter = TicketStore.Filter()
        filter.property = q["property"]
        filter.number = q["number"]
        filter.status = try choice("status", TicketStatus.self)
        filter.kind = try choice("kind", TicketKind.self)
        filter.department = try choice("department", Department.self)
        if let overdue = q["overdue"] {
            guard overdue == "true" || overdue == "false" else {
                throw APIError.badRequest(.unknownValue, "overdue is true or false", field: "overdue")
            }
            filter.overdue = overdue == "true"
        }
        if let limit = q["limit"] {
            guard let n = Int(limit), (1...200).contains(n) else {
                throw APIError.badRequest(.invalidFormat, "limit is a number from 1 to 200", field: "limit")
            }
            filter.limit = n
        }
        let chosen = filter
        let tickets = try await postgres.withConnection { c in try TicketStore.list(chosen, on: c) }
        // A list shows no resident's number or unit to anyone (P1): opening one ticket does, for
        // the roles that call back, and that read is logged.
        return try Self.json(["tickets": tickets.map(\.listed)])
    }

    func readTicket(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (staff, role) = try who(request)
        let id = try Self.id(context)
        let ticket = try await deskTransaction { c -> TicketView in
            guard let ticket = try TicketStore.ticket(id, on: c) else { throw DeskError.notFound("ticket") }
            if role.seesResidentContact, ticket.callerPhone != nil {
                try Self.logAccess(c, staff: staff, role: role, subject: "ticket \(id)", purpose: "ticket read")
            }
            return ticket
        }
        return try Self.json(ticket.masked(for: role))
    }

    func readWorkOrder(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (_, role) = try who(request)
        let id = try Self.id(context)
        guard var order = try await postgres.withConnection({ c in try TicketStore.workOrder(id, on: c) }) else {
            throw APIError.notFound("work order")
        }
        // Department staff see the work order's ticket with the resident's contact masked.
        order.ticket = order.ticket?.masked(for: role)
        return try Self.json(order)
    }

    func ticketStep(_ action: TicketAction, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (_, role) = try who(request)
        guard TicketLifecycle.may(role, action) else { throw APIError.forbidden(role, "\(action.rawValue) a ticket") }
        let id = try Self.id(context)
        let step = try Self.validate(try await Self.decodeBody(StepForm.self, request, context), wordField: action.wordField)
        let ticket = try await deskTransaction { c in
            try TicketStore.apply(action, ticket: id, by: Actor(name: step.actor, role: role), text: step.text, on: c)
            return try TicketStore.ticket(id, on: c)!
        }
        logger.info("ticket step", metadata: ["ticket_id": "\(id)", "action": "\(action.rawValue)", "status": "\(ticket.status.rawValue)"])
        return try Self.json(ticket.masked(for: role))
    }

    /// The outcome of a follow-up call, by the desk.
    func followUp(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (ticket, outcome) = try await deskChange(request, context, "record a follow-up call", FollowUpForm.self,
                                                     validate: { $0.validate() }, change: TicketStore.recordFollowUp)
        logger.info("follow-up recorded", metadata: ["ticket_id": "\(ticket.id)", "reached": "\(outcome.reached)", "status": "\(ticket.status.rawValue)"])
        return try Self.json(ticket)
    }

    /// A later time agreed with the customer, recorded by the desk.
    func extend(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (ticket, ext) = try await deskChange(request, context, "extend a ticket's deadline", ExtensionForm.self,
                                                 validate: { $0.validate(now: Date()) }, change: TicketStore.extend)
        logger.info("ticket extended", metadata: ["ticket_id": "\(ticket.id)", "until": "\(ext.until)"])
        return try Self.json(ticket)
    }

    /// A change to one ticket that only the desk's roles make: checks the role, validates the
    /// body, runs `change` in a transaction and returns the ticket as the caller may see it.
    private func deskChange<Form: Decodable, Valid: Sendable>(
        _ request: Request, _ context: BasicRequestContext, _ what: String, _ form: Form.Type,
        validate: (Form) -> Result<Valid, ValidationFailure>,
        change: @escaping @Sendable (Valid, UUID, StaffRole, PostgresConnection) throws -> TicketView
    ) async throws -> (TicketView, Valid) {
        let (_, role) = try who(request)
        guard role.worksTheDesk else { throw APIError.forbidden(role, what) }
        let id = try Self.id(context)
        let valid = try Self.valid(validate(try await Self.decodeBody(form, request, context)))
        let ticket = try await deskTransaction { c in
            _ = try change(valid, id, role, c)
            return try TicketStore.ticket(id, on: c)!
        }
        return (ticket.masked(for: role), valid)
    }

    func followUpReport(_ request: Request) async throws -> Response {
        let report = try await report(request) { property, period, c in try Reports.followUps(property: property, period: period, on: c) }
        return try Self.json(report)
    }

    func deadlineReport(_ request: Request) async throws -> Response {
        let (property, period, rows) = try await report(request) { property, period, c in
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
    private func report<T: Sendable>(_ request: Request,
                                     _ read: @escaping @Sendable (String, ReportPeriod, PostgresConnection) throws -> T?) async throws -> T {
        _ = try who(request)
        let query = try FormQuery(request.uri.query)
        guard let property = query["property"], !property.isEmpty else {
            throw APIError.badRequest(.required, "property is required", field: "property")
        }
        func date(_ name: String) throws -> CivilDate? {
            guard let text = query[name] else { return nil }
            guard let d = CivilDate(text) else { throw APIError.badRequest(.invalidFormat, "\(name) is a date YYYY-MM-DD", field: name) }
            return d
        }
        let from = try date("from"), to = try date("to")
        let found: T?
        do {
            found = try await reports.withConnection { c -> T? in
                guard let period = try Reports.period(property: property, from: from, to: to, now: Date(), on: c) else { return nil }
                return try read(property, period, c)
            }
        } catch let failure as ValidationFailure {
            throw APIError(status: .badRequest, code: failure.problems.first?.code ?? .invalidFormat,
                           message: failure.description, problems: failure.problems)
        }
        guard let found else { throw APIError(DeskError.notFound("property \(property.prefix(40))")) }
        return found
    }

    func workOrderStep(_ action: WorkOrderAction, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (_, role) = try who(request)
        guard WorkOrderLifecycle.may(role, action) else { throw APIError.forbidden(role, "\(action.rawValue) a work order") }
        let id = try Self.id(context)
        let step = try Self.validate(try await Self.decodeBody(StepForm.self, request, context), wordField: action.wordField,
                                     needsDestination: action == .transfer, needsAssignee: action == .reassign)
        let order = try await deskTransaction { c in
            try TicketStore.apply(action, workOrder: id, by: Actor(name: step.actor, role: role), text: step.text,
                                  transferTo: step.to, assignee: step.assignee, on: c)
            return try TicketStore.workOrder(id, on: c)!
        }
        logger.info("work order step", metadata: ["work_order_id": "\(id)", "action": "\(action.rawValue)", "status": "\(order.status.rawValue)"])
        var shown = order
        shown.ticket = order.ticket?.masked(for: role)
        return try Self.json(shown)
    }

    // MARK: - Helpers

    /// Runs `body` in a transaction; desk refusals become their HTTP errors (and roll back).
    private func deskTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
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

    private func who(_ request: Request) throws -> (staff: String, role: StaffRole) {
        try StaffHeaders.identify(request)
    }

    private static func logAccess(_ c: PostgresConnection, staff: String, role: StaffRole, subject: String, purpose: String) throws {
        try c.execute("INSERT INTO access_log (actor, role, subject, purpose) VALUES ($1, $2, $3, $4)",
                      [staff, role.rawValue, subject, purpose])
    }

    private static func id(_ context: BasicRequestContext) throws -> UUID {
        guard let raw = context.parameters.get("id"), let id = UUID(uuidString: raw) else {
            throw APIError.notFound("nothing with that id; ids are UUIDs like 8f0c…")
        }
        return id
    }

    private static func validate(_ form: StepForm, wordField: String?, needsDestination: Bool = false,
                                 needsAssignee: Bool = false) throws -> StepForm.Step {
        try valid(form.validate(wordField: wordField, needsDestination: needsDestination, needsAssignee: needsAssignee))
    }

    /// The validated value, or a 422 listing every problem.
    private static func valid<T>(_ result: Result<T, ValidationFailure>) throws -> T {
        switch result {
        case .success(let value): return value
        case .failure(let failure): throw APIError.validation(failure)
        }
    }

    /// Reads a JSON body: 413 over ``maxBody``, 400 for bytes that are not UTF-8 or not JSON,
    /// 422 for a field of the wrong type or format (naming it).
    static func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: BasicRequestContext) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBody)
        } catch {
            throw APIError(status: .contentTooLarge, code: .bodyTooLarge, message: "the body is over \(maxBody / 1024) KiB")
        }
        let data = Data(buffer: buffer)
        if !data.isEmpty, !Self.isJSON(request.headers[.contentType]) {
            throw APIError(status: .unsupportedMediaType, code: .unsupportedMediaType,
                           message: "send the body as JSON with Content-Type: application/json")
        }
        guard String(validating: data, as: UTF8.self) != nil else {
            throw APIError.badRequest(.invalidUtf8, "the body is not valid UTF-8")
        }
        do {
            return try DeskJSON.decoder.decode(T.self, from: data.isEmpty ? Data("{}".utf8) : data)
        } catch let DecodingError.typeMismatch(_, context) where !context.codingPath.isEmpty {
            throw fieldError(context)
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw fieldError(context)
        } catch {
            throw APIError.badRequest(.invalidJson, "the body is not a JSON object of the documented shape")
        }
    }

    /// `application/json`, with or without parameters (`; charset=utf-8`), in any case.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == "application/json"
    }

    private static func fieldError(_ context: DecodingError.Context) -> APIError {
        let field = context.codingPath.map(\.stringValue).joined(separator: ".")
        return APIError(status: .unprocessableContent, code: .invalidFormat, message: "\(field): \(context.debugDescription)",
                        problems: [Problem(field: field, code: .invalidFormat, message: context.debugDescription)])
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try DeskJSON.encoder.encode(value))))
    }

    /// FNV-1a 64 of the request, to tell a retry from a different request under the same key.
    static func fingerprint(_ data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// A query string as HTML forms and browsers write it: `+` is a space, `%XX` a byte of UTF-8.
/// A value that is not UTF-8 or holds a control character (`%00`) is refused with 400.
struct FormQuery {
    private var values: [String: String] = [:]

    init(_ query: String?) throws {
        for pair in (query ?? "").split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ raw: Substring) throws -> String {
                let spaced = raw.replacingOccurrences(of: "+", with: " ")
                guard let text = spaced.removingPercentEncoding else {
                    throw APIError.badRequest(.invalidFormat, "the query string is not percent-encoded UTF-8")
                }
                return text
            }
            let name = try decode(parts[0])
            let value = parts.count > 1 ? try decode(parts[1]) : ""
            if let bad = FieldCheck.controlCharacter(in: name + value) {
                throw APIError.badRequest(.invalidFormat, "\(name.prefix(20)) contains a control character (\(bad))", field: String(name.prefix(20)))
            }
            if values[name] == nil { values[name] = value }
        }
    }

    subscript(_ name: String) -> String? { values[name] }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
