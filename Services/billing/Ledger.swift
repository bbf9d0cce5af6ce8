import Contracts
import Desk
import Domain
import Foundation
import Messaging
import Postgres

/// The books: balanced entries (``JournalEntry``), receipt numbers and billing's events. Every
/// function runs in the caller's transaction, so a money movement, its postings, its number and
/// its event commit together or not at all.
enum Ledger {
    /// Writes a balanced entry; returns its id.
    static func post(_ entry: JournalEntry, property: String, kind: String, reference: String, on c: PostgresConnection) throws -> Int64 {
        guard let id = try c.query("INSERT INTO ledger_entries (property, kind, reference) VALUES ($1, $2, $3) RETURNING id",
                                   [property, kind, reference]).first?.decode(0, as: Int64.self) else {
            throw PostgresError(kind: .decoding, message: "ledger entry not written")
        }
        try c.executeLater("""
            INSERT INTO ledger_postings (entry_id, account, party, amount_fen)
            SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])
            """, [id, PostgresArray(entry.postings.map(\.account.rawValue)), PostgresArray(entry.postings.map(\.party)),
                  PostgresArray(entry.postings.map(\.amount.fen))])
        return id
    }

    enum Series: String {
        /// Payments' official receipts: `<prefix>-R-000001`.
        case receipt
        /// Voids and refunds: `<prefix>-V-000001`.
        case reversal

        var letter: String { self == .receipt ? "R" : "V" }
    }

    /// The next number of `series` at `property`, gap-free: the counter row stays locked until the
    /// transaction ends, and a rollback gives the number back. Take it as late in the transaction
    /// as possible, so concurrent payments wait on it only briefly.
    static func nextNumber(_ series: Series, property: String, on c: PostgresConnection) throws -> (seq: Int64, number: String) {
        guard let row = try c.query("""
            INSERT INTO receipt_counters (property, series, last) VALUES ($1, $2, 1)
            ON CONFLICT (property, series) DO UPDATE SET last = receipt_counters.last + 1
            RETURNING last, (SELECT ticket_prefix FROM properties WHERE code = $1)
            """, [property, series.rawValue]).first else { throw PostgresError(kind: .decoding, message: "no receipt counter") }
        let seq: Int64 = try row.decode(0)
        let prefix: String = try row.decode(1)
        return (seq, "\(prefix)-\(series.letter)-\(String(format: "%06lld", seq))")
    }

    /// Publishes `billing.<entity>.<event>` in this transaction (outbox).
    static func publish(_ entity: String, _ event: String, property: String, _ payload: BillingEventPayload,
                        causedBy cause: EventEnvelope? = nil, on c: PostgresConnection) throws {
        let type = BillingEvents.type(entity, event)
        let value = try JSONValue(encoding: payload)
        let envelope = cause?.caused(type: type, payload: value)
            ?? EventEnvelope(type: type, property: property, ticketID: payload.ticketID, correlationID: payload.ticketID ?? payload.subjectID, payload: value)
        var routed = envelope
        routed.ticketID = payload.ticketID
        try Outbox.enqueue(routed, on: c)
    }
}

/// What `billing verify` checks: every entry balances and so does the whole ledger; every
/// payment, void and refund has its entry; the receipt numbers of each property and series run
/// 1…n without a gap or a repeat; paid amounts agree with the payments recorded against them.
enum Verify {
    struct Finding: Sendable, CustomStringConvertible {
        let check: String
        let detail: String
        var description: String { "\(check): \(detail)" }
    }

    struct Report: Sendable {
        var entries = 0
        var postings = 0
        var receipts = 0
        var reversals = 0
        var findings: [Finding] = []
    }

    static func run(on c: PostgresConnection) throws -> Report {
        var report = Report()
        func count(_ sql: String) throws -> Int { Int(try c.query(sql).first?.decode(0, as: Int64.self) ?? 0) }
        report.entries = try count("SELECT count(*) FROM ledger_entries")
        report.postings = try count("SELECT count(*) FROM ledger_postings")
        report.receipts = try count("SELECT count(*) FROM payments")
        report.reversals = try count("SELECT count(*) FROM reversals")
        func findings(_ check: String, _ sql: String) throws {
            for row in try c.query(sql) { report.findings.append(Finding(check: check, detail: try row.decode(0))) }
        }
        try findings("the ledger sums to zero", """
            SELECT 'all postings sum to ' || money_text(sum(amount_fen)) FROM ledger_postings HAVING coalesce(sum(amount_fen), 0) <> 0
            """)
        try findings("each entry balances", """
            SELECT 'entry ' || e.id || ' (' || e.kind || ' ' || e.reference || ') sums to ' || money_text(coalesce(sum(p.amount_fen), 0))
            FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id GROUP BY e.id HAVING coalesce(sum(p.amount_fen), 0) <> 0 OR count(p.*) = 0
            """)
        try findings("each receipt has its postings", """
            SELECT 'receipt ' || p.receipt_number || ' has no postings of ' || money_text(p.amount_fen)
            FROM payments p WHERE NOT EXISTS (SELECT 1 FROM ledger_postings l WHERE l.entry_id = p.entry_id AND l.amount_fen = p.amount_fen)
            """)
        try findings("each void and refund has its postings", """
            SELECT r.kind || ' ' || r.number || ' has no postings of ' || money_text(r.amount_fen)
            FROM reversals r WHERE NOT EXISTS (SELECT 1 FROM ledger_postings l WHERE l.entry_id = r.entry_id AND l.amount_fen = -r.amount_fen)
            """)
        try findings("receipt numbers run without gaps", """
            SELECT property || ' ' || series || ': ' || n || ' numbers issued, highest ' || top || ', counter at ' || last FROM (
                SELECT c.property, c.series, c.last,
                       CASE c.series WHEN 'receipt' THEN (SELECT count(*) FROM payments p WHERE p.property = c.property)
                                     ELSE (SELECT count(*) FROM reversals r WHERE r.property = c.property) END AS n,
                       CASE c.series WHEN 'receipt' THEN (SELECT coalesce(max(receipt_seq), 0) FROM payments p WHERE p.property = c.property)
                                     ELSE (SELECT coalesce(max(seq), 0) FROM reversals r WHERE r.property = c.property) END AS top
                FROM receipt_counters c) s WHERE n <> top OR top <> last
            """)
        try findings("paid amounts agree with payments", """
            SELECT t.kind || ' ' || t.id || ' shows ' || money_text(t.paid) || ' paid, payments less refunds ' || money_text(t.net) FROM (
                SELECT 'charge' AS kind, c.id, c.paid_fen AS paid,
                       coalesce((SELECT sum(amount_fen - reversed_fen) FROM payments p WHERE p.target_id = c.id), 0) AS net FROM charges c
                UNION ALL
                SELECT 'bill', b.id, b.paid_fen, coalesce((SELECT sum(amount_fen - reversed_fen) FROM payments p WHERE p.target_id = b.id), 0) FROM bills b
            ) t WHERE t.paid <> t.net
            """)
        return report
    }
}
