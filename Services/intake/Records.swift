import Contracts
import Desk
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Postgres
import Reports
import ServiceKit

/// The office's records (issue 17): shift handovers (P2), the key register (T9) and the checks
/// before a lock change (T2). Each is written in the transaction of the request that makes it;
/// what a caller reads and changes is limited to their properties (and, for department staff,
/// their departments' handovers) in the queries themselves, so an id outside is 404. Reads are
/// built as JSON by PostgreSQL and sent as they come; none carries a resident's number or unit.
enum Records {
    static let routes: [IntakeAPI.Route] = [
        .init(.get, "/handovers", .handovers) { api, request, _, caller in try await Handovers.list(api, request, caller) },
        .init(.get, "/handovers/draft", .handovers) { api, request, _, caller in try await Handovers.draft(api, request, caller) },
        .init(.post, "/handovers", .handovers) { api, request, context, caller in try await Handovers.create(api, request, context, caller) },
        .init(.get, "/handovers/{id}", .handovers) { api, _, context, caller in try await Handovers.read(api, context, caller) },
        .init(.put, "/handovers/{id}", .handovers) { api, request, context, caller in try await Handovers.edit(api, request, context, caller) },
        .init(.post, "/handovers/{id}/sign", .handovers) { api, request, context, caller in try await Handovers.sign(api, request, context, caller) },
        .init(.post, "/handovers/{id}/amendments", .handovers) { api, request, context, caller in
            try await Handovers.amend(api, request, context, caller)
        },
        .init(.get, "/keys", .keysLend) { api, request, _, caller in try await Keys.list(api, request, caller) },
        .init(.post, "/keys", .keysManage) { api, request, context, caller in try await Keys.add(api, request, context, caller) },
        .init(.get, "/keys/{id}", .keysLend) { api, _, context, caller in try await Keys.read(api, context, caller) },
        .init(.get, "/key-loans", .keysLend) { api, request, _, caller in try await Keys.loans(api, request, caller) },
        .init(.post, "/key-loans", .keysLend) { api, request, context, caller in try await Keys.lend(api, request, context, caller) },
        .init(.post, "/key-loans/{id}/approve", .keysApprove) { api, request, context, caller in
            try await Keys.decide(api, request, context, caller, approve: true)
        },
        .init(.post, "/key-loans/{id}/refuse", .keysApprove) { api, request, context, caller in
            try await Keys.decide(api, request, context, caller, approve: false)
        },
        .init(.post, "/key-loans/{id}/return", .keysLend) { api, request, context, caller in try await Keys.giveBack(api, request, context, caller) },
        .init(.get, "/key-counts", .keysLend) { api, request, _, caller in try await Keys.counts(api, request, caller) },
        .init(.post, "/key-counts", .keysLend) { api, request, context, caller in try await Keys.count(api, request, context, caller) },
        .init(.get, "/work-orders/{id}/sign-off", .workOrdersRead) { api, _, context, caller in try await SignOffs.read(api, context, caller) },
        .init(.post, "/work-orders/{id}/sign-off", .workOrdersWork) { api, request, context, caller in
            try await SignOffs.record(api, request, context, caller)
        },
        .init(.get, "/surveys", .reportsRead) { api, request, _, caller in try await Surveys.list(api, request, caller) },
        .init(.post, "/surveys", .surveysManage) { api, request, context, caller in try await Surveys.draw(api, request, context, caller) },
        .init(.get, "/surveys/{id}", .reportsRead) { api, _, context, caller in try await Surveys.read(api, context, caller) },
        .init(.post, "/surveys/{id}/next", .ticketsDesk) { api, _, context, caller in try await Surveys.next(api, context, caller) },
        .init(.post, "/survey-households/{id}/answer", .ticketsDesk) { api, request, context, caller in
            try await Surveys.answer(api, request, context, caller)
        },
        .init(.get, "/tickets/{id}/lock-change-check", .ticketsRead) { api, _, context, caller in try await LockChanges.read(api, context, caller) },
        .init(.post, "/tickets/{id}/lock-change-check", .ticketsDesk) { api, request, context, caller in
            try await LockChanges.record(api, request, context, caller)
        },
    ]

    /// A JSON document PostgreSQL built, as the answer.
    static func document(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `select` (`SELECT jsonb_build_object(…)` then, at the start of a line, `FROM …`) with its
    /// object named `j` and `column` selected before it as `o`.
    static func named(_ select: String, orderedBy column: String = "NULL") -> String {
        guard select.hasPrefix("SELECT "), let from = select.range(of: "\nFROM ") else { preconditionFailure("not a record select: \(select.prefix(40))") }
        return "SELECT \(column) AS o, \(select[select.index(select.startIndex, offsetBy: 7)..<from.lowerBound]) AS j\(select[from.lowerBound...])"
    }

    /// A scalar subquery: the JSON array of `select`'s objects that `rest` (WHERE, ORDER BY,
    /// LIMIT) keeps, in `column`'s order (newest first unless `ascending`).
    static func array(_ select: String, orderedBy column: String, ascending: Bool = false, _ rest: String) -> String {
        "(SELECT coalesce(jsonb_agg(x.j ORDER BY x.o \(ascending ? "ASC" : "DESC")), '[]'::jsonb) FROM (\(named(select, orderedBy: column)) \(rest)) x)"
    }

    /// The one JSON value a query returns.
    static func first(_ rows: [PostgresRow]) throws -> String? { try rows.first.map { try $0.decode(0, as: String.self) } }

    /// `?property=` of a list: required, and one of the caller's (another reads as unknown: 404).
    static func property(_ q: FormQuery, _ caller: Caller) throws -> String {
        guard let property = q["property"] else { throw APIError.badRequest(.required, "property is required", field: "property") }
        guard caller.scope.covers(property: property) else { throw APIError.notFound("property") }
        return property
    }

    /// The record of the ticket or work order in the path, if the caller reaches it (else 404).
    static func read(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller, _ what: String,
                     reaches: @escaping @Sendable (AccessScope, UUID, PostgresConnection) throws -> Bool,
                     state: @escaping @Sendable (UUID, PostgresConnection) throws -> String?) async throws -> Response {
        let id = try context.pathID()
        let scope = caller.scope
        let text = try await api.postgres.withConnection { c -> String? in try reaches(scope, id, c) ? try state(id, c) : nil }
        guard let text else { throw APIError.notFound(what) }
        return document(text)
    }

    static func conflict(_ code: ErrorCode, _ message: String) -> APIError { APIError(status: .conflict, code: code, message: message) }
}

// MARK: - P2 shift handovers

enum Handovers {
    static let select = """
        SELECT jsonb_build_object('id', h.id, 'property', h.property, 'department', h.department, 'shift', h.shift, 'items', h.items,
               'notes', h.notes, 'created_by', jsonb_build_object('login', w.login, 'name', w.name), 'created_at', h.created_at,
               'state', CASE WHEN h.incoming_by IS NOT NULL THEN 'signed' WHEN h.outgoing_by IS NOT NULL THEN 'awaiting_incoming' ELSE 'draft' END,
               'outgoing', CASE WHEN h.outgoing_by IS NULL THEN NULL ELSE jsonb_build_object('login', o.login, 'name', o.name, 'at', h.outgoing_at) END,
               'incoming', CASE WHEN h.incoming_by IS NULL THEN NULL ELSE jsonb_build_object('login', i.login, 'name', i.name, 'at', h.incoming_at) END,
               'amendments', coalesce((SELECT jsonb_agg(jsonb_build_object('text', a.text, 'author', s.name, 'at', a.at) ORDER BY a.id)
                                       FROM handover_amendments a JOIN staff s ON s.id = a.author WHERE a.handover_id = h.id), '[]'::jsonb))
        FROM handovers h JOIN staff w ON w.id = h.created_by LEFT JOIN staff o ON o.id = h.outgoing_by LEFT JOIN staff i ON i.id = h.incoming_by
        """

    /// The caller's reach: their properties and, for department staff, their departments.
    static func reach(_ caller: Caller) -> (properties: PostgresArray<String>, departments: PostgresArray<String>?) {
        (PostgresArray(caller.identity.properties), caller.scope.departments.map { PostgresArray($0.map(\.rawValue)) })
    }

    static let within = "h.property = ANY($2::text[]) AND ($3::text[] IS NULL OR h.department = ANY($3::text[]))"

    static func department(_ q: FormQuery, _ caller: Caller) throws -> Department {
        let department = try q.choice("department", Department.self) ?? caller.scope.departments?.first ?? .customerService
        if let mine = caller.scope.departments, !mine.contains(department) { throw APIError.notFound("department") }
        return department
    }

    static func list(_ api: IntakeAPI, _ request: Request, _ caller: Caller) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let property = try Records.property(q, caller)
        let department = try department(q, caller)
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query("""
                SELECT jsonb_build_object('handovers', \(Records.array(select, orderedBy: "h.created_at",
                    "WHERE h.property = $1 AND h.department = $2 ORDER BY h.created_at DESC LIMIT 50")))::text
                """, [property, department.rawValue]))
        }
        return Records.document(text ?? #"{"handovers":[]}"#)
    }

    /// The draft of `$1` (property), `$2` (department): one JSON document.
    static let draftSQL = """
        SELECT jsonb_build_object('property', $1::text, 'department', $2::text,
                                  'items', coalesce(jsonb_agg(x.item ORDER BY x.created_at), '[]'::jsonb))::text
        FROM (SELECT t.created_at, jsonb_build_object('ticket_id', t.id, 'number', t.number, 'kind', t.kind, 'category', t.category,
                     'status', t.status, 'order_status', w.status, 'assignee', w.assignee, 'next_due', d.due,
                     'text', concat_ws(' · ', t.number, t.kind, t.category, t.status,
                                       CASE WHEN w.status IS NOT NULL THEN 'work order ' || w.status || coalesce(' (' || w.assignee || ')', '') END,
                                       CASE WHEN d.due IS NOT NULL THEN 'next due ' || to_char(d.due AT TIME ZONE p.time_zone, 'MM-DD HH24:MI') END)) AS item
              FROM tickets t JOIN properties p ON p.code = t.property
              LEFT JOIN LATERAL (SELECT status, assignee FROM work_orders
                                 WHERE ticket_id = t.id AND round = t.round AND department = $2 AND status IN ('assigned', 'accepted', 'on_site')
                                 ORDER BY created_at LIMIT 1) w ON true
              LEFT JOIN LATERAL (SELECT min(due_at) AS due FROM deadlines WHERE ticket_id = t.id AND state = 'pending') d ON true
              WHERE t.property = $1 AND t.status IN ('open', 'acknowledged', 'on_site') AND (w.status IS NOT NULL OR $2 = 'customer_service')
              ORDER BY t.created_at LIMIT \(HandoverForm.maxItems)) x
        """

    /// What the outgoing shift has pending: the open tickets with a live work order of the
    /// department (or, for customer service, every open ticket), oldest first, each with its
    /// order's state and the next clock step. No resident's data.
    static func draft(_ api: IntakeAPI, _ request: Request, _ caller: Caller) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let property = try Records.property(q, caller)
        let department = try department(q, caller)
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query(draftSQL, [property, department.rawValue]))
        }
        return Records.document(text ?? "{}")
    }

    static func create(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let form = try IntakeAPI.valid(try await IntakeAPI.decodeBody(HandoverForm.self, request, context).validate())
        guard caller.scope.covers(property: form.property) else { throw APIError(DeskError.unknownProperty(form.property)) }
        if let mine = caller.scope.departments, !mine.contains(form.department) {
            throw APIError.badRequest(.notAllowed, "you hand over your own departments' shift: \(mine.map(\.rawValue).joined(separator: ", "))", field: "department")
        }
        let id = UUID()
        let items = try PostgresJSON(encoding: form.items, encoder: DeskJSON.encoder)
        let (properties, departments) = reach(caller)
        let text = try await api.postgres.withTransaction { c in
            try c.execute("INSERT INTO handovers (id, property, department, shift, items, notes, created_by) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)",
                          [id, form.property, form.department.rawValue, form.shift, items, form.notes, caller.identity.id])
            return try Records.first(c.query(select + " WHERE h.id = $1 AND " + within, [id, properties, departments]))
        }
        var response = Records.document(text ?? "{}", status: .created)
        response.headers[.location] = "/handovers/\(id.uuidString.lowercased())"
        return response
    }

    static func read(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let (properties, departments) = reach(caller)
        let text = try await api.postgres.withConnection { c in try Records.first(c.query(select + " WHERE h.id = $1 AND " + within, [id, properties, departments])) }
        guard let text else { throw APIError.notFound("handover") }
        return Records.document(text)
    }

    /// Locks the handover within the caller's reach: who has signed it.
    static func lock(_ id: UUID, _ caller: Caller, on c: PostgresConnection) throws -> (outgoing: UUID?, incoming: UUID?, property: String, department: String)? {
        let (properties, departments) = reach(caller)
        guard let row = try c.query("SELECT outgoing_by, incoming_by, property, department FROM handovers h WHERE h.id = $1 AND " + within + " FOR UPDATE",
                                    [id, properties, departments]).first else { return nil }
        return (try row.decode(0, as: UUID?.self), try row.decode(1, as: UUID?.self), try row.decode(2), try row.decode(3))
    }

    /// A draft's items, shift and notes, replaced while nobody has signed it.
    static func edit(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let body = try await IntakeAPI.decodeBody(HandoverForm.self, request, context)
        let (properties, departments) = reach(caller)
        let text = try await api.deskTransaction { c -> String in
            guard let held = try lock(id, caller, on: c) else { throw DeskError.notFound("handover") }
            let form = try IntakeAPI.valid(body.validate(required: false))
            let items = try PostgresJSON(encoding: form.items, encoder: DeskJSON.encoder)
            guard held.outgoing == nil else {
                throw Records.conflict(.recordSigned, held.incoming == nil ? "the outgoing shift has signed this handover: its items no longer change; amend it with a new entry"
                                                               : HandoverSigning.Refusal.complete.description)
            }
            try c.execute("UPDATE handovers SET shift = $2, items = $3::jsonb, notes = $4 WHERE id = $1", [id, form.shift, items, form.notes])
            return try Records.first(c.query(select + " WHERE h.id = $1 AND " + within, [id, properties, departments]))!
        }
        return Records.document(text)
    }

    struct SignForm: Decodable, Sendable {
        var login: String?
        var password: String?
        var code: String?
    }

    /// Signs as the caller, or, with `login` and `password` (and `code` where the account needs
    /// one), as the person typing them on this screen: the incoming shift countersigns at the
    /// outgoing shift's desk. Those credentials are checked like a sign-in, lock-out included.
    static func sign(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await IntakeAPI.decodeBody(SignForm.self, request, context)
        var signer = caller.identity
        let how = form.login != nil || form.password != nil ? "credentials" : "session"
        if how == "credentials" {
            var check = FieldCheck()
            let (login, password, code) = SignIn.credentials(login: form.login, password: form.password, code: form.code, &check)
            guard let login, let password, check.failure == nil else { throw APIError.validation(check.failure!) }
            signer = try await api.signIn.confirm(login: login, password: password, code: code, address: context.remoteAddress)
            guard signer.acting(.handovers) != nil else { throw APIError(status: .forbidden, code: .forbidden, message: "\(login) may not sign handovers") }
        }
        let who = signer
        let (properties, departments) = reach(caller)
        let text = try await api.deskTransaction { c -> String in
            guard let held = try lock(id, caller, on: c) else { throw DeskError.notFound("handover") }
            // The signer must reach the handover too (a countersigner from another property cannot).
            guard who.properties.contains(held.property),
                  who.scope.departments.map({ $0.map(\.rawValue).contains(held.department) }) ?? true else {
                throw APIError(status: .forbidden, code: .forbidden, message: "\(who.login) does not work this property's \(held.department) shift")
            }
            let side: HandoverSigning.Side
            switch HandoverSigning.next(outgoing: held.outgoing, incoming: held.incoming, signer: who.id) {
            case .success(let s): side = s
            case .failure(.samePerson): throw Records.conflict(.sameSigner, HandoverSigning.Refusal.samePerson.description)
            case .failure(let refusal): throw Records.conflict(.recordSigned, refusal.description)
            }
            let column = side == .outgoing ? "outgoing" : "incoming"
            try c.execute("UPDATE handovers SET \(column)_by = $2, \(column)_at = now() WHERE id = $1 AND \(column)_by IS NULL", [id, who.id])
            try Audit.record(c, actor: who.login, action: .handoverSigned, subject: "handover \(id.uuidString.lowercased())", address: caller.address,
                             detail: ["side": side.rawValue, "by": how, "at_desk_of": caller.login])
            return try Records.first(c.query(select + " WHERE h.id = $1 AND " + within, [id, properties, departments]))!
        }
        return Records.document(text)
    }

    struct AmendForm: Decodable, Sendable { var text: String? }

    /// A signed handover is amended by a new entry, never changed.
    static func amend(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let body = try await IntakeAPI.decodeBody(AmendForm.self, request, context)
        let (properties, departments) = reach(caller)
        let answer = try await api.deskTransaction { c -> String in
            guard let held = try lock(id, caller, on: c) else { throw DeskError.notFound("handover") }
            var check = FieldCheck()
            let text = check.text(body.text, "text", required: true, max: 2000, what: "what the amendment adds or corrects")
            guard let text, check.failure == nil else { throw APIError.validation(check.failure!) }
            guard held.outgoing != nil else {
                throw Records.conflict(.illegalTransition, "nobody has signed this handover yet: edit it (PUT /handovers/{id}) instead")
            }
            try c.execute("INSERT INTO handover_amendments (handover_id, text, author) VALUES ($1, $2, $3)", [id, text, caller.identity.id])
            return try Records.first(c.query(select + " WHERE h.id = $1 AND " + within, [id, properties, departments]))!
        }
        return Records.document(answer, status: .created)
    }
}

// MARK: - T9 the key register

enum Keys {
    /// A key with how many copies are out or waiting for approval, and its loans not yet back.
    static let select = """
        SELECT jsonb_build_object('id', k.id, 'property', k.property, 'label', k.label, 'building', k.building, 'unit', k.unit,
               'special', k.special, 'copies', k.copies,
               'out', coalesce((SELECT sum(copies) FROM key_loans WHERE key_id = k.id AND state = 'out'), 0),
               'awaiting_approval', coalesce((SELECT sum(copies) FROM key_loans WHERE key_id = k.id AND state = 'awaiting_approval'), 0))
        FROM keys k
        """

    static let loanSelect = """
        SELECT jsonb_build_object('id', l.id, 'key_id', l.key_id, 'label', k.label, 'special', k.special, 'property', l.property,
               'ticket_id', l.ticket_id, 'ticket_number', t.number, 'borrower', l.borrower, 'relation', l.relation, 'reason', l.reason,
               'authorisation_ref', l.authorisation_ref, 'phone_confirmed_with', l.phone_confirmed_with, 'phone_confirmed_at', l.phone_confirmed_at,
               'phone_confirmed_by', pc.name, 'copies', l.copies, 'state', l.state, 'requested_by', rq.name, 'requested_at', l.requested_at,
               'approved_by', ap.name, 'approved_at', l.approved_at, 'issued_at', l.issued_at, 'due_back_at', l.due_back_at,
               'overdue', l.state = 'out' AND l.due_back_at < now(), 'returned_at', l.returned_at, 'returned_to', rt.name)
        FROM key_loans l JOIN keys k ON k.id = l.key_id JOIN tickets t ON t.id = l.ticket_id JOIN staff rq ON rq.id = l.requested_by
        LEFT JOIN staff pc ON pc.id = l.phone_confirmed_by LEFT JOIN staff ap ON ap.id = l.approved_by LEFT JOIN staff rt ON rt.id = l.returned_to
        """

    static func mine(_ caller: Caller) -> PostgresArray<String> { PostgresArray(caller.identity.properties) }

    static func list(_ api: IntakeAPI, _ request: Request, _ caller: Caller) async throws -> Response {
        let property = try Records.property(try FormQuery(request.uri.query), caller)
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query("SELECT jsonb_build_object('keys', \(Records.array(select, orderedBy: "k.label", ascending: true, "WHERE k.property = $1")))::text",
                                      [property]))
        }
        return Records.document(text ?? #"{"keys":[]}"#)
    }

    static func add(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let key = try IntakeAPI.valid(try await IntakeAPI.decodeBody(KeyForm.self, request, context).validate())
        guard caller.scope.covers(property: key.property) else { throw APIError(DeskError.unknownProperty(key.property)) }
        let id = UUID()
        let text = try await api.postgres.withTransaction { c -> String? in
            let added = try c.execute("""
                INSERT INTO keys (id, property, label, building, unit, special, copies) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (property, label) DO NOTHING
                """, [id, key.property, key.label, key.building, key.unit, key.special, key.copies])
            guard added == 1 else { return nil }
            return try Records.first(c.query(select + " WHERE k.id = $1", [id]))
        }
        guard let text else { throw Records.conflict(.notAllowed, "the register already has a key labelled \(key.label) at this property") }
        var response = Records.document(text, status: .created)
        response.headers[.location] = "/keys/\(id.uuidString.lowercased())"
        return response
    }

    /// The key and every loan of it, newest first.
    static func read(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query("""
                SELECT (key.j || jsonb_build_object('loans', \(Records.array(loanSelect, orderedBy: "l.requested_at", "WHERE l.key_id = $1"))))::text
                FROM (\(Records.named(select)) WHERE k.id = $1 AND k.property = ANY($2::text[])) key
                """, [id, mine(caller)]))
        }
        guard let text else { throw APIError.notFound("key") }
        return Records.document(text)
    }

    static func loans(_ api: IntakeAPI, _ request: Request, _ caller: Caller) async throws -> Response {
        let q = try FormQuery(request.uri.query)
        let property = try Records.property(q, caller)
        let state = q["state"]
        if let state, !["awaiting_approval", "out", "returned", "refused", "overdue"].contains(state) {
            throw APIError.badRequest(.unknownValue, "state is awaiting_approval, out, overdue, returned or refused", field: "state")
        }
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query("""
                SELECT jsonb_build_object('key_loans', \(Records.array(loanSelect, orderedBy: "l.requested_at", """
                    WHERE l.property = $1 AND ($2::text IS NULL OR l.state = $2 OR ($2 = 'overdue' AND l.state = 'out' AND l.due_back_at < now()))
                    ORDER BY l.requested_at DESC LIMIT 200
                    """)))::text
                """, [property, state]))
        }
        return Records.document(text ?? #"{"key_loans":[]}"#)
    }

    static func loan(_ id: UUID, on c: PostgresConnection) throws -> String {
        try Records.first(c.query(loanSelect + " WHERE l.id = $1", [id]))!
    }

    /// Lends a key against the key_loan ticket the desk filed. A non-owner's loan needs the owner's
    /// written authorisation and phone confirmation (refused with 422 `owner_authorisation_required`);
    /// a special room's key waits for a head's approval (state `awaiting_approval`); otherwise it
    /// is handed over now (`out`), and the ticket's `key_issued` event starts the clock on its
    /// return. Copies already out or waiting cannot be lent again (409 `key_unavailable`).
    static func lend(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let loan = try IntakeAPI.valid(try await IntakeAPI.decodeBody(KeyLoanForm.self, request, context).validate(now: Date()))
        let id = UUID()
        let actor = Actor(name: caller.identity.name, role: caller.role)
        let properties = mine(caller)
        let text = try await api.deskTransaction { c -> String in
            guard let key = try c.query("""
                SELECT property, label, special, copies - coalesce((SELECT sum(copies) FROM key_loans WHERE key_id = k.id AND state IN ('out', 'awaiting_approval')), 0)
                FROM keys k WHERE id = $1 AND property = ANY($2::text[]) FOR UPDATE
                """, [loan.keyID, properties]).first else { throw DeskError.notFound("key") }
            let property: String = try key.decode(0), label: String = try key.decode(1), special: Bool = try key.decode(2), free: Int = try key.decode(3)
            guard let ticket = try c.query("SELECT kind, status FROM tickets WHERE id = $1 AND property = $2", [loan.ticketID, property]).first else {
                throw DeskError.notFound("ticket")
            }
            guard try ticket.decode(0, as: String.self) == TicketKind.keyLoan.rawValue,
                  TicketStatus(rawValue: try ticket.decode(1, as: String.self))?.isActive == true else {
                throw Records.conflict(.illegalTransition, "a key is lent against an open key_loan ticket of its property (file one for the request first)")
            }
            guard loan.copies <= free else {
                throw Records.conflict(.keyUnavailable, "\(label): \(free) of its copies \(free == 1 ? "is" : "are") in the office; \(loan.copies) asked for")
            }
            try c.execute("""
                INSERT INTO key_loans (id, key_id, property, ticket_id, borrower, relation, reason, authorisation_ref, phone_confirmed_by,
                                       phone_confirmed_at, phone_confirmed_with, copies, state, requested_by, issued_at, due_back_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $10::timestamptz IS NULL THEN NULL ELSE $9::uuid END, $10, $11, $12, $13, $9,
                        CASE WHEN $13 = 'out' THEN now() END, $14)
                """, [id, loan.keyID, property, loan.ticketID, loan.borrower, loan.relation.rawValue, loan.reason, loan.authorisationRef,
                      caller.identity.id, loan.phoneConfirmedAt, loan.phoneConfirmedWith, loan.copies, special ? "awaiting_approval" : "out",
                      loan.dueBackAt])
            if !special {
                try TicketStore.recordKey(DeskEvents.keyIssued, ticket: loan.ticketID, dueBack: loan.dueBackAt, by: actor,
                                          note: "\(label) × \(loan.copies) to \(loan.borrower) (\(loan.relation.rawValue))", on: c)
            }
            return try Self.loan(id, on: c)
        }
        var response = Records.document(text, status: .created)
        response.headers[.location] = "/key-loans/\(id.uuidString.lowercased())"
        return response
    }

    struct DecideForm: Decodable, Sendable { var reason: String? }

    /// A head approves a special room's key (it is handed over now) or refuses it; never their own request.
    static func decide(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller, approve: Bool) async throws -> Response {
        let id = try context.pathID()
        var check = FieldCheck()
        let reason = check.text(try await IntakeAPI.decodeBody(DecideForm.self, request, context).reason, "reason", required: !approve, max: 500,
                                what: "why the key is not lent")
        if let failure = check.failure { throw APIError.validation(failure) }
        let actor = Actor(name: caller.identity.name, role: caller.role)
        let properties = mine(caller)
        let me = caller.identity.id
        let text = try await api.deskTransaction { c -> String in
            guard let row = try c.query("""
                SELECT l.state, l.requested_by, l.ticket_id, l.due_back_at, k.label, l.copies, l.borrower
                FROM key_loans l JOIN keys k ON k.id = l.key_id WHERE l.id = $1 AND l.property = ANY($2::text[]) FOR UPDATE OF l
                """, [id, properties]).first else { throw DeskError.notFound("key loan") }
            guard try row.decode(0, as: String.self) == "awaiting_approval" else {
                throw Records.conflict(.illegalTransition, "this loan is \(try row.decode(0, as: String.self)), not awaiting approval")
            }
            guard try row.decode(1, as: UUID.self) != me else {
                throw APIError(status: .forbidden, code: .forbidden, message: "nobody approves or refuses their own request")
            }
            let due: Date = try row.decode(3)
            if approve, due <= Date() { throw Records.conflict(.illegalTransition, "the loan's due time has passed: ask again with a new due_back_at") }
            try c.execute("""
                UPDATE key_loans SET state = $2, approved_by = $3, approved_at = now(), issued_at = CASE WHEN $2 = 'out' THEN now() END
                WHERE id = $1 AND state = 'awaiting_approval'
                """, [id, approve ? "out" : "refused", me])
            if approve {
                try TicketStore.recordKey(DeskEvents.keyIssued, ticket: try row.decode(2), dueBack: due, by: actor,
                                          note: "\(try row.decode(4, as: String.self)) × \(try row.decode(5, as: Int.self)) to \(try row.decode(6, as: String.self)), approved",
                                          on: c)
            } else {
                try TicketStore.apply(.note, ticket: try row.decode(2), by: actor, text: "key loan refused: \(reason ?? "")", on: c)
            }
            return try Self.loan(id, on: c)
        }
        return Records.document(text)
    }

    /// The key is back: the return meets the clock.
    static func giveBack(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let actor = Actor(name: caller.identity.name, role: caller.role)
        let properties = mine(caller)
        let me = caller.identity.id
        let text = try await api.deskTransaction { c -> String in
            guard let row = try c.query("""
                SELECT l.state, l.ticket_id, k.label, l.copies FROM key_loans l JOIN keys k ON k.id = l.key_id
                WHERE l.id = $1 AND l.property = ANY($2::text[]) FOR UPDATE OF l
                """, [id, properties]).first else { throw DeskError.notFound("key loan") }
            guard try row.decode(0, as: String.self) == "out" else {
                throw Records.conflict(.illegalTransition, "this loan is \(try row.decode(0, as: String.self)): only a key that is out comes back")
            }
            try c.execute("UPDATE key_loans SET state = 'returned', returned_at = now(), returned_to = $2 WHERE id = $1 AND state = 'out'", [id, me])
            try TicketStore.recordKey(DeskEvents.keyReturned, ticket: try row.decode(1), dueBack: nil, by: actor,
                                      note: "\(try row.decode(2, as: String.self)) × \(try row.decode(3, as: Int.self)) returned", on: c)
            return try Self.loan(id, on: c)
        }
        return Records.document(text)
    }

    struct CountForm: Decodable, Sendable {
        struct Line: Decodable, Sendable {
            var keyID: UUID?
            var counted: Int?
            enum CodingKeys: String, CodingKey {
                case counted
                case keyID = "key_id"
            }
        }
        var property: String?
        var counts: [Line]?
    }

    static let countSelect = """
        SELECT jsonb_build_object('id', n.id, 'property', n.property, 'day', n.day, 'counted_by', s.name, 'at', n.at, 'lines', n.lines,
               'discrepancies', n.discrepancies, 'ticket_id', n.ticket_id, 'ticket_number', t.number)
        FROM key_counts n JOIN staff s ON s.id = n.counted_by LEFT JOIN tickets t ON t.id = n.ticket_id
        """

    /// The daily count: every key of the property against the register (a key left out counts as
    /// none). A count that does not add up files a key_loan ticket with category key_count, which
    /// dispatch sends to security, and the count names it.
    static func count(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let form = try await IntakeAPI.decodeBody(CountForm.self, request, context)
        var check = FieldCheck()
        let property = check.text(form.property, "property", required: true, max: 40)
        var counted: [UUID: Int] = [:]
        for (i, line) in (form.counts ?? []).enumerated() {
            guard let key = line.keyID else { check.add(.init(field: "counts[\(i)].key_id", code: .required, message: "key_id is required")); continue }
            guard let n = line.counted, (0...99).contains(n) else {
                check.add(.init(field: "counts[\(i)].counted", code: .invalidFormat, message: "counted is from 0 to 99"))
                continue
            }
            if counted.updateValue(n, forKey: key) != nil {
                check.add(.init(field: "counts[\(i)].key_id", code: .invalidFormat, message: "each key is counted once"))
            }
        }
        if form.counts == nil { check.add(.init(field: "counts", code: .required, message: "counts (each key's copies on the board) is required")) }
        guard let property, check.failure == nil else { throw APIError.validation(check.failure!) }
        guard caller.scope.covers(property: property) else { throw APIError(DeskError.unknownProperty(property)) }
        let tally = counted
        let (lines, day) = try await api.postgres.withConnection { c -> ([KeyCount.Line], String) in
            let keys = try c.query("""
                SELECT k.id, k.label, k.copies, coalesce((SELECT sum(copies) FROM key_loans WHERE key_id = k.id AND state = 'out'), 0)::int
                FROM keys k WHERE k.property = $1 ORDER BY k.label
                """, [property]).map { (id: try $0.decode(0, as: UUID.self), label: try $0.decode(1, as: String.self),
                                        copies: try $0.decode(2, as: Int.self), out: try $0.decode(3, as: Int.self)) }
            let unknown = Set(tally.keys).subtracting(keys.map(\.id))
            guard unknown.isEmpty else { throw APIError.badRequest(.notFound, "key \(unknown.first!.uuidString.lowercased()) is not in this property's register", field: "counts") }
            let day = try c.query("SELECT to_char(now() AT TIME ZONE time_zone, 'YYYY-MM-DD') FROM properties WHERE code = $1", [property])[0]
                .decode(0, as: String.self)
            return (KeyCount.lines(keys: keys, counted: tally), day)
        }
        let differing = lines.filter(\.differs)
        var ticketID: UUID?
        if !differing.isEmpty {
            let form = TicketForm(property: property, kind: TicketKind.keyLoan.rawValue, channel: IntakeChannel.patrol.rawValue,
                                  content: KeyCount.discrepancyText(lines, day: day), category: "key_count", takenBy: caller.identity.name)
            let new = try IntakeAPI.valid(form.validate(now: Date()))
            ticketID = try await api.postgres.withConnection { c in try TicketStore.create(new, on: c).ticket.id }
        }
        let id = UUID()
        let linesJSON = try PostgresJSON(encoding: lines, encoder: DeskJSON.encoder)
        let ticket = ticketID
        let text = try await api.postgres.withTransaction { c -> String in
            try c.execute("""
                INSERT INTO key_counts (id, property, day, counted_by, lines, discrepancies, ticket_id) VALUES ($1, $2, $3::date, $4, $5::jsonb, $6, $7)
                """, [id, property, day, caller.identity.id, linesJSON, differing.count, ticket])
            return try Records.first(c.query(countSelect + " WHERE n.id = $1", [id]))!
        }
        return Records.document(text, status: .created)
    }

    static func counts(_ api: IntakeAPI, _ request: Request, _ caller: Caller) async throws -> Response {
        let property = try Records.property(try FormQuery(request.uri.query), caller)
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query("""
                SELECT jsonb_build_object('key_counts', \(Records.array(countSelect, orderedBy: "n.at", "WHERE n.property = $1 ORDER BY n.at DESC LIMIT 60")))::text
                """, [property]))
        }
        return Records.document(text ?? #"{"key_counts":[]}"#)
    }
}

// MARK: - T2 lock changes

enum LockChanges {
    /// The check, who is on site, and what is still missing before the ticket may be resolved.
    static func state(_ id: UUID, on c: PostgresConnection) throws -> String? {
        try Records.first(c.query("""
            SELECT jsonb_build_object('ticket_id', t.id, 'applies', t.kind = 'lock_change',
                   'check', (SELECT jsonb_build_object('applicant', l.applicant, 'id_document', l.id_document, 'id_last4', l.id_last4,
                                                       'applicant_is_owner', l.applicant_is_owner, 'consent_owner', l.consent_owner,
                                                       'consent_at', l.consent_at, 'consent_by', cb.name, 'checked_by', s.name, 'checked_at', l.checked_at)
                             FROM lock_change_checks l JOIN staff s ON s.id = l.checked_by LEFT JOIN staff cb ON cb.id = l.consent_by
                             WHERE l.ticket_id = t.id),
                   'present', coalesce((SELECT jsonb_agg(DISTINCT w.department) FROM ticket_events e JOIN work_orders w ON w.id = e.work_order_id
                                        WHERE e.ticket_id = t.id AND w.round = t.round AND e.type LIKE 'workorder.%.on_site'), '[]'::jsonb),
                   'required', to_jsonb($2::text[]))::text
            FROM tickets t WHERE t.id = $1
            """, [id, PostgresArray(LockChange.presentDepartments.map(\.rawValue))]))
    }

    static func read(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        try await Records.read(api, context, caller, "ticket", reaches: { scope, id, c in try TicketStore.reaches(scope, ticket: id, on: c) }, state: state)
    }

    /// The desk records the applicant's ID (its type and last four characters) and that the
    /// applicant is the owner or the owner consented by phone. Once; it is part of the record.
    static func record(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await IntakeAPI.decodeBody(LockChangeForm.self, request, context)
        let scope = caller.scope
        let actor = Actor(name: caller.identity.name, role: caller.role)
        let me = caller.identity.id
        let text = try await api.deskTransaction { c -> String in
            guard try TicketStore.reaches(scope, ticket: id, on: c),
                  let row = try c.query("SELECT kind, status, property FROM tickets WHERE id = $1 FOR UPDATE", [id]).first else {
                throw DeskError.notFound("ticket")
            }
            let check = try IntakeAPI.valid(form.validate(now: Date()))
            guard try row.decode(0, as: String.self) == TicketKind.lockChange.rawValue else {
                throw Records.conflict(.illegalTransition, "only a lock_change ticket has a lock-change check")
            }
            guard TicketStatus(rawValue: try row.decode(1, as: String.self))?.isActive == true else {
                throw Records.conflict(.illegalTransition, "the ticket is \(try row.decode(1, as: String.self)): the check is recorded while it is open")
            }
            let added = try c.execute("""
                INSERT INTO lock_change_checks (ticket_id, property, applicant, id_document, id_last4, applicant_is_owner, consent_owner, consent_by,
                                                consent_at, checked_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::timestamptz IS NULL THEN NULL ELSE $9::uuid END, $8, $9)
                ON CONFLICT (ticket_id) DO NOTHING
                """, [id, try row.decode(2, as: String.self), check.applicant, check.idDocument.rawValue, check.idLast4, check.applicantIsOwner,
                      check.consent?.owner, check.consent?.at, me])
            guard added == 1 else { throw Records.conflict(.illegalTransition, "this ticket's lock-change check is already on record") }
            let consent = check.consent.map { "owner \($0.owner) consented by phone" } ?? "applicant is the owner"
            try TicketStore.apply(.note, ticket: id, by: actor,
                                  text: "T2 ID checked: \(check.idDocument.rawValue) ****\(check.idLast4), \(check.applicant); \(consent)", on: c)
            return try state(id, on: c)!
        }
        return Records.document(text, status: .created)
    }
}

// MARK: - R5 repair sign-offs

enum SignOffs {
    /// The work order's sign-off, with a drawn signature as the SVG the server draws from its numbers.
    static func state(_ id: UUID, on c: PostgresConnection) throws -> String? {
        let row = try c.query("""
            SELECT jsonb_build_object('work_order_id', w.id, 'status', w.status, 'sign_off',
                   (SELECT jsonb_build_object('repair_class', s.repair_class, 'contractor', s.contractor, 'inspected_by', i.name,
                                              'inspection_note', s.inspection_note, 'signer', s.signer,
                                              'signature', CASE WHEN s.drawn IS NULL THEN 'typed' ELSE 'drawn' END, 'signed_at', s.signed_at)
                    FROM work_order_sign_offs s JOIN staff i ON i.id = s.inspected_by WHERE s.work_order_id = w.id))::text,
                   (SELECT drawn::text FROM work_order_sign_offs WHERE work_order_id = w.id)
            FROM work_orders w WHERE w.id = $1
            """, [id]).first
        guard let row, var text = try row.decode(0, as: String?.self) else { return nil }
        if let drawn = try row.decode(1, as: String?.self) {
            let svg = try PostgresJSON(text: drawn).decode(DrawnSignature.self).svg
            let quoted = String(decoding: try JSONEncoder().encode(svg), as: UTF8.self)
            text = String(text.dropLast()) + ", \"signature_svg\": \(quoted)}"
        }
        return text
    }

    static func read(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        try await Records.read(api, context, caller, "work order", reaches: { scope, id, c in try TicketStore.reaches(scope, workOrder: id, on: c) },
                               state: state)
    }

    /// R5: once a repair order is done, the inspection and the customer's signature, and the
    /// class that says who pays. Once; a note on the ticket's timeline too.
    static func record(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await IntakeAPI.decodeBody(SignOffForm.self, request, context)
        let scope = caller.scope
        let me = caller.identity.id
        let actor = Actor(name: caller.identity.name, role: caller.role)
        let text = try await api.deskTransaction { c -> String in
            guard try TicketStore.reaches(scope, workOrder: id, on: c),
                  let row = try c.query("""
                      SELECT w.status, w.ticket_id, w.property, t.kind FROM work_orders w JOIN tickets t ON t.id = w.ticket_id WHERE w.id = $1 FOR UPDATE OF w
                      """, [id]).first else { throw DeskError.notFound("work order") }
            let signOff = try IntakeAPI.valid(form.validate())
            guard [TicketKind.repair.rawValue, TicketKind.emergency.rawValue].contains(try row.decode(3, as: String.self)) else {
                throw Records.conflict(.illegalTransition, "a sign-off is for a repair's work order")
            }
            guard try row.decode(0, as: String.self) == WorkOrderStatus.done.rawValue else {
                throw Records.conflict(.illegalTransition, "the work order is \(try row.decode(0, as: String.self)): the customer signs once it is done")
            }
            let ticket: UUID = try row.decode(1)
            let drawn = try signOff.drawn.map { try PostgresJSON(encoding: $0) }
            let added = try c.execute("""
                INSERT INTO work_order_sign_offs (work_order_id, ticket_id, property, repair_class, contractor, inspected_by, inspection_note, signer, drawn)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (work_order_id) DO NOTHING
                """, [id, ticket, try row.decode(2, as: String.self), signOff.repairClass.rawValue, signOff.contractor, me, signOff.inspectionNote,
                      signOff.signer, drawn])
            guard added == 1 else { throw Records.conflict(.illegalTransition, "this work order is already signed off") }
            let who = signOff.repairClass == .a ? "class A, under warranty: \(signOff.contractor ?? "")" : "class B, the company pays"
            try TicketStore.apply(.note, ticket: ticket, by: actor,
                                  text: "R5 inspected and signed off by \(signOff.signer) (\(signOff.drawn == nil ? "name typed" : "signature drawn")); \(who)", on: c)
            return try state(id, on: c)!
        }
        return Records.document(text, status: .created)
    }
}

// MARK: - F5 satisfaction surveys

enum Surveys {
    /// A survey with its coverage: of the register's households, how many were drawn and how
    /// many answered, and what they said. Counts only: no household's address.
    static let select = """
        SELECT jsonb_build_object('id', v.id, 'property', v.property, 'kind', v.kind, 'period', v.period, 'share', v.share,
               'households', v.households, 'eligible', v.eligible, 'drawn', v.drawn, 'drawn_by', s.name, 'drawn_at', v.drawn_at,
               'coverage', round(v.drawn::numeric / nullif(v.households, 0), 4),
               'answered', c.answered, 'refused', c.refused, 'unreachable', c.unreachable, 'pending', c.pending,
               'answered_coverage', round(c.answered::numeric / nullif(v.households, 0), 4),
               'mean_satisfaction', round(c.mean, 2), 'satisfied_share', round(c.satisfied::numeric / nullif(c.answered, 0), 4))
        FROM surveys v JOIN staff s ON s.id = v.drawn_by
        CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE state = 'answered') AS answered, count(*) FILTER (WHERE state = 'refused') AS refused,
                                   count(*) FILTER (WHERE state = 'unreachable') AS unreachable, count(*) FILTER (WHERE state = 'pending') AS pending,
                                   avg(satisfaction) AS mean, count(*) FILTER (WHERE satisfaction >= 4) AS satisfied
                            FROM survey_households WHERE survey_id = v.id) c
        """

    static func list(_ api: IntakeAPI, _ request: Request, _ caller: Caller) async throws -> Response {
        let property = try Records.property(try FormQuery(request.uri.query), caller)
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query("SELECT jsonb_build_object('surveys', \(Records.array(select, orderedBy: "v.drawn_at", "WHERE v.property = $1")))::text",
                                      [property]))
        }
        return Records.document(text ?? #"{"surveys":[]}"#)
    }

    static func read(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let text = try await api.postgres.withConnection { c in
            try Records.first(c.query(select + " WHERE v.id = $1 AND v.property = ANY($2::text[])", [id, PostgresArray(caller.identity.properties)]))
        }
        guard let text else { throw APIError.notFound("survey") }
        return Records.document(text)
    }

    /// Draws the sample: the register's households with a resident who consents to contact and
    /// not drawn within the year, at random, `share` percent of all households (rounded up). A
    /// first round only for a property never surveyed. Too few left: 409 `sample_too_small`, and
    /// nothing is drawn. One draw per property at a time (an advisory lock).
    static func draw(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let survey = try IntakeAPI.valid(try await IntakeAPI.decodeBody(SurveyForm.self, request, context).validate())
        guard caller.scope.covers(property: survey.property) else { throw APIError(DeskError.unknownProperty(survey.property)) }
        let id = UUID()
        let me = caller.identity.id
        let text = try await api.deskTransaction { c -> String in
            try c.execute("SELECT pg_advisory_xact_lock(hashtextextended('survey ' || $1::text, 0))", [survey.property])
            guard let zone = try Reports.zone(of: survey.property, on: c) else { throw DeskError.unknownProperty(survey.property) }
            let period = survey.period ?? survey.kind.period(of: Date(), in: zone)
            if survey.kind == .firstRound, try !c.query("SELECT 1 FROM surveys WHERE property = $1", [survey.property]).isEmpty {
                throw Records.conflict(.illegalTransition, "this property has been surveyed before: a first round is a new estate's first survey")
            }
            let counts = try c.query("""
                WITH households AS (SELECT building, unit, bool_or(contact_consent) AS reachable FROM residents WHERE property = $1 GROUP BY building, unit)
                SELECT count(*)::int, (count(*) FILTER (WHERE reachable AND NOT EXISTS (
                           SELECT 1 FROM survey_households r WHERE r.property = $1 AND r.building = h.building AND r.unit = h.unit
                           AND r.drawn_at > now() - make_interval(days => $2))))::int
                FROM households h
                """, [survey.property, surveyRestDays])[0]
            let households: Int = try counts.decode(0), eligible: Int = try counts.decode(1)
            let size = SurveyKind.sampleSize(households: households, share: survey.share)
            guard households > 0, size <= eligible else {
                throw Records.conflict(.sampleTooSmall, "a \(survey.share)% sample of \(households) households is \(size), and \(eligible) can be asked: "
                                       + "the others were asked within the last year or consent to no contact")
            }
            let added = try c.execute("""
                INSERT INTO surveys (id, property, kind, period, share, households, eligible, drawn, drawn_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (property, kind, period) DO NOTHING
                """, [id, survey.property, survey.kind.rawValue, period, survey.share, households, eligible, size, me])
            guard added == 1 else { throw Records.conflict(.illegalTransition, "the \(survey.kind.rawValue) survey of \(period) is already drawn") }
            try c.execute("""
                INSERT INTO survey_households (id, survey_id, property, building, unit, resident_id)
                SELECT gen_random_uuid(), $2, $1, h.building, h.unit,
                       (SELECT r.id FROM residents r WHERE r.property = $1 AND r.building = h.building AND r.unit = h.unit AND r.contact_consent
                        ORDER BY r.relation = 'owner' DESC, r.name LIMIT 1)
                FROM (SELECT building, unit FROM residents WHERE property = $1 GROUP BY building, unit HAVING bool_or(contact_consent)) h
                WHERE NOT EXISTS (SELECT 1 FROM survey_households r WHERE r.property = $1 AND r.building = h.building AND r.unit = h.unit
                                  AND r.drawn_at > now() - make_interval(days => $4))
                ORDER BY random() LIMIT $3
                """, [survey.property, id, size, surveyRestDays])
            return try Records.first(c.query(select + " WHERE v.id = $1", [id]))!
        }
        var response = Records.document(text, status: .created)
        response.headers[HTTPField.Name.location] = "/surveys/\(id.uuidString.lowercased())"
        return response
    }

    /// 409 `quiet_hours`, with `Retry-After` until they end.
    static func quietHours(until: Date) -> APIError {
        var error = APIError(status: .conflict, code: .quietHours,
                             message: "residents are not called in their quiet hours: the next call may be made at \(ISO8601DateFormatter().string(from: until))")
        error.headers[.retryAfter] = "\(max(1, Int(until.timeIntervalSinceNow.rounded(.up))))"
        return error
    }

    /// The next household for the caller to call: claimed for 30 minutes, so two desks call
    /// different ones; the resident's number shown to the desk, and that read is an audit row.
    /// Not in the residents' quiet hours (409 `quiet_hours`, with `Retry-After`), and never a
    /// resident who no longer consents to contact.
    static func next(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let me = caller.identity.id
        let quiet = api.quietHours
        let text = try await api.deskTransaction { c -> String in
            guard let property = try c.query("SELECT property FROM surveys WHERE id = $1 AND property = ANY($2::text[])",
                                             [id, PostgresArray(caller.identity.properties)]).first.map({ try $0.decode(0, as: String.self) }) else {
                throw DeskError.notFound("survey")
            }
            guard let zone = try Reports.zone(of: property, on: c) else { throw DeskError.notFound("survey") }
            let now = Date()
            let allowed = quiet.earliestSend(at: now, in: zone)
            if allowed > now { throw Self.quietHours(until: allowed) }
            guard let row = try c.query("""
                UPDATE survey_households h SET claimed_by = $2, claimed_at = now()
                WHERE h.id = (SELECT h2.id FROM survey_households h2 JOIN residents r ON r.id = h2.resident_id
                              WHERE h2.survey_id = $1 AND h2.state = 'pending' AND r.contact_consent
                                AND (h2.claimed_at IS NULL OR h2.claimed_at < now() - interval '30 minutes' OR h2.claimed_by = $2)
                              ORDER BY h2.claimed_by = $2 DESC NULLS LAST, h2.building, h2.unit LIMIT 1 FOR UPDATE OF h2 SKIP LOCKED)
                RETURNING h.id, h.building, h.unit, h.resident_id
                """, [id, me]).first else {
                let left = try c.query("SELECT count(*)::int FROM survey_households WHERE survey_id = $1 AND state = 'pending'", [id])[0].decode(0, as: Int.self)
                return #"{"household":null,"pending":\#(left)}"#
            }
            let household: UUID = try row.decode(0), resident: UUID = try row.decode(3)
            let person = try c.query("SELECT name, phone FROM residents WHERE id = $1", [resident])[0]
            let shows = caller.role.seesResidentContact
            var phone: String = try person.decode(1)
            if shows {
                try IntakeAPI.logContactRead(c, caller, subject: ResidentFiles.subject(resident), purpose: "survey call")
            } else {
                phone = Masking.phone(phone)
            }
            let answer: [String: String] = ["id": household.uuidString.lowercased(), "building": try row.decode(1), "unit": try row.decode(2),
                                            "resident": try person.decode(0), "phone": phone]
            return String(decoding: try JSONEncoder().encode(["household": answer]), as: UTF8.self)
        }
        return Records.document(text)
    }

    /// What the call found: answered (with satisfaction 1–5), refused, or unreachable. Once.
    static func answer(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await IntakeAPI.decodeBody(SurveyAnswerForm.self, request, context)
        let me = caller.identity.id
        let text = try await api.deskTransaction { c -> String in
            guard let row = try c.query("SELECT state, survey_id FROM survey_households WHERE id = $1 AND property = ANY($2::text[]) FOR UPDATE",
                                        [id, PostgresArray(caller.identity.properties)]).first else { throw DeskError.notFound("survey household") }
            let answer = try IntakeAPI.valid(form.validate())
            guard try row.decode(0, as: String.self) == "pending" else {
                throw Records.conflict(.illegalTransition, "this household's answer is already recorded (\(try row.decode(0, as: String.self)))")
            }
            try c.execute("""
                UPDATE survey_households SET state = $2, satisfaction = $3, comments = $4, answered_at = now(), answered_by = $5
                WHERE id = $1 AND state = 'pending'
                """, [id, answer.outcome.rawValue, answer.satisfaction, answer.comments, me])
            return try Records.first(c.query(select + " WHERE v.id = $1", [try row.decode(1, as: UUID.self)]))!
        }
        return Records.document(text)
    }
}
