import Desk
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The intake API as a department worker uses it: read a work order, take a step on it, signed in
/// with a bearer token (``signIn(baseURL:login:password:code:)``). Every step goes through intake,
/// so a worker is held to the same permissions, scope, transitions and validation as the desk.
public struct IntakeClient: Sendable {
    public let baseURL: URL
    let token: String

    public init(baseURL: URL, token: String) {
        self.baseURL = baseURL
        self.token = token
    }

    struct SignedIn: Decodable {
        let token: String
        let expiresAt: Date
        enum CodingKeys: String, CodingKey {
            case token
            case expiresAt = "expires_at"
        }
    }

    /// Signs in for a program's token (`POST /auth/login`, kind token); returns it and when it expires.
    public static func signIn(baseURL: URL, login: String, password: String, code: String?) async throws -> (token: String, expiresAt: Date) {
        var fields = ["login": login, "password": password, "kind": "token", "label": "propdesk-worker"]
        if let code { fields["code"] = code }
        let client = IntakeClient(baseURL: baseURL, token: "")
        let signed: SignedIn = try await client.send("POST", "/auth/login", body: try JSONSerialization.data(withJSONObject: fields))
        return (signed.token, signed.expiresAt)
    }

    public struct Me: Decodable, Sendable {
        public let staff: StaffIdentity
    }

    /// Who the token signs in.
    public func me() async throws -> StaffIdentity {
        let me: Me = try await send("GET", "/auth/me", body: nil)
        return me.staff
    }

    /// A refusal from intake: its status, machine-readable code and message.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let status: Int
        public let code: String
        public let message: String
        public var description: String { "\(message) (\(status) \(code))" }
    }

    public func workOrder(_ id: UUID) async throws -> WorkOrderView {
        try await send("GET", "/work-orders/\(id.uuidString.lowercased())", body: nil)
    }

    /// `POST /work-orders/{id}/{step}`; intake records the signed-in worker as the actor.
    @discardableResult
    public func step(_ action: WorkOrderAction, workOrder id: UUID, note: String? = nil, outcome: String? = nil,
                     reason: String? = nil, to: WorkQueue? = nil) async throws -> WorkOrderView {
        let form = StepForm(note: note, outcome: outcome, reason: reason, to: to?.name)
        return try await send("POST", "/work-orders/\(id.uuidString.lowercased())/\(action.pathSegment)", body: try DeskJSON.encoder.encode(form))
    }

    private struct RefusalBody: Decodable {
        let code: String
        let message: String
    }

    private func send<T: Decodable>(_ method: String, _ path: String, body: Data?) async throws -> T {
        var request = URLRequest(url: baseURL.appendingPathComponent(String(path.dropFirst())))
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 10
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if !token.isEmpty { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            let refusal = try? JSONDecoder().decode(RefusalBody.self, from: data)
            throw Refusal(status: status, code: refusal?.code ?? "http_\(status)",
                          message: refusal?.message ?? String(decoding: data.prefix(200), as: UTF8.self))
        }
        return try DeskJSON.decoder.decode(T.self, from: data)
    }
}
