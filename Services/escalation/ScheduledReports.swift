import Console
import Contracts
import Domain
import Foundation
import Logging
import Messaging
import Postgres
import Reports

/// The Monday report (C9): each property's weekly complaint report for the week just ended,
/// rendered as one HTML file and announced to its managers (``ReportEvents/recipients``) every
/// Monday at ``sendAt`` in the property's zone. The timer engine calls it: a due row of
/// `scheduled_reports` is claimed with `FOR UPDATE SKIP LOCKED` and, in the same transaction, the
/// file is written, the `report.weekly_complaints.ready` event goes to the outbox, the row is
/// marked sent and the next Monday's is added. Two replicas send it once; a Monday that passed
/// while escalation was down is sent when it starts.
struct ScheduledReports: Sendable {
    /// Monday 09:00, property time.
    static let sendAt = "9 hours"
    let pages: ConsolePages
    let logger: Logger

    /// Adds the next Monday's row for every property (or `property`) that has none for it yet.
    static let scheduleNext = """
        INSERT INTO scheduled_reports (property, report, period_from, period_to, due_at)
        SELECT p.code, $1, (m - interval '7 days')::date, m::date, (m + interval '\(sendAt)') AT TIME ZONE p.time_zone
        FROM properties p
        CROSS JOIN LATERAL (SELECT date_trunc('week', now() AT TIME ZONE p.time_zone) AS w) a
        CROSS JOIN LATERAL (SELECT CASE WHEN w + interval '\(sendAt)' > now() AT TIME ZONE p.time_zone THEN w ELSE w + interval '7 days' END AS m) b
        WHERE $2::text IS NULL OR p.code = $2
        ON CONFLICT DO NOTHING
        """

    func schedule(_ postgres: PostgresClient) async throws {
        try await postgres.execute(Self.scheduleNext, [ReportEvents.weeklyComplaints, String?.none])
    }

    /// The earliest pending report's due time, for the engine's sleep.
    static let nextDue = "(SELECT min(due_at) FROM scheduled_reports WHERE state = 'pending')"

    /// Sends one due report, if any; returns whether it did.
    func sendDue(_ postgres: PostgresClient) async throws -> Bool {
        let pages = pages
        let sent = try await postgres.withTransaction { c -> ReportReadyPayload? in
            guard let row = try c.query("""
                SELECT s.property, s.period_from::text, s.period_to::text, p.name FROM scheduled_reports s JOIN properties p ON p.code = s.property
                WHERE s.report = $1 AND s.state = 'pending' AND s.due_at <= now()
                ORDER BY s.due_at LIMIT 1 FOR UPDATE OF s SKIP LOCKED
                """, [ReportEvents.weeklyComplaints]).first else { return nil }
            let property: String = try row.decode(0)
            guard let from = CivilDate(try row.decode(1, as: String.self)), let to = CivilDate(try row.decode(2, as: String.self)),
                  let weekly = try Reports.weeklyComplaints(property: property, week: ReportPeriod(from: from, to: to), on: c) else { return nil }
            let id = UUID()
            let html = ReportViews.weeklyFile(weekly, propertyName: try row.decode(3), language: .zh, pages: pages, generatedAt: Date())
            try c.execute("""
                INSERT INTO report_files (id, property, report, period_from, period_to, content_type, body)
                VALUES ($1, $2, $3, $4::date, $5::date, 'text/html; charset=utf-8', $6)
                """, [id, property, ReportEvents.weeklyComplaints, from.description, to.description, html])
            try c.execute("""
                UPDATE scheduled_reports SET state = 'sent', sent_at = now(), file_id = $4
                WHERE property = $1 AND report = $2 AND period_from = $3::date AND state = 'pending'
                """, [property, ReportEvents.weeklyComplaints, from.description, id])
            let payload = ReportReadyPayload(report: ReportEvents.weeklyComplaints, fileID: id, from: from.description, to: to.description,
                                             total: weekly.total, previousTotal: weekly.previousTotal, withinTime: weekly.withinTime,
                                             vitalFew: weekly.categories.filter(\.vitalFew).map { $0.category ?? "" },
                                             carriedOver: weekly.carriedOver.count)
            try Outbox.enqueue(try EventEnvelope(type: ReportEvents.ready(ReportEvents.weeklyComplaints), property: property, payload: payload), on: c)
            try c.execute(Self.scheduleNext, [ReportEvents.weeklyComplaints, property])
            return payload
        }
        if let sent { logger.info("weekly report sent", metadata: ["file_id": "\(sent.fileID)", "from": "\(sent.from)", "total": "\(sent.total)"]) }
        return sent != nil
    }
}
