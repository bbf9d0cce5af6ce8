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
}
