import Domain
import Foundation
import Postgres

/// Reports read from the record.
public enum Reports {
    /// Follow-up calls (P3, F4: 100%) for tickets resolved in a period.
    public struct FollowUps: Codable, Sendable, Equatable {
        public var property: String
        public var from: CivilDate
        public var to: CivilDate
        public var due: Int
        public var onTime: Int
        public var late: Int
        public var outstanding: Int
        /// (on time + late) / due; nil when nothing was due.
        public var rate: Double?

        enum CodingKeys: String, CodingKey {
            case property, from, to, due, late, outstanding, rate
            case onTime = "on_time"
        }
    }

    /// Counts each resolved ticket's follow-up clocks (the first step of F1–F3; retries are the
    /// same call again) whose clock started in `[from, to)`, in the property's zone.
    public static func followUps(property: String, from: CivilDate, to: CivilDate, on c: PostgresConnection) throws -> FollowUps? {
        guard let row = try c.query("""
            SELECT count(d.id), count(d.id) FILTER (WHERE d.state = 'met'),
                   count(d.id) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
                   count(d.id) FILTER (WHERE d.met_at IS NULL AND d.state IN ('pending', 'fired'))
            FROM properties p
            LEFT JOIN deadlines d ON d.property = p.code AND d.purpose = 'follow_up' AND d.step = 1 AND d.rule_id <> 'F-retry'
                AND d.started_at >= ($2::date::timestamp AT TIME ZONE p.time_zone)
                AND d.started_at < ($3::date::timestamp AT TIME ZONE p.time_zone)
            WHERE p.code = $1 GROUP BY p.code
            """, [property, from.description, to.description]).first else { return nil }
        let due: Int = try row.decode(0)
        let onTime: Int = try row.decode(1)
        let late: Int = try row.decode(2)
        return FollowUps(property: property, from: from, to: to, due: due, onTime: onTime, late: late,
                         outstanding: try row.decode(3), rate: due == 0 ? nil : Double(onTime + late) / Double(due))
    }

    /// How each standard's deadlines went: the first step of every clock started in the period
    /// (later steps are the escalation ladder, not the standard's own deadline).
    public struct DeadlineOutcome: Codable, Sendable, Equatable {
        public var standard: String
        public var ruleID: String
        public var started: Int
        /// Met before due, and by how much on average.
        public var met: Int
        public var meanEarlySeconds: Double?
        /// Fell due unmet (escalated); of those, met later, and how late on average.
        public var breached: Int
        public var breachedThenMet: Int
        public var meanLateSeconds: Double?
        /// Still running, or cancelled with the ticket.
        public var running: Int
        public var cancelled: Int

        enum CodingKeys: String, CodingKey {
            case standard, started, met, breached, running, cancelled
            case ruleID = "rule_id"
            case meanEarlySeconds = "mean_early_seconds"
            case breachedThenMet = "breached_then_met"
            case meanLateSeconds = "mean_late_seconds"
        }
    }

    public static func deadlines(property: String, from: CivilDate, to: CivilDate, on c: PostgresConnection) throws -> [DeadlineOutcome]? {
        guard try !c.query("SELECT 1 FROM properties WHERE code = $1", [property]).isEmpty else { return nil }
        return try c.query("""
            SELECT d.standard, d.rule_id, count(*),
                   count(*) FILTER (WHERE d.state = 'met'),
                   avg(extract(epoch FROM d.due_at - d.met_at)) FILTER (WHERE d.state = 'met'),
                   count(*) FILTER (WHERE d.state = 'fired'),
                   count(*) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
                   avg(extract(epoch FROM d.met_at - d.due_at)) FILTER (WHERE d.state = 'fired' AND d.met_at IS NOT NULL),
                   count(*) FILTER (WHERE d.state = 'pending'),
                   count(*) FILTER (WHERE d.state = 'cancelled')
            FROM deadlines d JOIN properties p ON p.code = d.property
            WHERE d.property = $1 AND d.step = 1
              AND d.started_at >= ($2::date::timestamp AT TIME ZONE p.time_zone)
              AND d.started_at < ($3::date::timestamp AT TIME ZONE p.time_zone)
            GROUP BY d.standard, d.rule_id ORDER BY d.standard, d.rule_id
            """, [property, from.description, to.description]).map { row in
            DeadlineOutcome(standard: try row.decode(0), ruleID: try row.decode(1), started: try row.decode(2), met: try row.decode(3),
                            meanEarlySeconds: try row.decode(4, as: Double?.self), breached: try row.decode(5),
                            breachedThenMet: try row.decode(6), meanLateSeconds: try row.decode(7, as: Double?.self),
                            running: try row.decode(8), cancelled: try row.decode(9))
        }
    }
}
