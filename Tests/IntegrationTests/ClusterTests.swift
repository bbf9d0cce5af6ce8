import AMQP
import Contracts
import Desk
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Messaging
import Postgres
import Schema
import Testing

/// The cluster stack `deploy/local/test` starts beside the test stack (`deploy/local/stack start
/// --cluster`: three RabbitMQ nodes, a PostgreSQL primary and its synchronous standby).
enum ClusterStack {
    static func variable(_ name: String) throws -> String { try Servers.required(name) }

    /// Runs `deploy/local/stack <arguments>` against the cluster stack; its output.
    @discardableResult
    static func stack(_ arguments: String...) async throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["PROPDESK_STACK_DIR"] = try variable("PROPDESK_CLUSTER_STACK_DIR")
        env["PROPDESK_STACK_PORT_BASE"] = try variable("PROPDESK_CLUSTER_PORT_BASE")
        let script = Servers.repositoryRoot.appendingPathComponent("deploy/local/stack").path
        let result = try await Subprocess.run(script, arguments, environment: env)
        guard result.status == 0 else {
            throw SetupError("cluster stack \(arguments.joined(separator: " ")) exited \(result.status):\n\(result.output)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The environment replica `replica` of a service runs with against the cluster: its own
    /// users' multi-host URLs.
    static func environment(service: String, port: Int, replica: Int) throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for name in ["PROPDESK_DATABASE_URL", "PROPDESK_AMQP_URL", "PROPDESK_REPORTS_DATABASE_URL"] {
            env[name] = nil
            env[name + "_FILE"] = nil
        }
        let secrets = try variable("PROPDESK_CLUSTER_STACK_DIR") + "/secrets"
        env["PROPDESK_AMQP_URL_FILE"] = "\(secrets)/\(service)-amqp.url"
        env["PROPDESK_DATABASE_URL_FILE"] = "\(secrets)/\(service)-database.url"
        env["PROPDESK_REPORTS_DATABASE_URL_FILE"] = "\(secrets)/\(service)-reports.url"
        env["PROPDESK_LOG_LEVEL"] = "warning"
        env["PROPDESK_HTTP_PORT"] = "\(port)"
        env["PROPDESK_INSTANCE"] = "\(service)-cluster-test-\(replica)"
        return env
    }
}

/// The five services against the cluster (`replicas` of each, replica R of service I on port
/// basePort + I + 10×R), a property with an engineer on duty, and a desk that files repairs at a
/// steady rate while a test breaks a node or a replica.
final class ClusterScenario: @unchecked Sendable {
    static let basePort = 28_280
    struct Replica {
        let service: String
        let index: Int
        let port: Int
        let environment: [String: String]
    }
    let replicas: [Replica]
    private let lock = NSLock()
    private var processes: [Int: Subprocess] = [:]
    private(set) var db: PostgresClient
    let amqp: AMQPConnection
    let property: String
    let assigned: String
    private(set) var token = ""
    /// Where each notification replica writes the messages it sends (the console channel).
    let consoleFiles: [String]

    init(replicas count: Int = 1, rules: [ClockRule] = []) async throws {
        let configuration = try PostgresConfiguration(url: try ClusterStack.variable("PROPDESK_CLUSTER_DATABASE_URL"))
        db = PostgresClient(configuration: configuration, size: 4, logger: Servers.logger)
        try await Migrator.migrate(db, migrations: try Migration.bundled(), logger: Servers.logger)
        property = try await Servers.newProperty(db, prefix: "c")
        try await db.execute("""
            INSERT INTO duty_roster (property, role, department, person, contacts)
            VALUES ($1, 'technician', 'engineering', '值班工程师 老周', '[{"channel": "console", "address": "eng"}]')
            """, [property])
        for rule in rules {
            try await db.execute("INSERT INTO sla_rules (property, id, rule) VALUES ($1, $2, $3::jsonb)",
                                 [property, rule.id, try PostgresJSON(encoding: rule, encoder: DeskJSON.encoder)])
        }
        var amqpConfiguration = try AMQPConfiguration(url: try ClusterStack.variable("PROPDESK_CLUSTER_AMQP_URL"), connectionName: "cluster-test")
        amqpConfiguration.heartbeatSeconds = 5
        amqp = AMQPConnection(configuration: amqpConfiguration, logger: Servers.logger)
        try await amqp.connect()
        assigned = try await Servers.scratchQueue(amqp, routingKey: "workorder.*.assigned.\(property)")
        let tag = Servers.unique()
        consoleFiles = (0..<count).map { FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-console-\(tag)-\($0).jsonl").path }
        var made: [Replica] = []
        for r in 0..<count {
            for (i, name) in RealServers.ServiceProcessTests.services.enumerated() {
                let port = Self.basePort + i + 10 * r
                var env = try ClusterStack.environment(service: name, port: port, replica: r)
                if name == "notification" { env["PROPDESK_CONSOLE_FILE"] = consoleFiles[r] }
                made.append(Replica(service: name, index: r, port: port, environment: env))
            }
        }
        replicas = made
        for k in made.indices { try start(k) }
        for k in made.indices { try await waitReady(k) }
        let account = try await TestAccount.create(db, roles: [.operator_], properties: [property])
        token = try await account.signIn(port: Self.basePort)
    }

    /// Starts replica `k` (again), in the background: `waitReady` waits for it.
    func start(_ k: Int) throws {
        let process = try Subprocess(try RealServers.ServiceProcessTests.binary(replicas[k].service), ["serve"], environment: replicas[k].environment)
        lock.withLock { processes[k] = process }
    }

    func process(_ k: Int) -> Subprocess { lock.withLock { processes[k]! } }

    func waitReady(_ k: Int) async throws {
        guard try await RealServers.ServiceProcessTests.waitReady(port: replicas[k].port, timeout: .seconds(60)) else {
            throw SetupError("\(replicas[k].service) replica \(replicas[k].index) did not become ready against the cluster:\n\(process(k).output)")
        }
    }

    /// The test's own database sessions anew, after a failover: the old ones were to the server
    /// that went away (each would fail once before reconnecting).
    func reconnectDatabase() throws {
        db.shutdown()
        db = PostgresClient(configuration: try PostgresConfiguration(url: try ClusterStack.variable("PROPDESK_CLUSTER_DATABASE_URL")),
                            size: 4, logger: Servers.logger)
    }

    /// kill -9 replica `k`, as a crash would; returns once it has gone.
    func kill9(_ k: Int) async throws {
        let p = process(k)
        p.signal(SIGKILL)
        _ = try await p.wait(timeout: .seconds(10))
    }

    /// The ports of intake's replicas, the desk's way in (a load balancer's list).
    var intakePorts: [Int] { replicas.filter { $0.service == "intake" }.map(\.port) }

    func stop() async {
        let all = lock.withLock { Array(processes.values) }
        for p in all { p.signal(SIGTERM) }
        for p in all { _ = try? await p.wait(timeout: .seconds(20)) }
        await amqp.close()
        db.shutdown()
        for file in consoleFiles { try? FileManager.default.removeItem(atPath: file) }
    }

    static func run(replicas: Int = 1, rules: [ClockRule] = [], _ body: (ClusterScenario) async throws -> Void) async throws {
        let s = try await ClusterScenario(replicas: replicas, rules: rules)
        do { try await body(s) } catch {
            await s.stop()
            throw error
        }
        await s.stop()
    }

    /// What the desk saw of one call: when it was first tried, when it was taken, and every
    /// refusal on the way (status and body).
    struct Call: Sendable {
        var ticket: String?
        var firstTry: ContinuousClock.Instant
        var taken: ContinuousClock.Instant?
        var refusals: [(status: Int, body: String)] = []
        var pause: Duration? { taken.map { $0 - firstTry } }
    }

    /// Files one repair, as the desk does when a call fails: the same request with the same
    /// Idempotency-Key until it is taken (or `giveUp` passes).
    func fileUntilTaken(_ n: Int, giveUp: Duration = .seconds(90)) async -> Call {
        var call = Call(firstTry: .now)
        let key = "cluster-\(property)-\(n)"
        let body = try! JSONSerialization.data(withJSONObject: [
            "property": property, "kind": "repair", "category": "plumbing", "caller_phone": "13812345678",
            "building": "3号楼", "unit": "2单元1202", "content": "厨房水管漏水 \(n)", "taken_by": "Li Mei",
        ])
        let ports = intakePorts
        var attempt = n
        while ContinuousClock.now - call.firstTry < giveUp {
            // Each try at the next intake replica, as a load balancer would send it.
            let port = ports[attempt % ports.count]
            attempt += 1
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/tickets")!)
            request.httpMethod = "POST"
            request.httpBody = body
            request.httpShouldHandleCookies = false
            request.timeoutInterval = 30
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue(key, forHTTPHeaderField: "Idempotency-Key")
            do {
                let (data, response) = try await DeskScenario.session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if status == 201 || status == 200 {
                    call.ticket = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["id"] as? String
                    call.taken = .now
                    return call
                }
                call.refusals.append((status, String(decoding: data, as: UTF8.self)))
            } catch {
                call.refusals.append((0, "\(error)"))
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        return call
    }

    /// Files `count` repairs, `perSecond` a second, running `during` alongside; every call's record.
    func fileSteadily(count: Int, perSecond: Int, during: @escaping @Sendable () async throws -> Void) async throws -> [Call] {
        try await withThrowingTaskGroup(of: Call?.self) { group in
            group.addTask { try await during(); return nil }
            let start = ContinuousClock.now
            for n in 0..<count {
                try await Task.sleep(until: start + .milliseconds(n * 1000 / perSecond))
                group.addTask { await self.fileUntilTaken(n) }
            }
            var calls: [Call] = []
            for try await call in group { if let call { calls.append(call) } }
            return calls
        }
    }

    /// The ledger after an outage: every call taken once, and everything that follows from a
    /// repair (its work order, its deadlines, its delivery to the engineer on duty, its event on
    /// the department's route) there exactly once; the outbox drained.
    func checkLedger(_ calls: [Call], pauseLimit: Duration) async throws {
        let tickets = calls.compactMap(\.ticket)
        #expect(tickets.count == calls.count, "calls not taken: \(calls.filter { $0.ticket == nil }.map { $0.refusals.last.map { "\($0.status) \($0.body)" } ?? "" })")
        #expect(Set(tickets).count == tickets.count, "a call was taken as two tickets")
        for refusal in calls.flatMap(\.refusals) where refusal.status >= 500 {
            let json = (try? JSONSerialization.jsonObject(with: Data(refusal.body.utf8))) as? [String: Any]
            #expect(json?["code"] is String, "a \(refusal.status) without a JSON body and code: \(refusal.body)")
        }
        let longest = calls.compactMap(\.pause).max() ?? .zero
        let refusals = Dictionary(grouping: calls.flatMap(\.refusals), by: \.status).mapValues(\.count)
        print("ledger: \(calls.count) calls, longest until taken \(longest), refusals by status \(refusals.sorted { $0.key < $1.key })")
        #expect(longest < pauseLimit, "the desk waited \(longest) for a call to be taken")
        let stored: Int = try await db.query("SELECT count(*) FROM tickets WHERE property = $1", [property])[0].decode(0)
        #expect(stored == tickets.count, "tickets stored: \(stored), taken: \(tickets.count)")

        try await eventually("the outbox drained", timeout: .seconds(90)) {
            try await db.query("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0].decode(0, as: Int.self) == 0
        }
        // One work order each, planted once; the same deadlines each; one delivery each.
        let orders = try await eventually("a work order for every ticket", timeout: .seconds(60)) { () -> [Int]? in
            let rows = try await db.query("""
                SELECT count(w.id) FROM tickets t LEFT JOIN work_orders w ON w.ticket_id = t.id WHERE t.property = $1 GROUP BY t.id
                """, [property])
            let counts = try rows.map { try $0.decode(0, as: Int.self) }
            return counts.count == tickets.count && counts.allSatisfy({ $0 >= 1 }) ? counts : nil
        }
        #expect(Set(orders) == [1], "work orders per ticket: \(Dictionary(grouping: orders, by: { $0 }).mapValues(\.count))")
        let ladders = try await eventually("deadlines for every ticket", timeout: .seconds(60)) { () -> [Int]? in
            let rows = try await db.query("""
                SELECT count(d.id) FROM tickets t LEFT JOIN deadlines d ON d.ticket_id = t.id WHERE t.property = $1 GROUP BY t.id
                """, [property])
            let counts = try rows.map { try $0.decode(0, as: Int.self) }
            return counts.count == tickets.count && counts.allSatisfy({ $0 >= 1 }) ? counts : nil
        }
        #expect(Set(ladders).count == 1, "deadlines per ticket differ: \(Dictionary(grouping: ladders, by: { $0 }).mapValues(\.count))")
        let doubled: Int = try await db.query("""
            SELECT count(*) FROM (SELECT 1 FROM deadlines WHERE property = $1 GROUP BY ticket_id, round, rule_id, step HAVING count(*) > 1) d
            """, [property])[0].decode(0)
        #expect(doubled == 0, "deadlines planted twice: \(doubled)")
        // Every deadline already due has fired, once: one breach event in the outbox each.
        try await eventually("every deadline due by now fired", timeout: .seconds(90)) {
            try await db.query("SELECT count(*) FROM deadlines WHERE property = $1 AND state = 'pending' AND due_at < now() - interval '1 second'",
                               [property])[0].decode(0, as: Int.self) == 0
        }
        let fired: Int = try await db.query("SELECT count(*) FROM deadlines WHERE property = $1 AND state = 'fired'", [property])[0].decode(0)
        let breachEvents: Int = try await db.query("""
            SELECT count(*) FROM outbox WHERE envelope->>'property' = $1 AND envelope->>'type' LIKE 'escalation.%.breached'
            """, [property])[0].decode(0)
        #expect(breachEvents == fired, "deadlines fired: \(fired), breach events written: \(breachEvents)")
        // The same deliveries for every ticket once the events have been handled, none left to send.
        var last: [Int] = []
        do {
            last = try await eventually("the same deliveries for every ticket, all settled", timeout: .seconds(90)) { () -> [Int]? in
                let rows = try await db.query("""
                    SELECT count(d.id), count(d.id) FILTER (WHERE d.state IN ('pending', 'sending'))
                    FROM tickets t LEFT JOIN deliveries d ON d.ticket_id = t.id WHERE t.property = $1 GROUP BY t.id
                    """, [property])
                last = try rows.map { try $0.decode(0, as: Int.self) }
                let open = try rows.reduce(0) { $0 + (try $1.decode(1, as: Int.self)) }
                return last.count == tickets.count && Set(last).count == 1 && last[0] >= 1 && open == 0 ? last : nil
            }
        } catch {
            Issue.record("deliveries per ticket: \(Dictionary(grouping: last, by: { $0 }).mapValues(\.count)): \(error)")
        }
        // What the engineer on duty was sent: no message twice.
        let sent = consoleFiles.flatMap { file in
            ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["delivery"] as? String
            }
        }
        let twice = Dictionary(grouping: sent, by: { $0 }).filter { $0.value.count > 1 }.keys
        #expect(twice.isEmpty, "messages sent twice: \(twice.sorted().prefix(5))")
        // Each delivery marked sent was written; one written but not marked is one whose sender
        // was killed between the two, which its lease turns into `unknown`, never sent again.
        let states = Dictionary(uniqueKeysWithValues: try await db.query("SELECT dedupe_key, state FROM deliveries WHERE property = $1", [property])
            .map { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) })
        let written = Set(sent)
        let sentNotWritten = states.filter { $0.value == "sent" && !written.contains($0.key) }.keys
        #expect(sentNotWritten.isEmpty, "deliveries marked sent that no channel wrote: \(sentNotWritten.sorted().prefix(5))")
        let writtenNotSent = written.filter { states[$0] != "sent" }
        #expect(writtenNotSent.allSatisfy { states[$0] == "unknown" }, "written but neither sent nor unknown: \(writtenNotSent.map { "\($0) \(states[$0] ?? "no row")" }.prefix(5))")
        // Every assignment event reached its route; a redelivery may repeat one, a loss may not.
        let arrived = try await Servers.collect(amqp, queue: assigned, idle: .seconds(10), timeout: .seconds(90),
                                                until: { Set($0.map(\.properties.messageID)).count >= tickets.count })
        let ticketsSeen = Set(try arrived.map { try EventEnvelope.decode($0.body).decodePayload(WorkOrderEventPayload.self).ticketID.uuidString.lowercased() })
        #expect(ticketsSeen == Set(tickets.map { $0.lowercased() }), "tickets whose assignment never arrived: \(Set(tickets.map { $0.lowercased() }).subtracting(ticketsSeen).count)")
    }
}

extension RealServers {
    @Suite("On a cluster: a node of either engine dies and nothing is lost or done twice")
    struct ClusterTests {
        @Test func whenTheBrokerNodeLeadingTheQueuesIsKilledTheDeskCarriesOnAndEveryRepairIsDispatchedOnce() async throws {
            try await ClusterScenario.run { s in
                let killed = Recorder<String>()
                let calls = try await s.fileSteadily(count: 150, perSecond: 10) {
                    try await Task.sleep(for: .seconds(4))
                    // The node that leads dispatch's queue: the one whose loss moves the most.
                    let leader = try await ClusterStack.stack("rabbitmq-leader", PropDeskTopology.queueName(service: "dispatch"))
                    try await ClusterStack.stack("kill-rabbitmq-node", leader)
                    killed.append(leader)
                    try await Task.sleep(for: .seconds(5))
                    try await ClusterStack.stack("start-rabbitmq-node", leader)
                }
                #expect(killed.all.count == 1)
                // The services were connected to the node that died (the leader is where the
                // queues were declared) and went on through another.
                let lost = s.replicas.indices.filter { s.process($0).output.contains("AMQP connection lost") }.map { s.replicas[$0].service }
                print("broker node \(killed.all) killed; connections lost and recovered elsewhere: \(lost)")
                #expect(!lost.isEmpty, "no service lost its broker connection: the node killed was not the one they used")
                try await s.checkLedger(calls, pauseLimit: .seconds(10))
            }
        }

        @Test func whenThePrimaryDatabaseCrashesAndItsStandbyIsPromotedTheServicesCarryOnWithoutARestartAndNothingCommittedIsLost() async throws {
            try await ClusterScenario.run { s in
                let before: Int = try await s.db.query("SELECT count(*) FROM tickets")[0].decode(0)
                let calls = try await s.fileSteadily(count: 150, perSecond: 10) {
                    try await Task.sleep(for: .seconds(4))
                    try await ClusterStack.stack("crash-postgres")
                    try await Task.sleep(for: .seconds(2))
                    try await ClusterStack.stack("promote-standby")
                }
                try s.reconnectDatabase()
                let refused = calls.flatMap(\.refusals)
                #expect(refused.contains { $0.status == 503 }, "the desk was never told the database was gone: the crash did not happen under load")
                try await s.checkLedger(calls, pauseLimit: .seconds(30))
                let after: Int = try await s.db.query("SELECT count(*) FROM tickets")[0].decode(0)
                #expect(after == before + calls.count)
                for k in s.replicas.indices {
                    #expect(s.process(k).isRunning, "\(s.replicas[k].service) exited: \(s.process(k).output.suffix(2000))")
                }
            }
        }

        @Test func withTwoReplicasOfEveryServiceAndOneKilledEveryFewSecondsEachTimerFiresOnceAndEachMessageGoesOnce() async throws {
            // Repairs whose clock breaches at 2 s and 4 s, so timers fire while replicas die.
            try await ClusterScenario.run(replicas: 2, rules: [ClockScenario.fast("R4-repair", [2, 4])]) { s in
                let killed = Recorder<String>()
                let calls = try await s.fileSteadily(count: 600, perSecond: 5) {
                    // Two minutes of filing: a random replica of a random service killed every 3–5 s,
                    // and started again a second later.
                    let end = ContinuousClock.now + .seconds(115)
                    while ContinuousClock.now < end {
                        try await Task.sleep(for: .milliseconds(Int.random(in: 2_000...4_000)))
                        let k = Int.random(in: s.replicas.indices)
                        try await s.kill9(k)
                        killed.append("\(s.replicas[k].service)-\(s.replicas[k].index)")
                        try await Task.sleep(for: .seconds(1))
                        try s.start(k)
                        try await s.waitReady(k)
                    }
                }
                #expect(killed.all.count >= 10, "replicas killed: \(killed.all)")
                try await s.checkLedger(calls, pauseLimit: .seconds(30))
                let fired: Int = try await s.db.query("SELECT count(*) FROM deadlines WHERE property = $1 AND state = 'fired'", [s.property])[0].decode(0)
                #expect(fired >= calls.count, "deadlines fired: \(fired) for \(calls.count) repairs")
            }
        }
    }
}
