import Desk
import Domain
import Foundation
import Hummingbird
import Identity
import Postgres
import ServiceKit

/// Residents' files (P1: "reading a file needs approval and leaves a log entry"). The roles that
/// call residents back read a file directly; the others ask, with a reason, and a supervisor or
/// manager approves the request for a limited time (never their own). Every read, refused read,
/// request, approval and refusal is an audit row, and the managers see a resident's access history.
enum ResidentFiles {
    static let routes: [IntakeAPI.Route] = [
        .init(.get, "/residents/{id}", .residentsRead) { api, _, context, caller in try await read(api, context, caller) },
        .init(.post, "/residents/{id}/file-requests", .residentsRequest) { api, request, context, caller in
            try await ask(api, request, context, caller)
        },
        .init(.get, "/residents/{id}/access-history", .residentsApprove) { api, _, context, caller in try await history(api, context, caller) },
        .init(.get, "/file-requests", .residentsApprove) { api, _, _, caller in try await pending(api, caller) },
        .init(.post, "/file-requests/{id}/approve", .residentsApprove) { api, request, context, caller in
            try await decide(api, request, context, caller, approve: true)
        },
        .init(.post, "/file-requests/{id}/refuse", .residentsApprove) { api, request, context, caller in
            try await decide(api, request, context, caller, approve: false)
        },
    ]

    /// How long an approval lasts unless the approver says (minutes), and the most it may.
    static let defaultMinutes = 60
    static let maxMinutes = 24 * 60

    struct FileRequest: Codable, Sendable {
        var id: UUID
        var residentID: UUID
        var property: String
        var requestedBy: String
        var reason: String
        var state: String
        var decidedBy: String?
        var decidedAt: Date?
        var expiresAt: Date?
        var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case id, property, reason, state
            case residentID = "resident_id"
            case requestedBy = "requested_by"
            case decidedBy = "decided_by"
            case decidedAt = "decided_at"
            case expiresAt = "expires_at"
            case createdAt = "created_at"
        }
    }

    static let requestSelect = """
        SELECT jsonb_build_object('id', f.id, 'resident_id', f.resident_id, 'property', f.property, 'requested_by', r.login,
               'reason', f.reason, 'state', f.state, 'decided_by', d.login, 'decided_at', f.decided_at, 'expires_at', f.expires_at,
               'created_at', f.created_at)
        FROM file_requests f JOIN staff r ON r.id = f.requested_by LEFT JOIN staff d ON d.id = f.decided_by
        """

    static func subject(_ resident: UUID) -> String { "resident \(resident.uuidString.lowercased())" }

    /// The resident, if they live at one of the caller's properties.
    static func resident(_ id: UUID, _ caller: Caller, on c: PostgresConnection) throws -> ResidentView? {
        try DeskJSON.rows(c.query("SELECT to_jsonb(r) FROM residents r WHERE id = $1 AND property = ANY($2::text[])",
                                  [id, PostgresArray(caller.identity.properties)]), as: ResidentView.self).first
    }

    static func read(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let outcome = try await api.postgres.withTransaction { c -> Result<ResidentView, APIError> in
            guard let resident = try resident(id, caller, on: c) else { return .failure(APIError.notFound("resident")) }
            if !AccessPolicy.needsApprovalToRead(caller.role) {
                try Audit.record(c, actor: caller.login, action: .fileRead, subject: subject(id), reason: "role \(caller.role.rawValue)",
                                 address: caller.address)
                return .success(resident)
            }
            let approved = try c.query("""
                SELECT id FROM file_requests WHERE resident_id = $1 AND requested_by = $2 AND state = 'approved' AND expires_at > now()
                ORDER BY expires_at DESC LIMIT 1
                """, [id, caller.identity.id]).first.map { try $0.decode(0, as: UUID.self) }
            guard let approved else {
                try Audit.record(c, actor: caller.login, action: .fileReadRefused, subject: subject(id), reason: "no approved request",
                                 address: caller.address)
                return .failure(APIError(status: .forbidden, code: .approvalRequired,
                                         message: "reading this resident's file needs an approved request: POST /residents/{id}/file-requests with a reason"))
            }
            try Audit.record(c, actor: caller.login, action: .fileRead, subject: subject(id), reason: "approved request",
                             address: caller.address, detail: ["request": approved.uuidString.lowercased()])
            return .success(resident)
        }
        // The refusal is on the record (committed) before it is given.
        return try IntakeAPI.json(try outcome.get())
    }

    struct AskForm: Decodable, Sendable { var reason: String? }

    static func ask(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await IntakeAPI.decodeBody(AskForm.self, request, context)
        var check = FieldCheck()
        let reason = check.text(form.reason, "reason", required: true, max: 500, what: "why you need the file")
        guard let reason, check.failure == nil else { throw APIError.validation(check.failure!) }
        let created = try await api.postgres.withTransaction { c -> FileRequest? in
            guard let resident = try resident(id, caller, on: c) else { return nil }
            let requestID = UUID()
            try c.execute("INSERT INTO file_requests (id, resident_id, property, requested_by, reason) VALUES ($1, $2, $3, $4, $5)",
                          [requestID, id, resident.property, caller.identity.id, reason])
            try Audit.record(c, actor: caller.login, action: .fileRequested, subject: subject(id), reason: reason, address: caller.address,
                             detail: ["request": requestID.uuidString.lowercased()])
            return try DeskJSON.rows(c.query(requestSelect + " WHERE f.id = $1", [requestID]), as: FileRequest.self).first
        }
        guard let created else { throw APIError.notFound("resident") }
        return try IntakeAPI.json(created, status: .created)
    }

    static func pending(_ api: IntakeAPI, _ caller: Caller) async throws -> Response {
        try IntakeAPI.json(["file_requests": try await pendingRequests(api, caller)])
    }

    /// The requests waiting for a decision at the caller's properties, oldest first.
    static func pendingRequests(_ api: IntakeAPI, _ caller: Caller) async throws -> [FileRequest] {
        try await api.postgres.withConnection { c in
            try DeskJSON.rows(c.query(requestSelect + " WHERE f.state = 'pending' AND f.property = ANY($1::text[]) ORDER BY f.created_at",
                                      [PostgresArray(caller.identity.properties)]), as: FileRequest.self)
        }
    }

    struct DecideForm: Decodable, Sendable {
        var minutes: Int?
        var reason: String?
    }

    static func decide(_ api: IntakeAPI, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller,
                       approve: Bool) async throws -> Response {
        let id = try context.pathID()
        let form = try await IntakeAPI.decodeBody(DecideForm.self, request, context)
        var check = FieldCheck()
        let reason = check.text(form.reason, "reason", required: false, max: 500)
        let minutes = form.minutes ?? defaultMinutes
        if !(1...maxMinutes).contains(minutes) {
            check.add(.init(field: "minutes", code: .invalidFormat, message: "minutes is from 1 to \(maxMinutes)"))
        }
        if let failure = check.failure { throw APIError.validation(failure) }
        let decided = try await api.postgres.withTransaction { c -> Result<FileRequest, APIError> in
            guard let row = try c.query("""
                SELECT requested_by, resident_id, state FROM file_requests WHERE id = $1 AND property = ANY($2::text[]) FOR UPDATE
                """, [id, PostgresArray(caller.identity.properties)]).first else { return .failure(APIError.notFound("file request")) }
            let requester: UUID = try row.decode(0), resident: UUID = try row.decode(1), state: String = try row.decode(2)
            guard requester != caller.identity.id else {
                return .failure(APIError(status: .forbidden, code: .forbidden, message: "nobody approves or refuses their own request"))
            }
            guard state == "pending" else {
                return .failure(APIError(status: .conflict, code: .illegalTransition, message: "the request is already \(state)"))
            }
            try c.execute("""
                UPDATE file_requests SET state = $2, decided_by = $3, decided_at = now(),
                       expires_at = CASE WHEN $2 = 'approved' THEN now() + make_interval(mins => $4) END
                WHERE id = $1 AND state = 'pending'
                """, [id, approve ? "approved" : "refused", caller.identity.id, minutes])
            try Audit.record(c, actor: caller.login, action: approve ? .fileApproved : .fileRefused, subject: subject(resident), reason: reason,
                             address: caller.address, detail: ["request": id.uuidString.lowercased()]
                                .merging(approve ? ["minutes": "\(minutes)"] : [:]) { a, _ in a })
            return .success(try DeskJSON.rows(c.query(requestSelect + " WHERE f.id = $1", [id]), as: FileRequest.self)[0])
        }
        return try IntakeAPI.json(try decided.get())
    }

    struct AccessEntry: Codable, Sendable {
        var at: Date
        var actor: String
        var action: String
        var subject: String
        var reason: String?
        var detail: [String: String]?
    }

    struct History: Encodable {
        var residentID: UUID
        var entries: [AccessEntry]
        enum CodingKeys: String, CodingKey {
            case entries
            case residentID = "resident_id"
        }
    }

    /// Who read, asked for, approved or was refused the resident's file, and who was shown their
    /// number on a ticket they called about.
    static func history(_ api: IntakeAPI, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let entries = try await api.postgres.withTransaction { c -> [AccessEntry]? in
            guard let resident = try resident(id, caller, on: c) else { return nil }
            return try DeskJSON.rows(c.query("""
                SELECT jsonb_build_object('at', a.at, 'actor', a.actor, 'action', a.action, 'subject', a.subject, 'reason', a.reason, 'detail', a.detail)
                FROM audit_log a
                WHERE a.subject = $1 OR a.subject IN (
                    SELECT 'ticket ' || t.id FROM tickets t
                    WHERE t.property = $3 AND right(regexp_replace(t.caller_phone, '[^0-9]', '', 'g'), 11) = right(regexp_replace($2, '[^0-9]', '', 'g'), 11))
                ORDER BY a.id
                """, [subject(id), resident.phone, resident.property]), as: AccessEntry.self)
        }
        guard let entries else { throw APIError.notFound("resident") }
        return try IntakeAPI.json(History(residentID: id, entries: entries))
    }
}
