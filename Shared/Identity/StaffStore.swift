import Domain
import Foundation
import Postgres

/// A staff account as stored: who they are, and what signs them in.
public struct StaffAccount: Sendable {
    public var identity: StaffIdentity
    public var passwordHash: String
    public var totpSecret: String?
    public var active: Bool
}

/// What a valid session or token resolves to.
public struct ResolvedSession: Sendable {
    public enum Kind: String, Sendable { case session, token }
    public var identity: StaffIdentity
    public var kind: Kind
    /// For sessions: the token a cookie-authenticated change must echo in `X-CSRF-Token`.
    public var csrfToken: String?
    public var expiresAt: Date
    public var tokenHash: String
}

/// Accounts, sessions and tokens in PostgreSQL (tables `staff`, `staff_sessions`).
public enum StaffStore {
    public struct NewStaff: Sendable {
        public var login: String
        public var name: String
        public var roles: [StaffRole]
        public var departments: [Department]
        public var properties: [String]

        public init(login: String, name: String, roles: [StaffRole], departments: [Department], properties: [String]) {
            self.login = login
            self.name = name
            self.roles = roles
            self.departments = departments
            self.properties = properties
        }

        /// Every problem with the account, at once.
        public var problems: [String] {
            var p: [String] = []
            if !StaffLogin.isValid(login) { p.append("login: 2–40 of a–z, 0–9, . _ -, starting with a letter or digit") }
            if name.isEmpty || name.count > 64 || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                p.append("name: 1–64 characters, no control characters")
            }
            if roles.isEmpty { p.append("roles: at least one") }
            if properties.isEmpty { p.append("properties: at least one property code") }
            if roles.contains(where: AccessPolicy.departmentBound.contains), departments.isEmpty {
                p.append("departments: \(roles.filter(AccessPolicy.departmentBound.contains).map(\.rawValue).joined(separator: ", ")) work for a department; name it")
            }
            return p
        }
    }

    /// Who someone is, from `staff s`: the columns ``identity(_:)`` reads, in its order.
    static let identityColumns = "s.id, s.login, s.name, array_to_json(s.roles)::text, array_to_json(s.departments)::text, array_to_json(s.properties)::text"

    static func identity(_ row: PostgresRow) throws -> StaffIdentity {
        func list(_ column: Int) throws -> [String] { try PostgresJSON(postgresText: try row.decode(column, as: String.self)).decode([String].self) }
        return StaffIdentity(id: try row.decode(0), login: try row.decode(1), name: try row.decode(2),
                             roles: try list(3).compactMap(StaffRole.init(rawValue:)),
                             departments: try list(4).compactMap(Department.init(rawValue:)), properties: try list(5))
    }

    public static func account(login: String, on c: PostgresConnection) throws -> StaffAccount? {
        guard let row = try c.query("SELECT \(identityColumns), s.password_hash, s.totp_secret, s.active FROM staff s WHERE s.login = $1",
                                    [login]).first else {
            return nil
        }
        return StaffAccount(identity: try identity(row), passwordHash: try row.decode(6), totpSecret: try row.decode(7, as: String?.self),
                            active: try row.decode(8))
    }

    /// Creates an account and its audit row; the login must be new.
    @discardableResult
    public static func create(_ new: NewStaff, passwordHash: String, totpSecret: String?, by actor: String, on c: PostgresConnection) throws -> StaffIdentity {
        let id = UUID()
        try c.execute("""
            INSERT INTO staff (id, login, name, roles, departments, properties, password_hash, totp_secret)
            VALUES ($1, $2, $3, $4::text[], $5::text[], $6::text[], $7, $8)
            """, [id, new.login, new.name, PostgresArray(new.roles.map(\.rawValue)), PostgresArray(new.departments.map(\.rawValue)),
                  PostgresArray(new.properties), passwordHash, totpSecret])
        try Audit.record(c, actor: actor, action: .staffCreated, subject: "staff \(new.login)",
                         detail: ["roles": new.roles.map(\.rawValue).joined(separator: ","), "properties": new.properties.joined(separator: ","),
                                  "departments": new.departments.map(\.rawValue).joined(separator: ",")])
        return StaffIdentity(id: id, login: new.login, name: new.name, roles: new.roles, departments: new.departments, properties: new.properties)
    }

    /// Changes an account's roles, departments or properties, or disables it; an audit row either
    /// way. Disabling ends its sessions and tokens. False if there is no such login.
    public static func update(login: String, roles: [StaffRole]?, departments: [Department]?, properties: [String]?, active: Bool?,
                              by actor: String, on c: PostgresConnection) throws -> Bool {
        let rows = try c.query("""
            UPDATE staff SET roles = coalesce($2::text[], roles), departments = coalesce($3::text[], departments),
                   properties = coalesce($4::text[], properties), active = coalesce($5, active), updated_at = now()
            WHERE login = $1 RETURNING id
            """, [login, roles.map { PostgresArray($0.map(\.rawValue)) }, departments.map { PostgresArray($0.map(\.rawValue)) },
                  properties.map(PostgresArray.init), active])
        guard let row = rows.first else { return false }
        let id: UUID = try row.decode(0)
        var detail: [String: String] = [:]
        if let roles { detail["roles"] = roles.map(\.rawValue).joined(separator: ",") }
        if let departments { detail["departments"] = departments.map(\.rawValue).joined(separator: ",") }
        if let properties { detail["properties"] = properties.joined(separator: ",") }
        if let active { detail["active"] = "\(active)" }
        try Audit.record(c, actor: actor, action: active == false ? .staffDisabled : .rolesChanged, subject: "staff \(login)", detail: detail)
        if active == false {
            try c.execute("UPDATE staff_sessions SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL", [id])
        }
        return true
    }

    /// Opens a session (with its CSRF token) or issues a token; returns the secret, which is not
    /// kept.
    public static func open(_ kind: ResolvedSession.Kind, for staff: UUID, lifetime: Duration, address: String?, label: String?,
                            on c: PostgresConnection) throws -> (token: String, csrfToken: String?, expiresAt: Date) {
        let token = SessionToken.make()
        let csrf = kind == .session ? SessionToken.make() : nil
        let row = try c.query("""
            INSERT INTO staff_sessions (token_hash, staff_id, kind, csrf_token, expires_at, address, label)
            VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6, $7) RETURNING expires_at
            """, [SessionToken.hash(token), staff, kind.rawValue, csrf, Int(lifetime.components.seconds), address, label])[0]
        return (token, csrf, try row.decode(0))
    }

    /// The staff member a session or token belongs to, if it is known, unexpired, not revoked
    /// and their account is active.
    public static func resolve(token: String, on c: PostgresConnection) throws -> ResolvedSession? {
        guard SessionToken.looksValid(token) else { return nil }
        let hash = SessionToken.hash(token)
        guard let row = try c.query("""
            SELECT \(identityColumns), t.kind, t.csrf_token, t.expires_at
            FROM staff_sessions t JOIN staff s ON s.id = t.staff_id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND s.active
            """, [hash]).first else { return nil }
        return ResolvedSession(identity: try identity(row), kind: ResolvedSession.Kind(rawValue: try row.decode(6)) ?? .token,
                               csrfToken: try row.decode(7, as: String?.self), expiresAt: try row.decode(8), tokenHash: hash)
    }

    /// Whether the session or token with this hash still signs its holder in (a long-lived
    /// stream checks it now and then: a sign-out or a disabled account ends it).
    public static func stillValid(tokenHash: String, on c: PostgresConnection) throws -> Bool {
        try !c.query("""
            SELECT 1 FROM staff_sessions t JOIN staff s ON s.id = t.staff_id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND s.active
            """, [tokenHash]).isEmpty
    }

    public static func revoke(tokenHash: String, on c: PostgresConnection) throws {
        try c.execute("UPDATE staff_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL", [tokenHash])
    }
}

/// The audit log (table `audit_log`, append-only).
public enum Audit {
    public enum Action: String, Sendable, CaseIterable {
        case login
        case loginFailed = "login_failed"
        case lockedOut = "locked_out"
        case logout
        case tokenIssued = "token_issued"
        case staffCreated = "staff_created"
        case rolesChanged = "roles_changed"
        case staffDisabled = "staff_disabled"
        /// A resident's contact shown unmasked on a ticket or in a caller lookup.
        case contactRead = "contact_read"
        /// A resident's file read.
        case fileRead = "file_read"
        case fileRequested = "file_requested"
        case fileApproved = "file_approved"
        case fileRefused = "file_refused"
        /// A read refused for want of an approved request.
        case fileReadRefused = "file_read_refused"
        /// A shift handover signed by its outgoing or incoming shift (P2).
        case handoverSigned = "handover_signed"
    }

    public static func record(_ c: PostgresConnection, actor: String, action: Action, subject: String, reason: String? = nil,
                              address: String? = nil, detail: [String: String] = [:]) throws {
        try c.executeLater("INSERT INTO audit_log (actor, action, subject, reason, address, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                           [actor, action.rawValue, subject, reason, address, detail.isEmpty ? nil : try PostgresJSON(encoding: detail)])
    }
}

/// Failed sign-ins, counted per account and per address over a window (table `login_throttle`).
/// At the limit the key is locked for the lock-out time; a good sign-in clears its account's count.
public enum LoginThrottle {
    public struct Limits: Sendable {
        public var failures: Int
        public var lockout: Duration
        /// An address may fail this many times the account limit (an office shares one address).
        public var addressFactor: Int = 4
        public init(failures: Int, lockout: Duration) {
            self.failures = failures
            self.lockout = lockout
        }
    }

    public static func keys(login: String, address: String?) -> [String] {
        ["login:\(login.prefix(64))"] + (address.map { ["address:\($0)"] } ?? [])
    }

    /// When the latest lock on any of the keys ends, if one is in force.
    public static func lockedUntil(_ keys: [String], on c: PostgresConnection) throws -> Date? {
        try c.query("SELECT max(locked_until) FROM login_throttle WHERE key = ANY($1::text[]) AND locked_until > now()",
                    [PostgresArray(keys)])[0].decode(0, as: Date?.self)
    }

    /// Counts a failure against each key; returns the lock's end if this failure set one.
    public static func fail(_ keys: [String], limits: Limits, on c: PostgresConnection) throws -> Date? {
        var locked: Date?
        for key in keys {
            let limit = key.hasPrefix("address:") ? limits.failures * limits.addressFactor : limits.failures
            let row = try c.query("""
                INSERT INTO login_throttle AS l (key, failures, window_start) VALUES ($1, 1, now())
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN l.window_start < now() - make_interval(secs => $2) THEN 1 ELSE l.failures + 1 END,
                    window_start = CASE WHEN l.window_start < now() - make_interval(secs => $2) THEN now() ELSE l.window_start END
                RETURNING failures
                """, [key, Int(limits.lockout.components.seconds)])[0]
            let failures: Int = try row.decode(0)
            if failures >= limit {
                let until: Date = try c.query("""
                    UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2), failures = 0, window_start = now()
                    WHERE key = $1 RETURNING locked_until
                    """, [key, Int(limits.lockout.components.seconds)])[0].decode(0)
                locked = max(locked ?? until, until)
            }
        }
        return locked
    }

    public static func succeeded(login: String, on c: PostgresConnection) throws {
        try c.execute("DELETE FROM login_throttle WHERE key = $1", [keys(login: login, address: nil)[0]])
    }
}
