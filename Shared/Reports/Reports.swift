import Domain
import Foundation
import Postgres

/// Reports read from the record: the deadlines' outcomes and the follow-up rate. They live in a
/// module of their own, apart from the desk that writes tickets, and run on a read-only
/// connection (`PROPDESK_REPORTS_DATABASE_URL`, by default the database itself), so they can
/// be moved to a standby without touching the desk.
public enum Reports {
    /// The property's zone, whose days and weeks its reports count in; nil when there is no such
    /// property.
    public static func zone(of property: String, on c: PostgresConnection) throws -> TimeZone? {
        guard let row = try c.query("SELECT time_zone FROM properties WHERE code = $1", [property]).first else { return nil }
        return TimeZone(identifier: try row.decode(0, as: String.self)) ?? TimeZone(identifier: "Asia/Shanghai")!
    }

    /// The period of a report for `property`: the dates asked for, with the defaults taken from
    /// the property's own today (``ReportPeriod/resolve(from:to:now:timeZone:)``); nil when there
    /// is no such property.
    /// Throws the ``ValidationFailure`` of a period that is not one.
    public static func period(property: String, from: CivilDate?, to: CivilDate?, now: Date,
                              on c: PostgresConnection) throws -> ReportPeriod? {
        guard let zone = try zone(of: property, on: c) else { return nil }
        return try ReportPeriod.resolve(from: from, to: to, now: now, timeZone: zone).get()
    }

    /// Follow-up calls (P3, F4: 100%) for tickets resolved in a period.
    public struct FollowUps: Codable, Sendable, Equatable {
        public var property: String
        public var from: CivilDate
        public var to: CivilDate
        /// Calls made, or whose time has come: on time + late + outstanding.
        public var due: Int
        public var onTime: Int
        public var late: Int
        /// Fell due and not made yet.
        public var outstanding: Int
        /// Scheduled and not yet due: counted nowhere else, so a fresh resolution is no miss.
        public var notYetDue: Int
        /// (on time + late) / due; nil when nothing was due.
        public var rate: Double?

        enum CodingKeys: String, CodingKey {
            case property, from, to, due, late, outstanding, rate
            case onTime = "on_time"
            case notYetDue = "not_yet_due"
        }

        /// `rate` is written as `null` when nothing was due, as the schema says, not left out.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(property, forKey: .property)
            try c.encode(from, forKey: .from)
            try c.encode(to, forKey: .to)
            try c.encode(due, forKey: .due)
            try c.encode(onTime, forKey: .onTime)
            try c.encode(late, forKey: .late)
            try c.encode(outstanding, forKey: .outstanding)
            try c.encode(notYetDue, forKey: .notYetDue)
            try c.encode(rate, forKey: .rate)
        }
    }

    /// Counts each resolved ticket's follow-up clocks (the first step of F1–F3; retries are the
    /// same call again) whose clock started in `[from, to)`, in the property's zone. A clock
    /// cancelled with its round (the ticket was reopened) is no call owed.
    public static func followUps(property: String, period: ReportPeriod, on c: PostgresConnection) throws -> FollowUps? {
        guard let row = try c.query("""
            SELECT count(d.id) FILTER (WHERE d.state = 'met' OR d.due_at <= now()),
                   count(d.id) FILTER (WHERE d.state = 'met'),
                   count(d.id) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
                   count(d.id) FILTER (WHERE d.met_at IS NULL AND d.state IN ('pending', 'fired') AND d.due_at <= now()),
                   count(d.id) FILTER (WHERE d.state = 'pending' AND d.due_at > now())
            FROM properties p
            LEFT JOIN deadlines d ON d.property = p.code AND d.purpose = 'follow_up' AND d.step = 1 AND d.rule_id <> $4
                -- Not owed: a call cancelled with its round, or one never made in a round the ticket left by reopening.
                AND d.state <> 'cancelled'
                AND NOT (d.met_at IS NULL AND EXISTS (SELECT 1 FROM clock_marks m WHERE m.ticket_id = d.ticket_id AND m.round > d.round))
                AND d.started_at >= ($2::date::timestamp AT TIME ZONE p.time_zone)
                AND d.started_at < ($3::date::timestamp AT TIME ZONE p.time_zone)
            WHERE p.code = $1 GROUP BY p.code
            """, [property, period.from.description, period.to.description, StandardClocks.followUpRetryID]).first else { return nil }
        let due: Int = try row.decode(0)
        let onTime: Int = try row.decode(1)
        let late: Int = try row.decode(2)
        return FollowUps(property: property, from: period.from, to: period.to, due: due, onTime: onTime, late: late,
                         outstanding: try row.decode(3), notYetDue: try row.decode(4),
                         rate: due == 0 ? nil : Double(onTime + late) / Double(due))
    }

    /// How each standard's deadlines went: the first step of every clock started in the period
    /// (later steps are the escalation ladder, not the standard's own deadline). Compliance per
    /// clause: met in time against breached, and how late the breaches were.
    public struct DeadlineOutcome: Codable, Sendable, Equatable {
        public var standard: String
        public var ruleID: String
        /// The clause's words, as the rule names its clock.
        public var title: String
        public var started: Int
        /// Met before due, and by how much on average.
        public var met: Int
        public var meanEarlySeconds: Double?
        /// Fell due unmet (escalated); of those, met later, and how late on average.
        public var breached: Int
        public var breachedThenMet: Int
        public var meanLateSeconds: Double?
        /// How late the breaches that were met later were: median, 90th percentile, the worst.
        public var lateP50Seconds: Double?
        public var lateP90Seconds: Double?
        public var lateMaxSeconds: Double?
        /// Breached and still not met, and how long the oldest of them has been overdue.
        public var stillLate: Int
        public var stillLateMaxSeconds: Double?
        /// met / (met + breached): nil while none has been decided.
        public var compliance: Double?
        /// Still running, or cancelled with the ticket.
        public var running: Int
        public var cancelled: Int

        enum CodingKeys: String, CodingKey {
            case standard, title, started, met, breached, running, cancelled, compliance
            case ruleID = "rule_id"
            case meanEarlySeconds = "mean_early_seconds"
            case breachedThenMet = "breached_then_met"
            case meanLateSeconds = "mean_late_seconds"
            case lateP50Seconds = "late_p50_seconds"
            case lateP90Seconds = "late_p90_seconds"
            case lateMaxSeconds = "late_max_seconds"
            case stillLate = "still_late"
            case stillLateMaxSeconds = "still_late_max_seconds"
        }

        /// Every figure is written, `null` where there is none, as the schema says.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(standard, forKey: .standard)
            try c.encode(ruleID, forKey: .ruleID)
            try c.encode(title, forKey: .title)
            try c.encode(started, forKey: .started)
            try c.encode(met, forKey: .met)
            try c.encode(meanEarlySeconds, forKey: .meanEarlySeconds)
            try c.encode(breached, forKey: .breached)
            try c.encode(breachedThenMet, forKey: .breachedThenMet)
            try c.encode(meanLateSeconds, forKey: .meanLateSeconds)
            try c.encode(lateP50Seconds, forKey: .lateP50Seconds)
            try c.encode(lateP90Seconds, forKey: .lateP90Seconds)
            try c.encode(lateMaxSeconds, forKey: .lateMaxSeconds)
            try c.encode(stillLate, forKey: .stillLate)
            try c.encode(stillLateMaxSeconds, forKey: .stillLateMaxSeconds)
            try c.encode(compliance, forKey: .compliance)
            try c.encode(running, forKey: .running)
            try c.encode(cancelled, forKey: .cancelled)
        }
    }

    public static func deadlines(property: String, period: ReportPeriod, on c: PostgresConnection) throws -> [DeadlineOutcome]? {
        guard try !c.query("SELECT 1 FROM properties WHERE code = $1", [property]).isEmpty else { return nil }
        return try c.query("""
            SELECT \(outcomeColumns)
            FROM deadlines d JOIN properties p ON p.code = d.property
            WHERE d.property = $1 AND d.step = 1
              AND d.started_at >= ($2::date::timestamp AT TIME ZONE p.time_zone)
              AND d.started_at < ($3::date::timestamp AT TIME ZONE p.time_zone)
            GROUP BY d.standard, d.rule_id ORDER BY d.standard, d.rule_id
            """, [property, period.from.description, period.to.description]).map(outcome)
    }

    /// The columns of a ``DeadlineOutcome``, over first steps `d` grouped by standard and rule.
    static let outcomeColumns = """
        d.standard, d.rule_id, min(d.title), count(*),
               count(*) FILTER (WHERE d.state = 'met'),
               avg(extract(epoch FROM d.due_at - d.met_at)) FILTER (WHERE d.state = 'met'),
               count(*) FILTER (WHERE d.state = 'fired'),
               count(*) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
               avg(extract(epoch FROM d.met_at - d.due_at)) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.met_at - d.due_at)) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM d.met_at - d.due_at)) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
               max(extract(epoch FROM d.met_at - d.due_at)) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL)::float8,
               count(*) FILTER (WHERE d.state = 'fired' AND d.met_at IS NULL),
               max(extract(epoch FROM now() - d.due_at)) FILTER (WHERE d.state = 'fired' AND d.met_at IS NULL)::float8,
               count(*) FILTER (WHERE d.state = 'pending'),
               count(*) FILTER (WHERE d.state = 'cancelled')
        """

    static func outcome(_ row: PostgresRow) throws -> DeadlineOutcome {
        let met: Int = try row.decode(4), breached: Int = try row.decode(6)
        return DeadlineOutcome(standard: try row.decode(0), ruleID: try row.decode(1), title: try row.decode(2), started: try row.decode(3),
                               met: met, meanEarlySeconds: try row.decode(5, as: Double?.self), breached: breached,
                               breachedThenMet: try row.decode(7), meanLateSeconds: try row.decode(8, as: Double?.self),
                               lateP50Seconds: try row.decode(9, as: Double?.self), lateP90Seconds: try row.decode(10, as: Double?.self),
                               lateMaxSeconds: try row.decode(11, as: Double?.self), stillLate: try row.decode(12),
                               stillLateMaxSeconds: try row.decode(13, as: Double?.self),
                               compliance: met + breached == 0 ? nil : Double(met) / Double(met + breached),
                               running: try row.decode(14), cancelled: try row.decode(15))
    }
}

extension Reports {
    /// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; a text a
    /// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first) gets a `'` first.
    public static func csvField(_ text: String) -> String {
        let safe = text.first.map { "=+-@\t\r".contains($0) } == true ? "'" + text : text
        return safe.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + safe.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : safe
    }
}
