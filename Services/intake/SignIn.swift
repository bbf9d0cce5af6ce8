import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Logging
import Postgres
import ServiceKit

/// `POST /auth/login`, `POST /auth/logout`, `GET /auth/me`. A browser signs in for a session
/// cookie (HttpOnly, SameSite=Strict) and a CSRF token its changes must echo; a program asks for
/// `"kind": "token"` and gets a time-limited bearer token. Accounts whose roles need a second
/// factor give the authenticator app's `code` too. Failed sign-ins are counted per account and per
/// address; at the limit the next attempts get 429 with `Retry-After` until the lock-out ends.
/// Every sign-in, failure, lock-out and sign-out is an audit row.
struct SignIn: Sendable {
    let postgres: PostgresClient
    let settings: AuthSettings
    let logger: Logger
    /// Checked when the login is unknown, so that an unknown login takes as long as a wrong password.
    let decoy: Task<String, any Error>

    init(postgres: PostgresClient, settings: AuthSettings, logger: Logger) {
        self.postgres = postgres
        self.settings = settings
        self.logger = logger
        let cost = settings.bcryptCost
        decoy = Task { try await Passwords.hash(SessionToken.make(), cost: cost) }
    }

    /// The routes and what they need: nothing to sign in, a session for the rest.
    static let routes: [(method: HTTPRequest.Method, path: String, permission: Permission?)] = [
        (.post, "/auth/login", nil), (.post, "/auth/logout", .session), (.get, "/auth/me", .session),
    ]

    func register(on router: Router<PropDeskRequestContext>) {
        let authenticator = Authenticator(postgres: postgres)
        router.post("/auth/login") { request, context in try await self.login(request, context) }
        router.post("/auth/logout") { request, context in
            let caller = try await authenticator.caller(request, context, .session)
            try await postgres.withTransaction { c in
                try StaffStore.revoke(tokenHash: caller.session.tokenHash, on: c)
                try Audit.record(c, actor: caller.login, action: .logout, subject: "staff \(caller.login)", address: caller.address,
                                 detail: ["kind": caller.session.kind.rawValue])
            }
            var response = Response(status: .noContent)
            response.headers[.setCookie] = cookie("", maxAge: 0)
            return response
        }
        router.get("/auth/me") { request, context in
            let caller = try await authenticator.caller(request, context, .session)
            return try IntakeAPI.json(Session(staff: caller.identity, csrfToken: caller.session.csrfToken, expiresAt: caller.session.expiresAt,
                                              kind: caller.session.kind.rawValue, token: nil, secondFactor: caller.identity.needsSecondFactor))
        }
    }

    struct Form: Decodable, Sendable {
        var login: String?
        var password: String?
        var code: String?
        var kind: String?
        var label: String?
    }

    /// What a sign-in answers, and `GET /auth/me`.
    struct Session: Encodable {
        var staff: StaffIdentity
        var csrfToken: String?
        var expiresAt: Date
        var kind: String
        /// Only in the answer to a sign-in for a token: the secret, shown once.
        var token: String?
        var secondFactor: Bool

        enum CodingKeys: String, CodingKey {
            case staff, kind, token
            case csrfToken = "csrf_token"
            case expiresAt = "expires_at"
            case secondFactor = "second_factor"
        }
    }

    func login(_ request: Request, _ context: PropDeskRequestContext) async throws -> Response {
        let form = try await IntakeAPI.decodeBody(Form.self, request, context)
        var check = FieldCheck()
        let (login, password, code) = Self.credentials(login: form.login, password: form.password, code: form.code, &check)
        let label = check.text(form.label, "label", required: false, max: 64)
        let kind = ResolvedSession.Kind(rawValue: form.kind ?? "session")
        if kind == nil { check.add(.init(field: "kind", code: .unknownValue, message: "kind is session (a browser cookie) or token (a program's)")) }
        guard let login, let password, let kind, check.failure == nil else { throw APIError.validation(check.failure!) }

        let address = context.remoteAddress
        let identity = try await confirm(login: login, password: password, code: code, address: address)
        let lifetime = kind == .session ? settings.sessionLifetime : settings.tokenLifetime
        let opened = try await postgres.withTransaction { c in
            try LoginThrottle.succeeded(login: login, on: c)
            let opened = try StaffStore.open(kind, for: identity.id, lifetime: lifetime, address: address, label: label, on: c)
            try Audit.record(c, actor: login, action: kind == .session ? .login : .tokenIssued, subject: "staff \(login)", address: address,
                             detail: ["kind": kind.rawValue] .merging(label.map { ["label": $0] } ?? [:]) { a, _ in a })
            return opened
        }
        logger.info("signed in", metadata: ["login": "\(login)", "kind": "\(kind.rawValue)"])
        var response = try IntakeAPI.json(Session(staff: identity, csrfToken: opened.csrfToken, expiresAt: opened.expiresAt, kind: kind.rawValue,
                                                  token: kind == .token ? opened.token : nil, secondFactor: identity.needsSecondFactor))
        if kind == .session {
            response.headers[.setCookie] = cookie(opened.token, maxAge: Int(lifetime.components.seconds))
        }
        return response
    }

    /// A login, password and code as a form gives them, checked for shape: a password is taken
    /// as typed (not trimmed) and never echoed in a problem.
    static func credentials(login: String?, password: String?, code: String?, _ check: inout FieldCheck) -> (String?, String?, String?) {
        let login = check.text(login, "login", required: true, max: 64, what: "your sign-in name")
        var password = password
        if password?.isEmpty ?? true {
            check.add(.init(field: "password", code: .required, message: "password is required"))
        } else if let p = password, p.utf8.count > Passwords.maximumLength || FieldCheck.controlCharacter(in: p) != nil {
            check.add(.init(field: "password", code: .invalidFormat, message: "a password has at most \(Passwords.maximumLength) bytes and no control characters"))
            password = nil
        }
        return (login, password, check.text(code, "code", required: false, max: 6))
    }

    /// The account these credentials sign in, checked as a sign-in checks them: the lock-out
    /// first, the password (as long for an unknown login), the second factor where the roles need
    /// one; a failure is counted and on the record. A sign-in uses it, and so does a countersignature
    /// given on someone else's screen (a handover's incoming shift).
    func confirm(login: String, password: String, code: String?, address: String?) async throws -> StaffIdentity {
        let keys = LoginThrottle.keys(login: login, address: address)
        if let until = try await postgres.withConnection({ try LoginThrottle.lockedUntil(keys, on: $0) }) {
            throw Self.lockedOut(until: until)
        }
        let account = try await postgres.withConnection { try StaffStore.account(login: login, on: $0) }
        let hash: String
        if let account { hash = account.passwordHash } else { hash = try await decoy.value }
        let passwordGood = try await Passwords.verify(password, hash: hash)
        guard let account, account.active, passwordGood else {
            throw try await failed(login: login, keys: keys, address: address, why: account == nil ? "unknown login" : account!.active ? "wrong password" : "account disabled")
        }
        if account.identity.needsSecondFactor {
            guard let secret = account.totpSecret else {
                throw APIError(status: .unauthorized, code: .secondFactorRequired,
                               message: "this account's roles need a second factor and it has none yet: ask an administrator to enrol it (propdesk-admin enrol-second-factor)")
            }
            guard let code else {
                throw APIError(status: .unauthorized, code: .secondFactorRequired,
                               message: "give the 6-digit code from your authenticator app as code",
                               problems: [Problem(field: "code", code: .secondFactorRequired, message: "the authenticator app's code is required")])
            }
            guard SecondFactor.verify(code, secret: secret) else {
                throw try await failed(login: login, keys: keys, address: address, why: "wrong second-factor code")
            }
        }
        return account.identity
    }

    func cookie(_ value: String, maxAge: Int) -> String {
        "\(Authenticator.cookieName)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (settings.secureCookie ? "; Secure" : "")
    }

    /// Counts the failure against the account and the address and writes its audit row (and the
    /// lock-out's, when this failure sets one). The caller is told only that the sign-in failed.
    private func failed(login: String, keys: [String], address: String?, why: String) async throws -> APIError {
        let limits = settings.loginLimits
        let locked = try await postgres.withTransaction { c -> Date? in
            try Audit.record(c, actor: login, action: .loginFailed, subject: "staff \(login)", reason: why, address: address)
            let locked = try LoginThrottle.fail(keys, limits: limits, on: c)
            if let locked {
                try Audit.record(c, actor: login, action: .lockedOut, subject: "staff \(login)", reason: "\(limits.failures) failed sign-ins",
                                 address: address, detail: ["until": ISO8601DateFormatter().string(from: locked)])
            }
            return locked
        }
        logger.notice("sign-in failed", metadata: ["login": "\(login.prefix(64))", "locked": "\(locked != nil)"])
        if let locked { return Self.lockedOut(until: locked) }
        return APIError(status: .unauthorized, code: .invalidCredentials, message: "the login, password or code is not right")
    }

    static func lockedOut(until: Date) -> APIError {
        let seconds = max(1, Int(until.timeIntervalSinceNow.rounded(.up)))
        var error = APIError(status: .tooManyRequests, code: .tooManyAttempts,
                             message: "too many failed sign-ins: try again in \(seconds) s, or ask an administrator")
        error.headers[.retryAfter] = "\(seconds)"
        return error
    }
}
