import ArgumentParser
import Contracts
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Identity
import Postgres
import Reports

/// The weekly complaint report (C9) for a property with `--tickets` tickets in a quarter of
/// thirteen weeks (complaints with a skewed category mix, their C1/C2 clocks, repairs with R2,
/// a timeline per ticket): its time through the library and through intake over HTTP, intake's
/// memory, against a plain count of the property's quarter in the same run. Then a candidate
/// index, `(property, kind, created_at)`: what it saves the report and what it costs a desk's
/// one-ticket inserts (pgbench, with and without it, alternating).
struct ReportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports",
        abstract: "The weekly complaint report for a property with 100,000 tickets in the quarter: time and memory; a candidate index's gain and insert cost.",
        discussion: "Needs the suite running (deploy/local/bench-services start) and the owner's PROPDESK_DATABASE_URL (or _FILE).")

    @Option(help: "Intake's address.") var intake = "127.0.0.1:8080"
    @Option(help: "Intake's process id, for its memory (default: .local/bench/intake.pid).") var intakePid: Int32?
    @Option(help: "Tickets in the quarter.") var tickets = 100_000
    @Option(help: "Timed runs of each read; p50 and max are reported.") var runs = 20
    @Option(help: "pgbench clients for the insert cost.") var clients = 4
    @Option(help: "pgbench one-ticket transactions per client, per round.") var pgbenchTransactions = 3_000

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let db = try await benchDatabase(pg, size: 2, logger: quietLogger())
        // As intake reads reports (read-only, no JIT); `db` has the server's defaults, JIT on.
        let reports = PostgresClient(configuration: pg.forReports, size: 1, logger: quietLogger())
        defer { db.shutdown(); reports.shutdown() }
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB")
        let n: Int = try await db.query("SELECT count(*) FROM properties WHERE code LIKE 'rp-%'")[0].decode(0)
        let code = "rp-\(n + 1)"
        let prefix = "R" + String((0..<3).map { i in Character(UnicodeScalar(UInt8(65 + (n / Int(pow(26.0, Double(i)))) % 26))) })
        try await db.execute("INSERT INTO properties (code, name, ticket_prefix) VALUES ($1, 'Report benchmark estate', $2)", [code, prefix])

        // The quarter: thirteen weeks, Monday 2026-08-31 to Monday 2026-11-30 in Shanghai; the
        // report's week is the last, 2026-11-23 to 29.
        let seeded = try await ContinuousClock().measure { try await seed(code, on: db) }
        let counts = try await db.query("""
            SELECT count(*), count(*) FILTER (WHERE kind = 'complaint'),
                   (SELECT count(*) FROM deadlines WHERE property = $1), (SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.property = $1)
            FROM tickets WHERE property = $1
            """, [code])[0]
        print(String(format: "seeded %@: %d tickets (%d complaints), %d deadlines, %d timeline events in %.1f s", code,
                     try counts.decode(0, as: Int.self), try counts.decode(1, as: Int.self), try counts.decode(2, as: Int.self),
                     try counts.decode(3, as: Int.self), inSeconds(seeded)))
        try await db.execute("ANALYZE tickets")
        try await db.execute("ANALYZE deadlines")
        try await db.execute("ANALYZE ticket_events")

        let week = ReportPeriod(from: CivilDate(year: 2026, month: 11, day: 23)!, to: CivilDate(year: 2026, month: 11, day: 30)!)
        let token = try await benchToken(db, intake: intake, roles: [.supervisor], properties: [code])
        let pid = try intakePid ?? Int32(String(contentsOfFile: ".local/bench/intake.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0

        func measureAll(_ label: String) async throws {
            let baseline = try await timed { _ = try await db.query("""
                SELECT count(*), count(DISTINCT category) FROM tickets
                WHERE property = $1 AND created_at >= '2026-08-31 00:00+08' AND created_at < '2026-11-30 00:00+08'
                """, [code]) }
            func library(_ client: PostgresClient) async throws -> (p50: Double, max: Double) {
                try await timed {
                    let report = try await client.withConnection { try Reports.weeklyComplaints(property: code, week: week, on: $0) }
                    guard report?.total ?? 0 > 0 else { throw BenchError("the report found no complaints") }
                }
            }
            let read = try await library(reports), jit = try await library(db)
            let before = BillingBench.memory(pid, "VmRSS:"), peakBefore = BillingBench.memory(pid, "VmHWM:")
            var size = 0
            let http = try await timed { size = try await get("/reports/complaints/weekly?property=\(code)&week=2026-11-25", token: token) }
            print(String(format: "%@: baseline (count of the quarter's %d tickets) p50 %.1f ms max %.1f ms", label, tickets, baseline.p50, baseline.max))
            print(String(format: "%@: weekly report, library on the reports connection p50 %.1f ms max %.1f ms (%.1f× the baseline); with JIT on p50 %.1f ms max %.1f ms",
                         label, read.p50, read.max, read.p50 / baseline.p50, jit.p50, jit.max))
            print(String(format: "%@: weekly report over HTTP p50 %.1f ms max %.1f ms, %d bytes", label, http.p50, http.max, size))
            print(String(format: "%@: intake's memory %.1f MiB before, %.1f MiB after; peak %.1f MiB before, %.1f MiB after", label,
                         Double(before) / 1024, Double(BillingBench.memory(pid, "VmRSS:")) / 1024,
                         Double(peakBefore) / 1024, Double(BillingBench.memory(pid, "VmHWM:")) / 1024))
        }
        try await measureAll("without the candidate index")

        // The candidate index: its gain to the report, and its cost to a desk's inserts.
        let insertProperty = code + "-ins"
        try await db.execute("INSERT INTO properties (code, name, ticket_prefix) VALUES ($1, 'Report benchmark inserts', $2)", [insertProperty, "I" + prefix.dropFirst()])
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-ticket-insert.sql")
        try """
            INSERT INTO tickets (id, property, number, kind, channel, content, category, severity, taken_by)
            VALUES (gen_random_uuid(), '\(insertProperty)', gen_random_uuid()::text, 'complaint', 'phone', 'bench', 'parking', 'minor', 'bench');
            """.write(to: script, atomically: true, encoding: .utf8)
        let index = "CREATE INDEX bench_tickets_kind ON tickets (property, kind, created_at)"
        var without: [Double] = [], with: [Double] = []
        for round in 1...2 {
            without.append(try runPgbench(pg, clients: clients, transactions: pgbenchTransactions, script: script.path))
            try await db.execute(index)
            with.append(try runPgbench(pg, clients: clients, transactions: pgbenchTransactions, script: script.path))
            if round == 2 {
                try await db.execute("ANALYZE tickets")
                try await measureAll("with the candidate index")
            }
            try await db.execute("DROP INDEX bench_tickets_kind")
        }
        print(String(format: "one-ticket inserts, %d clients: %.0f and %.0f tps without the candidate index, %.0f and %.0f with it (%.2f of without)",
                     clients, without[0], without[1], with[0], with[1], (with[0] + with[1]) / (without[0] + without[1])))
    }

    /// `tickets` tickets over the quarter, in SQL: 30% complaints (eight categories, skewed so two
    /// make up about 55%; severities 70/20/10 minor/important/major), 50% repairs, the rest other
    /// kinds; 3% still open; each complaint with its C1 and C2 clocks and each repair with R2,
    /// 10% of them breached; a created event for every ticket, and resolved and closed for those
    /// done.
    func seed(_ code: String, on db: PostgresClient) async throws {
        let kinds = Array(repeating: TicketKind.complaint.rawValue, count: 3) + Array(repeating: TicketKind.repair.rawValue, count: 5)
            + [TicketKind.inquiry.rawValue, TicketKind.doorOpen.rawValue]
        let categories = Array(repeating: "parking", count: 6) + Array(repeating: "noise", count: 5) + Array(repeating: "hygiene", count: 3)
            + ["greening", "greening", "security", "decoration", "fees", "attitude"]
        let severities = Array(repeating: ComplaintSeverity.minor.rawValue, count: 14) + Array(repeating: ComplaintSeverity.important.rawValue, count: 4)
            + Array(repeating: ComplaintSeverity.major.rawValue, count: 2)
        try await db.execute("""
            INSERT INTO tickets (id, property, number, kind, channel, content, category, severity, taken_by, status,
                                 created_at, updated_at, resolved_at, sequence)
            SELECT gen_random_uuid(), $1, $2 || '-' || n, k, 'phone', 'bench',
                   CASE WHEN k = 'complaint' THEN ($4::text[])[1 + h % 20] END,
                   CASE WHEN k = 'complaint' THEN ($5::text[])[1 + (h / 20) % 20] END, 'bench',
                   CASE WHEN h % 100 < 3 THEN 'open' WHEN h % 100 < 50 THEN 'resolved' ELSE 'closed' END,
                   at, CASE WHEN h % 100 < 3 THEN at ELSE at + interval '3 hours' END,
                   CASE WHEN h % 100 >= 3 THEN at + interval '2 hours' END,
                   CASE WHEN h % 100 < 3 THEN 1 WHEN h % 100 < 50 THEN 2 ELSE 3 END
            FROM (SELECT n, ($3::text[])[1 + n % 10] AS k, abs(hashint4(n)) AS h,
                         timestamptz '2026-08-31 00:00+08' + (n - 1) * (interval '91 days' / $6) AS at
                  FROM generate_series(1, $6) n) g
            """, [code, "Q", PostgresArray(kinds), PostgresArray(categories), PostgresArray(severities), tickets])
        try await db.execute("""
            INSERT INTO deadlines (ticket_id, property, round, rule_id, standard, title, purpose, step, steps, started_at, due_at, tell,
                                   state, fired_at, met_at)
            SELECT t.id, t.property, 1, r.rule, r.rule, 'bench', 'escalation', 1, 1, t.created_at, t.created_at + interval '5 minutes', '[]',
                   CASE WHEN abs(hashtext(t.number || r.rule)) % 10 = 0 THEN 'fired' ELSE 'met' END,
                   CASE WHEN abs(hashtext(t.number || r.rule)) % 10 = 0 THEN t.created_at + interval '5 minutes' END,
                   t.created_at + CASE WHEN abs(hashtext(t.number || r.rule)) % 10 = 0 THEN interval '9 minutes' ELSE interval '3 minutes' END
            FROM tickets t JOIN (VALUES ('complaint', 'C1'), ('complaint', 'C2'), ('repair', 'R2')) r(kind, rule) ON r.kind = t.kind
            WHERE t.property = $1
            """, [code])
        let created = TicketKind.allCases.map { DeskEvents.ticket($0, "created") }
        let resolved = TicketKind.allCases.map { DeskEvents.ticket($0, TicketAction.resolve.eventName) }
        let closed = TicketKind.allCases.map { DeskEvents.ticket($0, TicketAction.close.eventName) }
        let kindsAll = PostgresArray(TicketKind.allCases.map(\.rawValue))
        try await db.execute("""
            INSERT INTO ticket_events (ticket_id, sequence, event_id, type, actor, at)
            SELECT t.id, s.seq, gen_random_uuid(), (CASE s.seq WHEN 1 THEN $3::text[] WHEN 2 THEN $4::text[] ELSE $5::text[] END)[array_position($2::text[], t.kind)],
                   'bench', CASE s.seq WHEN 1 THEN t.created_at WHEN 2 THEN t.resolved_at ELSE t.updated_at END
            FROM tickets t JOIN generate_series(1, 3) s(seq) ON s.seq <= t.sequence
            WHERE t.property = $1
            """, [code, kindsAll, PostgresArray(created), PostgresArray(resolved), PostgresArray(closed)])
    }

    func timed(_ body: () async throws -> Void) async throws -> (p50: Double, max: Double) {
        var ms: [Double] = []
        for _ in 0..<runs {
            let d = try await ContinuousClock().measure { try await body() }
            ms.append(inSeconds(d) * 1000)
        }
        ms.sort()
        return (ms[ms.count / 2], ms.last ?? 0)
    }

    func get(_ path: String, token: String) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://\(intake)\(path)")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("report: \(String(decoding: data, as: UTF8.self).prefix(300))") }
        return data.count
    }
}
