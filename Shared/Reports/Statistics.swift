import Domain
import Foundation
import Postgres

extension Reports {
    /// The monthly or quarterly statistics (P3) of one property, over a month or a quarter of its
    /// own calendar (``ReportPeriod/monthOrQuarter(_:now:timeZone:field:)``): the tickets taken by
    /// kind, channel and department, repairs by trade, the follow-up rate (target 100%), the
    /// decoration complaint rate (target under 0.5%), and the median and p90 time to resolve.
    public struct Statistics: Codable, Sendable, Equatable {
        public var property: String
        public var timeZone: String
        /// `[from, to)`: the 1st of the month or quarter, and the 1st after it.
        public var from: CivilDate
        public var to: CivilDate
        /// Tickets taken in the period.
        public var total: Int
        /// Most first, ties by name.
        public var byKind: [Count]
        public var byChannel: [Count]
        /// Tickets with a work order for the department (once per department, however many
        /// rounds or transfers).
        public var byDepartment: [Count]
        /// Repairs by the trade named when they were taken (their category); `item` null for
        /// repairs taken without one.
        public var repairsByTrade: [Count]
        public var followUps: FollowUps
        public var decoration: Decoration
        /// Tickets resolved in the period, all kinds first (`kind` null), then each kind.
        public var resolution: [Resolution]

        public struct Count: Codable, Sendable, Equatable {
            public var item: String?
            public var count: Int

            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(item, forKey: .item)
                try c.encode(count, forKey: .count)
            }
        }

        /// Complaints about decoration work (category ``Statistics/decorationCategories``)
        /// against the decoration applications taken in the same period (kind `decoration`).
        public struct Decoration: Codable, Sendable, Equatable {
            public static let target = 0.005
            public var complaints: Int
            public var applications: Int
            /// complaints / applications; nil when there was no application.
            public var rate: Double?
            public var target: Double = Decoration.target

            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(complaints, forKey: .complaints)
                try c.encode(applications, forKey: .applications)
                try c.encode(rate, forKey: .rate)
                try c.encode(target, forKey: .target)
            }
        }

        /// From taken to resolved (the last resolution, for a ticket reopened and resolved again).
        public struct Resolution: Codable, Sendable, Equatable {
            public var kind: String?
            public var resolved: Int
            /// Null when nothing was resolved (the all-kinds row is always there).
            public var p50Seconds: Double?
            public var p90Seconds: Double?

            enum CodingKeys: String, CodingKey {
                case kind, resolved
                case p50Seconds = "p50_seconds"
                case p90Seconds = "p90_seconds"
            }

            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(kind, forKey: .kind)
                try c.encode(resolved, forKey: .resolved)
                try c.encode(p50Seconds, forKey: .p50Seconds)
                try c.encode(p90Seconds, forKey: .p90Seconds)
            }
        }

        /// The categories a complaint about decoration work is taken under (compared without case).
        public static let decorationCategories = [TicketKind.decoration.rawValue, "装修"]

        enum CodingKeys: String, CodingKey {
            case property, from, to, total, decoration, resolution
            case timeZone = "time_zone"
            case byKind = "by_kind"
            case byChannel = "by_channel"
            case byDepartment = "by_department"
            case repairsByTrade = "repairs_by_trade"
            case followUps = "follow_ups"
        }
    }

    /// The statistics of `property` over `period`; nil when there is no such property. Four
    /// statements and the follow-up report's, on the reports connection.
    public static func statistics(property: String, period: ReportPeriod, on c: PostgresConnection) throws -> Statistics? {
        guard let zone = try zone(of: property, on: c), let followUps = try followUps(property: property, period: period, on: c) else { return nil }
        let range = [property, period.from.description, period.to.description]
        let within = """
            t.property = $1 AND p.code = t.property
              AND t.created_at >= ($2::date::timestamp AT TIME ZONE p.time_zone) AND t.created_at < ($3::date::timestamp AT TIME ZONE p.time_zone)
            """
        struct Cell { var kind: String; var channel: String; var category: String?; var count: Int }
        let cells = try c.query("""
            SELECT t.kind, t.channel, CASE WHEN t.kind IN ($4, $5) THEN t.category END, count(*)
            FROM tickets t, properties p WHERE \(within) GROUP BY 1, 2, 3
            """, range + [TicketKind.repair.rawValue, TicketKind.complaint.rawValue]).map { row in
            Cell(kind: try row.decode(0), channel: try row.decode(1), category: try row.decode(2, as: String?.self), count: try row.decode(3))
        }
        // Most first; ties by name, none given last.
        func ranked(_ rows: [Statistics.Count]) -> [Statistics.Count] {
            rows.sorted { ($0.count, $1.item ?? "\u{10FFFF}") > ($1.count, $0.item ?? "\u{10FFFF}") }
        }
        func counts(_ cells: [Cell], _ key: (Cell) -> String?) -> [Statistics.Count] {
            ranked(cells.reduce(into: [String?: Int]()) { $0[key($1), default: 0] += $1.count }.map { Statistics.Count(item: $0.key, count: $0.value) })
        }
        let byDepartment = ranked(try c.query("""
            SELECT w.department, count(DISTINCT w.ticket_id) FROM work_orders w JOIN tickets t ON t.id = w.ticket_id, properties p
            WHERE \(within) GROUP BY 1
            """, range).map { Statistics.Count(item: try $0.decode(0, as: String?.self), count: try $0.decode(1)) })
        let decorationWords = Set(Statistics.decorationCategories.map { $0.lowercased() })
        let decorationComplaints = cells.filter { $0.kind == TicketKind.complaint.rawValue && decorationWords.contains($0.category?.lowercased() ?? "") }
            .reduce(0) { $0 + $1.count }
        let applications = cells.filter { $0.kind == TicketKind.decoration.rawValue }.reduce(0) { $0 + $1.count }
        let resolution = try c.query("""
            SELECT t.kind, count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.resolved_at - t.created_at)),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM t.resolved_at - t.created_at))
            FROM tickets t JOIN properties p ON p.code = t.property
            WHERE t.property = $1 AND t.resolved_at IS NOT NULL
              AND t.resolved_at >= ($2::date::timestamp AT TIME ZONE p.time_zone) AND t.resolved_at < ($3::date::timestamp AT TIME ZONE p.time_zone)
            GROUP BY ROLLUP (t.kind) ORDER BY t.kind NULLS FIRST
            """, range).map { row in
            Statistics.Resolution(kind: try row.decode(0, as: String?.self), resolved: try row.decode(1),
                                  p50Seconds: try row.decode(2, as: Double?.self), p90Seconds: try row.decode(3, as: Double?.self))
        }
        return Statistics(property: property, timeZone: zone.identifier, from: period.from, to: period.to, total: cells.reduce(0) { $0 + $1.count },
                          byKind: counts(cells) { $0.kind }, byChannel: counts(cells) { $0.channel }, byDepartment: byDepartment,
                          repairsByTrade: counts(cells.filter { $0.kind == TicketKind.repair.rawValue }) { $0.category },
                          followUps: followUps,
                          decoration: .init(complaints: decorationComplaints, applications: applications,
                                            rate: applications == 0 ? nil : Double(decorationComplaints) / Double(applications)),
                          resolution: resolution)
    }

    /// The month or quarter `text` names (default: the property's current month), in its zone;
    /// nil when there is no such property. Throws the ``ValidationFailure`` of one that is not.
    public static func monthOrQuarter(property: String, _ text: String?, now: Date, on c: PostgresConnection) throws -> ReportPeriod? {
        guard let zone = try zone(of: property, on: c) else { return nil }
        return try ReportPeriod.monthOrQuarter(text, now: now, timeZone: zone).get()
    }
}

extension Reports.Statistics {
    /// Every figure as one long table (`section,item,value`), for a spreadsheet's pivot: counts
    /// by kind, channel, department and trade; the follow-ups; decoration; resolution times.
    public var csv: String {
        let field = Reports.csvField
        var lines = ["from,to,section,item,value"]
        func add(_ section: String, _ item: String?, _ value: String) {
            lines.append([from.description, to.description, section, field(item ?? ""), value].joined(separator: ","))
        }
        func ratio(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "" }
        add("total", nil, String(total))
        for (section, rows) in [("kind", byKind), ("channel", byChannel), ("department", byDepartment), ("repair_trade", repairsByTrade)] {
            for row in rows { add(section, row.item, String(row.count)) }
        }
        for (item, value) in [("due", followUps.due), ("on_time", followUps.onTime), ("late", followUps.late),
                              ("outstanding", followUps.outstanding), ("not_yet_due", followUps.notYetDue)] {
            add("follow_up", item, String(value))
        }
        add("follow_up", "rate", ratio(followUps.rate))
        add("decoration", "complaints", String(decoration.complaints))
        add("decoration", "applications", String(decoration.applications))
        add("decoration", "rate", ratio(decoration.rate))
        for row in resolution {
            let kind = row.kind ?? "all"
            add("resolved", kind, String(row.resolved))
            add("resolve_p50_seconds", kind, row.p50Seconds.map { String(format: "%.0f", $0) } ?? "")
            add("resolve_p90_seconds", kind, row.p90Seconds.map { String(format: "%.0f", $0) } ?? "")
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
