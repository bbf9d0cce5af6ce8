/// R2's emergencies as callers describe them (掉闸断电, 跑水, 停梯, 电梯困人, 消防报警, serious
/// leaks): the words, in Chinese and English, that make a ticket an emergency whatever kind the
/// desk picked. Callers rarely pick the right kind; "3号楼电梯困人" filed as a repair still reaches
/// engineering and security within a minute, urgent. One list: the routing default
/// (``StandardRouting``) and the clock default (``StandardClocks``, rule `R2-text`) are built
/// from it, and both stay data: a property's own rows with the same ids replace them.
public enum StandardEmergencies {
    public static let signals: [EmergencyType: [String]] = [
        .powerTrip: ["掉闸", "跳闸", "断电", "停电", "power cut", "power outage", "blackout", "breaker tripped", "no power"],
        .waterLeak: ["跑水", "爆管", "水管爆", "水漫", "严重漏水", "漏水严重", "大量漏水", "burst pipe", "flooding", "flooded", "water gushing"],
        .stoppedLift: ["停梯", "电梯停了", "电梯停运", "电梯故障", "lift stopped", "elevator stopped", "lift broke down", "elevator out of order"],
        .liftEntrapment: ["电梯困人", "困人", "被困", "关在电梯", "trapped in the lift", "trapped in the elevator", "stuck in the lift",
                          "stuck in the elevator", "stuck in a lift", "stuck in an elevator"],
        .fireAlarm: ["消防报警", "火警", "着火", "起火", "冒烟", "烟雾报警", "fire alarm", "on fire", "smoke alarm", "full of smoke"],
    ]

    /// Every signal word, in a stable order.
    public static var keywords: [String] {
        EmergencyType.allCases.flatMap { signals[$0] ?? [] }
    }

    /// The kinds a desk files emergencies under by mistake: the words make them emergencies. (An
    /// inquiry is not among them: "明天停电吗" asks about a planned cut.)
    public static let misfiledKinds: [TicketKind] = [.repair, .complaint, .publicAnomaly]

    /// The emergency `text` describes, if any (case-insensitive, first in ``EmergencyType`` order).
    public static func detect(_ text: String) -> EmergencyType? {
        let lower = text.lowercased()
        return EmergencyType.allCases.first { type in (signals[type] ?? []).contains { lower.contains($0.lowercased()) } }
    }
}

/// Routing defaults defined in code, beside those seeded by migration 0002: a row of
/// `routing_rules` with the same id replaces one for everyone (or, with a property, for it).
public enum StandardRouting {
    /// R2 by the words: before every kind's own rule, engineering AND security, urgent.
    public static let emergencyByText = RoutingRule(
        id: "emergency-by-text", standard: "R2", position: 5, kinds: StandardEmergencies.misfiledKinds,
        keywords: StandardEmergencies.keywords, departments: [.engineering, .security], priority: .urgent)

    public static let rules = [emergencyByText]

    /// `stored` (the table's rows) with each code default added unless a row has its id.
    public static func merged(with stored: [RoutingRule]) -> [RoutingRule] {
        let ids = Set(stored.map(\.id))
        return stored + rules.filter { !ids.contains($0.id) }
    }
}
