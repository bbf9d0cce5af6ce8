import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Identity
import Postgres

/// Staff accounts for the tests, made the way `propdesk-admin create-staff` makes them (the same
/// ``StaffStore``; bcrypt at cost 4 to keep the suite fast) and signed in over HTTP like any
/// program: a bearer token from `POST /auth/login`.
struct TestAccount: Sendable {
    let login: String
    let name: String
    let password: String
    let secret: String?
    let roles: [StaffRole]

    static func create(_ db: PostgresClient, roles: [StaffRole], departments: [Department] = Department.allCases,
                       properties: [String], name: String? = nil) async throws -> TestAccount {
        let login = "\(roles[0].rawValue.replacingOccurrences(of: "_", with: "-"))-\(Servers.unique())"
        let password = "pw-\(Servers.unique())"
        let hash = try await Passwords.hash(password, cost: 4)
        let secret = roles.contains(where: AccessPolicy.needsSecondFactor) ? SecondFactor.newSecret() : nil
        let bound = roles.contains(where: AccessPolicy.departmentBound.contains)
        let new = StaffStore.NewStaff(login: login, name: name ?? "Test \(roles[0].rawValue)", roles: roles,
                                      departments: bound ? departments : [], properties: properties)
        try await db.withTransaction { try StaffStore.create(new, passwordHash: hash, totpSecret: secret, by: "integration-test", on: $0) }
        return TestAccount(login: login, name: new.name, password: password, secret: secret, roles: roles)
    }

    /// The sign-in body: login, password and, where the account has one, the current code.
    func credentials(kind: String = "token") -> [String: Any] {
        var body: [String: Any] = ["login": login, "password": password, "kind": kind]
        if let secret { body["code"] = SecondFactor.code(secret: secret) }
        return body
    }

    /// A bearer token from intake at `port`.
    func signIn(port: Int) async throws -> String {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/auth/login")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: credentials())
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200,
              let token = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String else {
            throw SetupError("sign-in as \(login) failed: \(String(decoding: data, as: UTF8.self))")
        }
        return token
    }
}

/// Tokens by role for one scenario, made on first use.
final class TokenCache: @unchecked Sendable {
    private let lock = NSLock()
    private var tokens: [String: String] = [:]
    func get(_ key: String) -> String? { lock.withLock { tokens[key] } }
    func set(_ key: String, _ token: String) { lock.withLock { tokens[key] = token } }
}
