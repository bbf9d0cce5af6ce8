import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Identity
import NIOCore
import Postgres

/// The request context of every PropDesk route: Hummingbird's, plus the address the request came
/// from (failed sign-ins are counted per address).
public struct PropDeskRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

extension PropDeskRequestContext {
    /// The route's `{id}`: a UUID, or 404 (an id that cannot exist reads like one that does not).
    public func pathID() throws -> UUID {
        guard let raw = parameters.get("id"), let id = UUID(uuidString: raw) else {
            throw APIError.notFound("nothing with that id; ids are UUIDs like 8f0c…")
        }
        return id
    }
}

/// Who is calling, signed in, and the role they act in for the route's permission.
public struct Caller: Sendable {
    public let identity: StaffIdentity
    public let role: StaffRole
    public let session: ResolvedSession
    public let address: String?

    public var login: String { identity.login }
    public var scope: AccessScope { identity.scope }
}

/// Signs requests in: a session cookie (browsers; its changes need `X-CSRF-Token`) or
/// `Authorization: Bearer <token>` (programs). No credentials, or ones that sign nobody in: 401
/// `not_signed_in`. Signed in without the route's permission: 403 `forbidden`. Every service's
/// routes but the health endpoints go through here.
public struct Authenticator: Sendable {
    public static let cookieName = "propdesk_session"
    public static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    let postgres: PostgresClient

    public init(postgres: PostgresClient) {
        self.postgres = postgres
    }

    public func caller(_ request: Request, _ context: PropDeskRequestContext, _ permission: Permission) async throws -> Caller {
        guard let (token, kind) = Self.presented(request) else { throw APIError.notSignedIn() }
        guard let session = try await postgres.withConnection({ try StaffStore.resolve(token: token, on: $0) }), session.kind == kind else {
            throw APIError.notSignedIn("the session or token is unknown, expired or ended: sign in again")
        }
        // A cookie is sent by the browser on its own; a change it authenticates must also carry
        // the session's CSRF token, which only the console's own pages can read.
        if kind == .session, request.method != .get, request.method != .head {
            guard let sent = request.headers[Self.csrfHeader], let expected = session.csrfToken, constantTimeEqual(sent, expected) else {
                throw APIError(status: .forbidden, code: .csrfTokenMissing,
                               message: "a change made with the session cookie needs its X-CSRF-Token header (from POST /auth/login or GET /auth/me)")
            }
        }
        guard let role = session.identity.acting(permission) else {
            let roles = session.identity.roles.map { $0.rawValue.replacingOccurrences(of: "_", with: " ") }.joined(separator: ", ")
            throw APIError(status: .forbidden, code: .forbidden, message: "\(roles) may not do this (\(permission.rawValue))")
        }
        return Caller(identity: session.identity, role: role, session: session, address: context.remoteAddress)
    }

    /// Whether a request carries credentials of any kind: then they are checked, even on a route
    /// that is open to the public (billing's public price list).
    public static func presentsCredentials(_ request: Request) -> Bool {
        request.headers[.authorization] != nil || request.headers[values: .cookie].contains { $0.contains(cookieName + "=") }
    }

    /// The token a request presents and how: the bearer header wins over a cookie.
    static func presented(_ request: Request) -> (String, ResolvedSession.Kind)? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
            return (String(parts[1]).trimmingCharacters(in: .whitespaces), .token)
        }
        var found: Set<String> = []
        for field in request.headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == cookieName { found.insert(String(kv[1])) }
            }
        }
        // Two different session cookies are nobody's: never guess which one is meant.
        return found.count == 1 ? (found.first!, .session) : nil
    }
}
