import Contracts
import Domain
import Foundation
import Postgres

extension Reports {
    /// The weekly complaint report (C9, P3): the week's complaints by category and by severity,
    /// how many were handled within every clause's time, the Pareto of the categories with the
    /// 80% line, last week beside each figure, and the complaints still open at the week's end.
    /// A week is Monday to Sunday in the property's zone (``ReportPeriod/week(containing:now:timeZone:)``).
    public struct WeeklyComplaints: Codable, Sendable, Equatable {
        public var property: String
        /// The property's zone, whose Mondays the week runs between.
        public var timeZone: String
        /// `[from, to)`: Monday, and the Monday after.
        public var from: CivilDate
        public var to: CivilDate
        public var total: Int
        public var previousTotal: Int
        /// Complaints none of whose clocks fell due unmet (so far, for the ones still running).
        public var withinTime: Int
        /// Pareto order: most first; `category` null for complaints taken without one.
        public var categories: [Category]
        /// Major, important, minor, then none given.
        public var severities: [Severity]
        /// Each clause's first deadline on the week's complaints (C1, C2, … as `/reports/deadlines`).
        public var clauses: [DeadlineOutcome]
        public var carriedOver: CarriedOver

        public struct Category: Codable, Sendable, Equatable {
            public var category: String?
            public var count: Int
            public var previous: Int
            public var withinTime: Int
            public var share: Double
            public var cumulativeShare: Double
            /// One of the few categories that make up ``Pareto/line`` of the week's complaints.
            public var vitalFew: Bool

            enum CodingKeys: String, CodingKey {
                case category, count, previous, share
                case withinTime = "within_time"
                case cumulativeShare = "cumulative_share"
                case vitalFew = "vital_few"
            }

            /// `category` is written as `null` when there is none, not left out.
            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(category, forKey: .category)
                try c.encode(count, forKey: .count)
                try c.encode(previous, forKey: .previous)
                try c.encode(withinTime, forKey: .withinTime)
                try c.encode(share, forKey: .share)
                try c.encode(cumulativeShare, forKey: .cumulativeShare)
                try c.encode(vitalFew, forKey: .vitalFew)
            }
        }

        public struct Severity: Codable, Sendable, Equatable {
            public var severity: String?
            public var count: Int
            public var previous: Int
            public var withinTime: Int

            enum CodingKeys: String, CodingKey {
                case severity, count, previous
                case withinTime = "within_time"
            }

            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(severity, forKey: .severity)
                try c.encode(count, forKey: .count)
                try c.encode(previous, forKey: .previous)
                try c.encode(withinTime, forKey: .withinTime)
            }
        }

        /// Complaints taken before the week's end and open at it (whatever happened since), the
        /// oldest ``CarriedOver/listed`` of them listed: number, category, severity and when
        /// taken, nothing about the resident.
        public struct CarriedOver: Codable, Sendable, Equatable {
            public static let listed = 50
            public var count: Int
            public var oldest: [OpenComplaint]
        }

        public struct OpenComplaint: Codable, Sendable, Equatable {
            public var number: String
            public var category: String?
            public var severity: String?
            public var createdAt: Date

            enum CodingKeys: String, CodingKey {
                case number, category, severity
                case createdAt = "created_at"
            }
        }

        enum CodingKeys: String, CodingKey {
            case property, from, to, total, categories, severities, clauses
            case previousTotal = "previous_total"
            case withinTime = "within_time"
            case carriedOver = "carried_over"
            case timeZone = "time_zone"
        }
    }

    /// The report for `week` (``ReportPeriod/week(containing:now:timeZone:)``); nil when there is
    /// no such property. Four statements on the reports connection.
    public static func weeklyComplaints(property: String, week: ReportPeriod, on c: PostgresConnection) throws -> WeeklyComplaints? {
        guard let zone = try zone(of: property, on: c) else { return nil }
        let previous = week.previous
        let complaint = TicketKind.complaint.rawValue
        // This week's and last week's complaints, by category, severity and whether every clock
        // was met in time.
        struct Cell { var category: String?; var severity: String?; var thisWeek: Bool; var count: Int; var withinTime: Int }
        let cells = try c.query("""
            SELECT t.category, t.severity, t.created_at >= ($3::date::timestamp AT TIME ZONE p.time_zone), count(*),
                   count(*) FILTER (WHERE NOT EXISTS (
                       SELECT 1 FROM deadlines d WHERE d.ticket_id = t.id AND d.step = 1 AND d.state = 'fired'))
            FROM tickets t JOIN properties p ON p.code = t.property
            WHERE t.property = $1 AND t.kind = $5
              AND t.created_at >= ($2::date::timestamp AT TIME ZONE p.time_zone)
              AND t.created_at < ($4::date::timestamp AT TIME ZONE p.time_zone)
            GROUP BY 1, 2, 3
            """, [property, previous.from.description, week.from.description, week.to.description, complaint]).map { row in
            Cell(category: try row.decode(0, as: String?.self), severity: try row.decode(1, as: String?.self), thisWeek: try row.decode(2), count: try row.decode(3),
                 withinTime: try row.decode(4))
        }
        let current = cells.filter(\.thisWeek), before = cells.filter { !$0.thisWeek }
        func sum<Key: Hashable>(_ cells: [Cell], by key: (Cell) -> Key, _ value: (Cell) -> Int) -> [Key: Int] {
            cells.reduce(into: [:]) { $0[key($1), default: 0] += value($1) }
        }
        let byCategory = sum(current, by: \.category, \.count), inTimeByCategory = sum(current, by: \.category, \.withinTime)
        let lastByCategory = sum(before, by: \.category, \.count)
        let categories = Pareto.rows(byCategory.map { (key: $0.key, count: $0.value) }, order: { a, b in
            switch (a, b) {
            case let (a?, b?): a < b
            case (.some, nil): true
            default: false
            }
        }).map { row in
            WeeklyComplaints.Category(category: row.key, count: row.count, previous: lastByCategory[row.key] ?? 0,
                                      withinTime: inTimeByCategory[row.key] ?? 0, share: row.share,
                                      cumulativeShare: row.cumulativeShare, vitalFew: row.vitalFew)
        }
        let bySeverity = sum(current, by: \.severity, \.count), inTimeBySeverity = sum(current, by: \.severity, \.withinTime)
        let lastBySeverity = sum(before, by: \.severity, \.count)
        let severityOrder: [String?] = ComplaintSeverity.allCases.map(\.rawValue)
            + Set(bySeverity.keys).union(lastBySeverity.keys).compactMap { $0 }.filter { ComplaintSeverity(rawValue: $0) == nil }.sorted()
            + [nil]
        let severities = severityOrder.compactMap { key -> WeeklyComplaints.Severity? in
            let count = bySeverity[key] ?? 0, last = lastBySeverity[key] ?? 0
            // The standards' three are always listed; "none given" only when there was one.
            guard count > 0 || last > 0 || key.flatMap(ComplaintSeverity.init(rawValue:)) != nil else { return nil }
            return WeeklyComplaints.Severity(severity: key, count: count, previous: last, withinTime: inTimeBySeverity[key] ?? 0)
        }
        let clauses = try c.query("""
            SELECT \(outcomeColumns)
            FROM deadlines d JOIN tickets t ON t.id = d.ticket_id JOIN properties p ON p.code = t.property
            WHERE t.property = $1 AND t.kind = $4 AND d.step = 1
              AND t.created_at >= ($2::date::timestamp AT TIME ZONE p.time_zone)
              AND t.created_at < ($3::date::timestamp AT TIME ZONE p.time_zone)
            GROUP BY d.standard, d.rule_id ORDER BY d.standard, d.rule_id
            """, [property, week.from.description, week.to.description, complaint]).map(outcome)
        // Open at the week's end: the last of its resolutions, closings, cancellations and
        // reopenings before then, if any, was a reopening. Only a ticket still active, or changed
        // since the week's end, can be.
        let ending = [TicketAction.resolve, .close, .cancel].map { DeskEvents.ticket(.complaint, $0.eventName) }
        let reopened = DeskEvents.ticket(.complaint, TicketAction.reopen.eventName)
        let open = try c.query("""
            SELECT t.number, t.category, t.severity, t.created_at, count(*) OVER ()
            FROM tickets t JOIN properties p ON p.code = t.property
            WHERE t.property = $1 AND t.kind = $3
              AND t.created_at < ($2::date::timestamp AT TIME ZONE p.time_zone)
              AND (t.status = ANY($6::text[]) OR t.updated_at >= ($2::date::timestamp AT TIME ZONE p.time_zone))
              AND coalesce((SELECT e.type FROM ticket_events e
                            WHERE e.ticket_id = t.id AND e.work_order_id IS NULL AND (e.type = ANY($4::text[]) OR e.type = $5)
                              AND e.at < ($2::date::timestamp AT TIME ZONE p.time_zone)
                            ORDER BY e.sequence DESC LIMIT 1), $5) = $5
            ORDER BY t.created_at, t.number LIMIT $7
            """, [property, week.to.description, complaint, PostgresArray(ending), reopened,
                  PostgresArray(TicketStatus.allCases.filter(\.isActive).map(\.rawValue)), WeeklyComplaints.CarriedOver.listed])
        let carried = WeeklyComplaints.CarriedOver(count: try open.first?.decode(4, as: Int.self) ?? 0, oldest: try open.map { row in
            WeeklyComplaints.OpenComplaint(number: try row.decode(0), category: try row.decode(1, as: String?.self), severity: try row.decode(2, as: String?.self),
                                           createdAt: try row.decode(3))
        })
        return WeeklyComplaints(property: property, timeZone: zone.identifier, from: week.from, to: week.to, total: byCategory.values.reduce(0, +),
                                previousTotal: lastByCategory.values.reduce(0, +),
                                withinTime: inTimeByCategory.values.reduce(0, +), categories: categories,
                                severities: severities, clauses: clauses, carriedOver: carried)
    }
}

extension Reports {
    /// The week of `property` that holds `day` (default: the property's today), in its own zone;
    /// nil when there is no such property. Throws the ``ValidationFailure`` of an implausible year.
    public static func week(property: String, containing day: CivilDate?, now: Date, on c: PostgresConnection) throws -> ReportPeriod? {
        guard let zone = try zone(of: property, on: c) else { return nil }
        return try ReportPeriod.week(containing: day, now: now, timeZone: zone).get()
    }
}

extension Reports.WeeklyComplaints {
    /// The category table as CSV (``Reports/csvField(_:)``), Pareto order, for a spreadsheet.
    public var csv: String {
        let field = Reports.csvField
        var lines = ["week,category,count,previous,within_time,share,cumulative_share,vital_few"]
        for row in categories {
            lines.append([from.description, field(row.category ?? ""), String(row.count), String(row.previous), String(row.withinTime),
                          String(format: "%.4f", row.share), String(format: "%.4f", row.cumulativeShare), row.vitalFew ? "yes" : "no"]
                .joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
