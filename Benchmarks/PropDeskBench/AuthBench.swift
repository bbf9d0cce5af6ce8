import ArgumentParser
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Histogram
import HummingbirdBcrypt
import Identity
import Postgres

/// A bench account at the bench property, its password hashed at `cost`, with a second factor
/// where its role needs one: its login, password and secret.
func benchAccount(_ db: PostgresClient, roles: [StaffRole], cost: Int, properties: [String] = [benchProperty]) async throws -> (login: String, password: String, secret: String?) {
    let login = "bench-\(UUID().uuidString.prefix(8).lowercased())"
    let password = "bench-password-\(UUID().uuidString.prefix(8))"
    let secret = roles.contains(where: AccessPolicy.needsSecondFactor) ? SecondFactor.newSecret() : nil
    let hash = try await Passwords.hash(password, cost: cost)
    try await db.withTransaction { c in
        try StaffStore.create(.init(login: login, name: "bench", roles: roles, departments: [.engineering], properties: properties),
                              passwordHash: hash, totpSecret: secret, by: "propdesk-bench", on: c)
    }
    return (login, password, secret)
}

/// A bearer token from intake for a new bench account.
func benchToken(_ db: PostgresClient, intake: String, roles: [StaffRole], cost: Int = 4, properties: [String] = [benchProperty]) async throws -> String {
    let account = try await benchAccount(db, roles: roles, cost: cost, properties: properties)
    var request = URLRequest(url: URL(string: "http://\(intake)/auth/login")!)
    request.httpMethod = "POST"
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    var body: [String: Any] = ["login": account.login, "password": account.password, "kind": "token"]
    if let secret = account.secret { body["code"] = SecondFactor.code(secret: secret) }
    request.httpBody = try JSONSerialization.data(withJSONObject: body)
    let (data, _) = try await URLSession.shared.data(for: request)
    guard let token = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String else {
        throw BenchError("bench sign-in failed: \(String(decoding: data, as: UTF8.self))")
    }
    return token
}

/// What signing in costs: logins per second through intake at the configured bcrypt cost,
/// against bcrypt itself on this machine; and what checking a token adds to a request, against a
/// bare round trip to PostgreSQL and an unauthenticated route in the same run.
struct AuthBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Logins per second at a bcrypt cost, and the time authorisation adds to a request.",
        discussion: "Needs intake running (deploy/local/run) and the owner's PROPDESK_DATABASE_URL (or _FILE).")

    @Option(help: "Intake's address.") var intake = "127.0.0.1:8080"
    @Option(help: "bcrypt cost of the bench account (the services' default is 12).") var cost = 12
    @Option(help: "Logins to time.") var logins = 40
    @Option(help: "Requests per side for the overhead, paced at --rate.") var requests = 2000
    @Option(name: .customLong("rate"), help: "Requests per second for the overhead.") var perSecond = 100

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let db = try await benchDatabase(pg, size: 2, property: true, logger: quietLogger())
        defer { db.shutdown() }
        let (host, port) = try DeskBench().parseAddress(intake)

        // bcrypt alone, on both cores: the ceiling for logins.
        let hash = Bcrypt.hash("bench-password", cost: UInt8(cost))
        let rounds = max(4, logins / 4)
        let clock = ContinuousClock()
        let bcryptTime = await clock.measure {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<2 { group.addTask { for _ in 0..<rounds { _ = Bcrypt.verify("bench-password", hash: hash) } } }
            }
        }
        let bcryptRate = rate(2 * rounds, bcryptTime)

        // Logins through intake, two at a time (each gets a token).
        let account = try await benchAccount(db, roles: [.technician], cost: cost)
        let body = try JSONSerialization.data(withJSONObject: ["login": account.login, "password": account.password, "kind": "token"])
        let url = URL(string: "http://\(intake)/auth/login")!
        let perWorker = logins / 2
        let loginTime = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        for _ in 0..<perWorker {
                            var request = URLRequest(url: url)
                            request.httpMethod = "POST"
                            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                            request.httpBody = body
                            let (_, response) = try await URLSession.shared.data(for: request)
                            guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("a bench login failed") }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let loginRate = rate(2 * perWorker, loginTime)
        print(String(format: "bcrypt cost %d on this machine, 2 threads: %.1f checks/s", cost, bcryptRate))
        print(String(format: "POST /auth/login through intake, 2 at a time: %.1f logins/s (%.2f of bcrypt alone)", loginRate, loginRate / bcryptRate))

        // What a token check costs: the session lookup the authenticator runs, against SELECT 1.
        let token = try await benchToken(db, intake: intake, roles: [.technician])
        var lookup = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        var bare = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        let pause = Duration.nanoseconds(1_000_000_000 / perSecond)
        for _ in 0..<requests {
            let a = clock.now
            _ = try await db.withConnection { try StaffStore.resolve(token: token, on: $0) }
            lookup.record(UInt64((clock.now - a).components.attoseconds / 1_000_000_000_000))
            let b = clock.now
            _ = try await db.query("SELECT 1")
            bare.record(UInt64((clock.now - b).components.attoseconds / 1_000_000_000_000))
            try await Task.sleep(for: pause)
        }
        // The same over HTTP: an authenticated route against the unauthenticated liveness check.
        let signed = try HTTPConnection(host: host, port: port, token: token)
        let open = try HTTPConnection(host: host, port: port, token: nil)
        var me = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        var live = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        for _ in 0..<requests {
            let a = clock.now
            guard try signed.get("/auth/me") == 200 else { throw BenchError("GET /auth/me failed") }
            me.record(UInt64((clock.now - a).components.attoseconds / 1_000_000_000_000))
            let b = clock.now
            guard try open.get("/health/live") == 200 else { throw BenchError("GET /health/live failed") }
            live.record(UInt64((clock.now - b).components.attoseconds / 1_000_000_000_000))
            try await Task.sleep(for: pause)
        }
        // Recorded in microseconds.
        func ms(_ h: Histogram<UInt64>, _ q: Double) -> Double { Double(h.valueAtPercentile(q)) / 1000 }
        print(String(format: "token check (StaffStore.resolve) at %d/s: p50 %.3f ms, p99 %.3f ms; SELECT 1: p50 %.3f ms (%.2f×)",
                     perSecond, ms(lookup, 50), ms(lookup, 99), ms(bare, 50), ms(lookup, 50) / max(0.001, ms(bare, 50))))
        print(String(format: "GET /auth/me (signed in) p50 %.3f ms, p99 %.3f ms; GET /health/live (open) p50 %.3f ms: signing in adds %.3f ms to p50",
                     ms(me, 50), ms(me, 99), ms(live, 50), ms(me, 50) - ms(live, 50)))
    }
}
