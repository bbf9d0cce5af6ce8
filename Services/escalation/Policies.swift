import Desk
import Domain
import Foundation
import Messaging
import Postgres
import Synchronization

/// A property's clocks and working calendar, read from `sla_rules`, `properties` and
/// `calendar_days`, and kept for ``ttl``: a changed policy applies to clocks started from then on
/// (deadlines already written keep their due times).
final class Policies: Sendable {
    struct Policy: Sendable {
        let rules: [ClockRule]
        let moneyRules: [MoneyClockRule]
        let calendar: WorkCalendar
        let read: ContinuousClock.Instant
    }

    static let ttl = Duration.seconds(10)
    private let cache = Mutex<[String: Policy]>([:])

    func policy(for property: String, on c: PostgresConnection) throws -> Policy {
        if let p = cache.withLock({ $0[property] }), ContinuousClock.now - p.read < Self.ttl { return p }
        let fresh = Policy(rules: try Self.rules(for: property, on: c), moneyRules: try Self.moneyRules(for: property, on: c),
                           calendar: try Self.calendar(for: property, on: c), read: .now)
        cache.withLock { $0[property] = fresh }
        return fresh
    }

    /// The defaults, with the property's own rows in place of defaults of the same id.
    static func rules(for property: String, on c: PostgresConnection) throws -> [ClockRule] {
        let rows = try c.query("""
            SELECT DISTINCT ON (id) rule::text, enabled FROM sla_rules
            WHERE property IS NULL OR property = $1 ORDER BY id, property NULLS LAST
            """, [property])
        return try rows.compactMap { row in
            guard try row.decode(1, as: Bool.self) else { return nil }
            let rule = try DeskJSON.decoder.decode(ClockRule.self, from: Data(try row.decode(0, as: String.self).utf8))
            guard rule.problems.isEmpty else { throw UnusableRule(property: property, problems: rule.problems) }
            return rule
        }
    }

    /// A row of `sla_rules` that decodes but cannot be run (``ClockRule/problems``): refused as a
    /// row that does not decode is, with what is wrong, rather than planted.
    struct UnusableRule: Error, CustomStringConvertible {
        let property: String
        let problems: [String]
        var description: String { "sla_rules for \(property): \(problems.joined(separator: "; "))" }
    }

    /// The money clocks: ``MoneyClocks/rules``, with the property's rows in `money_clock_rules`
    /// (or rows for every property, `property` null) in place of those of the same id.
    static func moneyRules(for property: String, on c: PostgresConnection) throws -> [MoneyClockRule] {
        let own = try c.query("""
            SELECT DISTINCT ON (id) rule::text FROM money_clock_rules WHERE property IS NULL OR property = $1 ORDER BY id, property NULLS LAST
            """, [property]).map { try DeskJSON.decoder.decode(MoneyClockRule.self, from: Data(try $0.decode(0, as: String.self).utf8)) }
        let replaced = Set(own.map(\.id))
        return MoneyClocks.rules.filter { !replaced.contains($0.id) } + own
    }

    static func calendar(for property: String, on c: PostgresConnection) throws -> WorkCalendar {
        guard let row = try c.query("SELECT time_zone, calendar, opening_hours::text FROM properties WHERE code = $1", [property]).first else {
            throw PoisonMessage("no property \(property)")
        }
        let zoneName: String = try row.decode(0)
        guard let zone = TimeZone(identifier: zoneName) else { throw PoisonMessage("property \(property): unknown time zone \(zoneName)") }
        var exceptions: [CivilDate: WorkCalendar.DayKind] = [:]
        for day in try c.query("SELECT day::text, kind FROM calendar_days WHERE calendar = $1", [try row.decode(1, as: String.self)]) {
            if let d = CivilDate(try day.decode(0, as: String.self)), let kind = WorkCalendar.DayKind(rawValue: try day.decode(1)) {
                exceptions[d] = kind
            }
        }
        var hours: [Schedule: OpeningHours] = [.reception: .reception, .backOffice: .backOffice]
        if let text = try row.decode(2, as: String?.self) {
            let own = try DeskJSON.decoder.decode([String: OpeningHours].self, from: Data(text.utf8))
            for (name, h) in own {
                if let schedule = Schedule(rawValue: name) { hours[schedule] = h }
            }
        }
        return WorkCalendar(timeZone: zone, exceptions: exceptions, hours: hours)
    }

    /// Inserts the standards' default clocks that are missing; an existing row, edited or not,
    /// stays as it is.
    static func seedDefaults(on c: PostgresConnection) throws {
        for rule in StandardClocks.rules {
            try c.executeLater("INSERT INTO sla_rules (property, id, rule) VALUES (NULL, $1, $2::jsonb) ON CONFLICT DO NOTHING",
                               [rule.id, try PostgresJSON(encoding: rule, encoder: DeskJSON.encoder)])
        }
    }
}
