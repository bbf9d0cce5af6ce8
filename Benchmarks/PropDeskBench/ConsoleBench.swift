import AMQP
import ArgumentParser
import Desk
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Histogram
import Identity
import LocalReceivers
import Messaging
import Postgres
#if canImport(Glibc)
import Glibc
#endif

/// The console's live board under load, through the running suite: `--boards` browsers' event
/// streams open on one board, a ticket changed over HTTP, and the time until each stream carries
/// that ticket's new row — from the change's request, so it includes the commit, the outbox
/// relay, the broker, intake's live queue and the fan-out. Baseline in the same run: one message
/// published to RabbitMQ and consumed back on loopback. Then the board with `--tickets` open
/// tickets: the page's time to render against its query alone, and intake's memory per stream.
struct ConsoleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Live board: change → row on 200 connected boards (p50/p99), a 2,000-ticket board's render, memory per board.",
        discussion: "Needs the suite running (deploy/local/run) and the owner's PROPDESK_DATABASE_URL and PROPDESK_AMQP_URL (or _FILE).")

    @Option(help: "Intake's address.") var intake = "127.0.0.1:8080"
    @Option(help: "Intake's process id, for its memory (default: .local/run/intake.pid).") var intakePid: Int32?
    @Option(help: "Connected boards.") var boards = 200
    @Option(help: "Open tickets on the board.") var tickets = 2000
    @Option(help: "Ticket changes to time, one after another.") var changes = 100
    @Option(help: "Changes per second.") var rate = 10.0
    @Option(help: "Boards connected at once for the memory step (after the latency step).") var memoryBoards = 1000

    /// A property of this run's own (`bb-<n>`, prefix `B` and three letters): its 2,000 tickets
    /// are fresh, so no clock of theirs falls due while the run measures (an earlier run's would
    /// be breaching by now, hundreds a minute, and their updates would be measured too).
    @Option(help: "The bench property (default: a new one).") var property: String?

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let logger = quietLogger()
        let db = try await benchDatabase(pg, size: 2, logger: logger)
        defer { db.shutdown() }
        let runs: Int = try await db.query("SELECT count(*) FROM properties WHERE code LIKE 'bb-%'")[0].decode(0)
        let code = property ?? "bb-\(runs + 1)"
        let prefix = "B" + String((0..<3).map { i in Character(UnicodeScalar(UInt8(65 + (runs / Int(pow(26.0, Double(i)))) % 26))) })
        try await db.execute("INSERT INTO properties (code, name, ticket_prefix) VALUES ($1, 'Board benchmark estate', $2) ON CONFLICT DO NOTHING",
                             [code, prefix])
        let account = try await benchAccount(db, roles: [.supervisor], cost: 4, properties: [code])
        let (cookie, csrf) = try await signIn(account)
        let token = try await bearer(account)

        // The board: exactly `tickets` open tickets at the bench property, made through intake.
        let open: Int = try await db.query("SELECT count(*) FROM tickets WHERE property = $1 AND status NOT IN ('closed', 'cancelled')",
                                           [code])[0].decode(0)
        if open < tickets {
            print("filing \(tickets - open) tickets at \(code)…")
            try await file(tickets - open, token: token, property: code)
        }
        let ids: [(UUID, String)] = try await db.query("""
            SELECT id, number FROM tickets WHERE property = $1 AND status NOT IN ('closed', 'cancelled') ORDER BY created_at DESC LIMIT $2
            """, [code, changes]).map { (try $0.decode(0), try $0.decode(1)) }

        // Filing queued up work in every service: the measurement starts once dispatch has routed
        // and escalation has clocked every ticket, the outboxes are empty, and a fresh change
        // reaches a board within half a second.
        let settleBy = Date().addingTimeInterval(600)
        while Date() < settleBy {
            let unsettled: Int = try await db.query("""
                SELECT (SELECT count(*) FROM tickets t WHERE t.property = $1
                          AND (NOT EXISTS (SELECT 1 FROM work_orders w WHERE w.ticket_id = t.id)
                               OR NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.ticket_id = t.id)))
                     + (SELECT count(*) FROM outbox WHERE published_at IS NULL)
                """, [code])[0].decode(0)
            if unsettled == 0 { break }
            try await Task.sleep(for: .seconds(1))
        }
        var drained = false
        var lag: [Double] = []
        for attempt in 0..<120 where !drained {
            let probe = try EventStreams(host: "127.0.0.1", port: port, path: "/console/events?view=board&property=\(code)&after=",
                                       cookie: cookie, count: 1)
            try probe.waitConnected(timeout: 20)
            let probeSent = SentTimes()
            let probeReader = Thread { probe.read(until: { probeSent.done(expecting: 1) }, event: Self.numbers { c, n, at in probeSent.arrived(c, n, at) }) }
            probeReader.start()
            probeSent.sending(ids[0].1, clients: 1)
            try await note(ids[0].0, cookie: cookie, csrf: csrf, text: "bench: quiet yet? \(attempt)")
            let by = Date().addingTimeInterval(60)
            while !probeSent.done(expecting: 1), Date() < by { try await Task.sleep(for: .milliseconds(20)) }
            probeSent.finish()
            probe.close()
            let took = probeSent.latencies.first ?? 60_000
            lag.append(took)
            drained = took < 500
            if !drained { try await Task.sleep(for: .seconds(1)) }
        }
        print("a change reached a board after: " + lag.map { String(format: "%.0f ms", $0) }.joined(separator: ", ") + (drained ? "" : " (never quiet)"))

        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB")
        let baseline = try await rabbitRoundTrips(count: changes)
        print(String(format: "baseline: RabbitMQ publish → consume on loopback, one at a time: p50 %.2f ms, p99 %.2f ms",
                     percentile(baseline, 50), percentile(baseline, 99)))

        // Boards connected.
        let pid = try intakePid ?? Int32(String(contentsOfFile: ".local/run/intake.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let rssBefore = Self.rss(pid)
        let streams = try EventStreams(host: "127.0.0.1", port: port, path: "/console/events?view=board&property=\(code)&after=",
                                     cookie: cookie, count: boards)
        try streams.waitConnected(timeout: 20)
        try await Task.sleep(for: .seconds(2))
        let rssAfter = Self.rss(pid)
        print(String(format: "%d boards connected: intake's memory %.1f → %.1f MiB, %.1f KiB per board",
                     boards, Double(rssBefore) / 1024, Double(rssAfter) / 1024, Double(rssAfter - rssBefore) / Double(boards)))

        // Changes, paced; each stream's first frame for the ticket after its change.
        let sent = SentTimes()
        let reader = Thread { streams.read(until: { sent.done(expecting: ids.count) }, event: Self.numbers { client, number, at in sent.arrived(client, number, at) }) }
        reader.start()
        let interval = 1 / rate
        for (index, (id, number)) in ids.enumerated() {
            let due = Double(index) * interval
            while sent.elapsed < due { try await Task.sleep(for: .milliseconds(1)) }
            sent.sending(number, clients: boards)
            try await note(id, cookie: cookie, csrf: csrf, text: "bench change \(index)")
        }
        let deadline = Date().addingTimeInterval(10)
        while !sent.done(expecting: ids.count), Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        sent.finish()
        streams.close()
        let latencies = sent.latencies
        let expected = ids.count * boards
        print("  events read on the streams: \(streams.events)")
        print(String(format: "change → row on %d boards (%d changes at %.0f/s): %d of %d rows arrived; p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                     boards, ids.count, rate, latencies.count, expected, percentile(latencies, 50), percentile(latencies, 99),
                     latencies.max() ?? 0))
        print(String(format: "  ratio to the RabbitMQ round trip: p50 %.1f×, p99 %.1f×",
                     percentile(latencies, 50) / percentile(baseline, 50), percentile(latencies, 99) / percentile(baseline, 99)))

        // Memory: intake's resident set with many more boards connected at once, then closed.
        let rssIdle = Self.rss(pid)
        let many = try EventStreams(host: "127.0.0.1", port: port, path: "/console/events?view=board&property=\(code)&after=",
                                  cookie: cookie, count: memoryBoards)
        try many.waitConnected(timeout: 60)
        try await Task.sleep(for: .seconds(2))
        let rssMany = Self.rss(pid)
        many.close()
        print(String(format: "%d boards connected: intake's memory %.1f → %.1f MiB, %.1f KiB per board",
                     memoryBoards, Double(rssIdle) / 1024, Double(rssMany) / 1024, Double(rssMany - rssIdle) / Double(memoryBoards)))

        // The board's first render against its query alone.
        var pages: [Double] = [], queries: [Double] = []
        var bytes = 0
        var rows = 0
        let scope = AccessScope(properties: [code], departments: nil)
        let filter = BoardFilter(property: code)
        for round in 0..<11 {
            let start = ContinuousClock.now
            let body = try await get("/console/board?property=\(code)", cookie: cookie)
            let page = Self.ms(ContinuousClock.now - start)
            let q0 = ContinuousClock.now
            rows = try await db.withConnection { c in try TicketStore.board(filter, within: scope, on: c) }.count
            let query = Self.ms(ContinuousClock.now - q0)
            if round > 0 { pages.append(page); queries.append(query) }
            bytes = body.count
        }
        print(String(format: "board of %d tickets (%d KiB of HTML): first render p50 %.0f ms, p99 %.0f ms; its query alone p50 %.0f ms (%.1f×)",
                     rows, bytes / 1024, percentile(pages, 50), percentile(pages, 99), percentile(queries, 50),
                     percentile(pages, 50) / percentile(queries, 50)))
    }

    var port: Int { Int(intake.split(separator: ":").last ?? "8080") ?? 8080 }

    /// An event's ticket numbers, for `seen`.
    static func numbers(_ seen: @escaping (Int, String, Date) -> Void) -> (Int, String, Date) -> Void {
        { index, text, at in
            for match in text.matches(of: /"number":"([A-Z]+-[0-9]+-[0-9]+)"/) { seen(index, String(match.1), at) }
        }
    }

    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

    /// Resident set of a process in KiB (0 when unknown).
    static func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// `POST /auth/login` as `kind` (session or token): the answer and its Set-Cookie.
    func login(_ account: (login: String, password: String, secret: String?), kind: String) async throws -> ([String: Any], String?) {
        var body: [String: Any] = ["login": account.login, "password": account.password, "kind": kind]
        if let secret = account.secret { body["code"] = SecondFactor.code(secret: secret) }
        var request = URLRequest(url: URL(string: "http://\(intake)/auth/login")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any], (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw BenchError("bench sign-in failed: \(String(decoding: data, as: UTF8.self))")
        }
        return (json, (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Set-Cookie"))
    }

    /// A browser's session: its cookie and CSRF token.
    func signIn(_ account: (login: String, password: String, secret: String?)) async throws -> (String, String) {
        let (json, setCookie) = try await login(account, kind: "session")
        guard let cookie = setCookie?.split(separator: ";").first, let csrf = json["csrf_token"] as? String else {
            throw BenchError("no session cookie in the sign-in's answer")
        }
        return (String(cookie), csrf)
    }

    func bearer(_ account: (login: String, password: String, secret: String?)) async throws -> String {
        guard let token = try await login(account, kind: "token").0["token"] as? String else { throw BenchError("no token in the sign-in's answer") }
        return token
    }

    func file(_ count: Int, token: String, property: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for k in stride(from: worker, to: count, by: 8) {
                        var request = URLRequest(url: URL(string: "http://\(intake)/tickets")!)
                        request.httpMethod = "POST"
                        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                        request.httpBody = try JSONSerialization.data(withJSONObject: [
                            "property": property, "kind": k % 3 == 0 ? "repair" : "complaint", "caller_phone": "13800000000",
                            "building": "\(k % 12 + 1)号楼", "content": "bench board ticket \(k): 水龙头漏水", "taken_by": "bench",
                        ])
                        let (_, response) = try await URLSession.shared.data(for: request)
                        guard (response as? HTTPURLResponse)?.statusCode == 201 else { throw BenchError("a bench ticket was refused") }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    func note(_ id: UUID, cookie: String, csrf: String, text: String) async throws {
        var request = URLRequest(url: URL(string: "http://\(intake)/tickets/\(id.uuidString.lowercased())/notes")!)
        request.httpMethod = "POST"
        request.httpShouldHandleCookies = false
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(cookie, forHTTPHeaderField: "Cookie")
        request.setValue(csrf, forHTTPHeaderField: "X-CSRF-Token")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["note": text])
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("a bench note was refused") }
    }

    func get(_ path: String, cookie: String) async throws -> Data {
        var request = URLRequest(url: URL(string: "http://\(intake)\(path)")!)
        request.httpShouldHandleCookies = false
        request.setValue(cookie, forHTTPHeaderField: "Cookie")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("GET \(path) failed") }
        return data
    }

    /// One message at a time through a scratch queue: publish confirmed, then consumed.
    func rabbitRoundTrips(count: Int) async throws -> [Double] {
        let amqp = AMQPConnection(configuration: try AMQPConfiguration(url: try environment("PROPDESK_AMQP_URL"), connectionName: "bench-console"),
                                  logger: quietLogger())
        try await amqp.connect()
        let queue = "bench.console.\(UUID().uuidString.prefix(8).lowercased())"
        try await amqp.declare(AMQPTopology(queues: [.init(name: queue, type: .classic, extraArguments: benchQueueExpiry)]))
        let consumer = try await amqp.consume(queue: queue, prefetch: 10)
        var iterator = consumer.makeAsyncIterator()
        var out: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            try await amqp.publish(AMQPMessage(exchange: "", routingKey: queue, body: Data("{}".utf8)))
            guard let delivery = await iterator.next() else { break }
            delivery.ack()
            out.append(Self.ms(ContinuousClock.now - start))
        }
        await consumer.cancel()
        await amqp.close()
        return out
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p / 100).rounded()))]
}

/// When each change was sent, and each stream's first row for it after that.
final class SentTimes: @unchecked Sendable {
    private let lock = NSLock()
    private let start = Date()
    private var sentAt: [String: Date] = [:]
    private var waiting: [String: Set<Int>] = [:]
    private var collected: [Double] = []
    private var finished = false

    var elapsed: Double { Date().timeIntervalSince(start) }

    func sending(_ number: String, clients: Int) {
        lock.withLock {
            sentAt[number] = Date()
            waiting[number] = Set(0..<clients)
        }
    }

    func arrived(_ client: Int, _ number: String, _ at: Date) {
        lock.withLock {
            guard let sent = sentAt[number], waiting[number]?.remove(client) != nil else { return }
            collected.append(at.timeIntervalSince(sent) * 1000)
        }
    }

    func done(expecting changes: Int) -> Bool {
        lock.withLock { finished || (sentAt.count == changes && waiting.values.allSatisfy(\.isEmpty)) }
    }

    func finish() { lock.withLock { finished = true } }
    var latencies: [Double] { lock.withLock { collected } }
}
