import ArgumentParser
import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Histogram
import Identity
import Postgres

/// The money desk under load, through the running suite's billing service: payments with
/// receipts from `--clients` desks at once (each over HTTP, with its Idempotency-Key, its ledger
/// entry and its gap-free receipt number), against pgbench insert-only with the same clients in
/// the same run; then a month's management-fee bills for `--units` units in one request, its
/// time and billing's peak memory.
struct BillingBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing",
        abstract: "Payments with receipts per second (8 clients), and a month's fee bills for 100,000 units: time and peak memory.",
        discussion: "Needs the suite running (deploy/local/run) and the owner's PROPDESK_DATABASE_URL (or _FILE).")

    @Option(help: "Intake's address (to sign in).") var intake = "127.0.0.1:8080"
    @Option(help: "Billing's address.") var billing = "127.0.0.1:8084"
    @Option(help: "Billing's process id, for its memory (default: .local/run/billing.pid).") var billingPid: Int32?
    @Option(help: "Desks paying at once (and pgbench clients).") var clients = 8
    @Option(help: "Payments in all.") var payments = 8_000
    @Option(help: "Units billed in the fee step.") var units = 100_000
    @Option(help: "pgbench transactions per client.") var pgbenchTransactions = 5_000

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let db = try await benchDatabase(pg, size: 2, logger: quietLogger())
        defer { db.shutdown() }
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB")
        let runs: Int = try await db.query("SELECT count(*) FROM properties WHERE code LIKE 'bl-%'")[0].decode(0)
        func property(_ code: String, _ letter: String) async throws -> String {
            let prefix = letter + String((0..<3).map { i in Character(UnicodeScalar(UInt8(65 + (runs / Int(pow(26.0, Double(i)))) % 26))) })
            try await db.execute("INSERT INTO properties (code, name, ticket_prefix) VALUES ($1, 'Billing benchmark estate', $2)", [code, prefix])
            try await db.execute("INSERT INTO billing_settings (property, fee_rate_fen) VALUES ($1, 350)", [code])
            return code
        }
        let payHere = try await property("bl-\(runs + 1)", "P"), billHere = try await property("bl-\(runs + 1)-fees", "F")
        let token = try await benchToken(db, intake: intake, roles: [.finance], properties: [payHere, billHere])

        // 1. Baseline.
        let pgbench = try await pgbenchInsertOnly(pg, on: db, clients: clients, transactions: pgbenchTransactions)
        print(String(format: "baseline: pgbench insert-only, %d clients: %.0f tps", clients, pgbench))

        // 2. Payments: one large bill per desk, paid ¥1.00 at a time.
        try await db.execute("""
            INSERT INTO units (id, property, building, unit, area_centi, status)
            SELECT gen_random_uuid(), $1, '1号楼', 'desk-' || n, 10000000, 'occupied' FROM generate_series(1, $2) n
            """, [payHere, clients])
        let run = try await post("/bill-runs", ["property": payHere, "period": "2026-12", "due_date": "2026-12-31"], token: token)
        guard run.0 == 201 else { throw BenchError("bill run: \(run.0) \(run.1)") }
        let bills: [String] = try await db.query("SELECT id::text FROM bills WHERE property = $1 ORDER BY id", [payHere]).map { try $0.decode(0) }
        let each = payments / clients
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for desk in 0..<clients {
                group.addTask {
                    var mine: [Double] = []
                    mine.reserveCapacity(each)
                    for _ in 0..<each {
                        let t = ContinuousClock.now
                        let (status, body) = try await self.post("/payments", ["bill_id": bills[desk], "amount": "1.00", "method": "cash"], token: token,
                                                                 key: UUID().uuidString)
                        guard status == 201 else { throw BenchError("payment: \(status) \(body)") }
                        mine.append(Double((ContinuousClock.now - t).components.attoseconds) / 1e15 + Double((ContinuousClock.now - t).components.seconds) * 1000)
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
        let elapsed = ContinuousClock.now - started
        let perSecond = rate(latencies.count, elapsed)
        print(String(format: "payments with receipts, %d desks over HTTP: %.0f/s (%.2f of pgbench); latency p50 %.1f ms, p99 %.1f ms",
                     clients, perSecond, perSecond / pgbench, percentile(latencies, 50), percentile(latencies, 99)))
        let seqs: [Int64] = try await db.query("SELECT receipt_seq FROM payments WHERE property = $1 ORDER BY receipt_seq", [payHere]).map { try $0.decode(0) }
        print("receipt numbers: \(seqs.count), \(seqs == Array(1...Int64(seqs.count)) ? "1…\(seqs.count) without a gap" : "NOT contiguous")")

        // 3. A month's fees for `units` units.
        try await db.execute("""
            INSERT INTO units (id, property, building, unit, area_centi, status)
            SELECT gen_random_uuid(), $1, (n / 1000 + 1) || '号楼', n::text, 5000 + n % 10000,
                   CASE WHEN n % 10 = 0 THEN 'vacant' WHEN n % 23 = 0 THEN 'entrusted' ELSE 'occupied' END
            FROM generate_series(1, $2) n
            """, [billHere, units])
        let pid = try billingPid ?? Int32(String(contentsOfFile: ".local/run/billing.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let before = Self.memory(pid, "VmRSS:"), peakBefore = Self.memory(pid, "VmHWM:")
        let t = ContinuousClock.now
        let fees = try await post("/bill-runs", ["property": billHere, "period": "2026-12", "due_date": "2026-12-31"], token: token)
        let took = ContinuousClock.now - t
        guard fees.0 == 201 else { throw BenchError("fee run: \(fees.0) \(fees.1)") }
        let made: Int = try await db.query("SELECT count(*) FROM bills WHERE property = $1", [billHere])[0].decode(0)
        print(String(format: "fee bills for %d units: %d bills in %.2f s; billing's memory %.1f MiB before, peak %.1f MiB (peak before the run %.1f MiB)",
                     units, made, inSeconds(took),
                     Double(before) / 1024, Double(Self.memory(pid, "VmHWM:")) / 1024, Double(peakBefore) / 1024))
    }

    static func memory(_ pid: Int32, _ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    func post(_ path: String, _ body: [String: Any], token: String, key: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://\(billing)\(path)")!)
        request.httpMethod = "POST"
        request.timeoutInterval = 300
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let key { request.setValue(key, forHTTPHeaderField: "Idempotency-Key") }
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
