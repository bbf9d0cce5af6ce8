import Foundation

/// What happens to a ticket that starts or stops a clock. Raw values are the last segment of the
/// event type (`ticket.complaint.acknowledged`, `workorder.engineering.assigned`).
public enum ClockEvent: String, Codable, Sendable, CaseIterable {
    case created, acknowledged
    case onSite = "on_site"
    case resolved, closed, reopened, cancelled
    /// A work order was assigned to a department (R1).
    case assigned
    /// The follow-up call reached the resident (F1–F4).
    case followedUp = "followed_up"
    /// The follow-up call did not reach the resident: it is due again.
    case followUpMissed = "follow_up_missed"
    /// The customer agreed to a later time: resolution clocks move to it (R4).
    case extended
    /// A key of the key register was handed over; the ticket's requested time is when it is due
    /// back (T9).
    case keyIssued = "key_issued"
    case keyReturned = "key_returned"

    /// Acknowledged, on site, resolved, closed: each implies the ones before it, so a clock that
    /// stops on acknowledgement is also met by a ticket that goes straight to on site.
    var progress: Int? {
        switch self {
        case .acknowledged: 1
        case .onSite: 2
        case .resolved: 3
        case .closed: 4
        default: nil
        }
    }

    /// True if this event meets a clock that stops on `stop`.
    public func meets(_ stop: ClockEvent) -> Bool {
        if self == stop { return true }
        guard let mine = progress, let needed = stop.progress else { return false }
        return mine >= needed
    }

    /// The clock event an event type names, if it names one.
    public init?(eventType: String) {
        let segments = eventType.split(separator: ".")
        guard segments.count == 3, segments[0] == "ticket" || segments[0] == "workorder",
              let event = ClockEvent(rawValue: String(segments[2])) else { return nil }
        if segments[0] == "workorder", event != .assigned { return nil }
        self = event
    }
}

/// When a step of a clock falls due, counted from the clock's start.
public indirect enum Due: Sendable, Equatable {
    /// Wall-clock seconds ("within 5 min"). With a schedule they count from its next opening,
    /// and what would fall after a close carries over to the next opening
    /// (``WorkCalendar/addingWallTime(_:_:to:)``), so a ladder keeps its spacing overnight.
    case after(seconds: Int)
    /// Seconds of the schedule's opening hours ("within 1 working hour").
    case openTime(seconds: Int)
    /// The close of the n-th working day after the start's day ("within 3 working days").
    case workingDays(Int)
    /// Calendar days ("within 2 days"). With a schedule, moved to its next opening if closed.
    case days(Int)
    /// A time of day, `daysLater` days (or working days) after the start's day ("by 09:00 next day").
    case at(TimeOfDay, daysLater: Int, onWorkingDays: Bool)
    /// The close of today's working day, or the next morning's opening if already closed (C4).
    case endOfWorkingDay
    /// The customer's requested time if it is later than the start, else `orElse` (C5 minor, I3).
    case requestedTime(orElse: Due)
}

extension Due: Codable {
    enum Key: String, CodingKey {
        case seconds, days, at
        case openSeconds = "open_seconds"
        case workingDays = "working_days"
        case daysLater = "days_later"
        case onWorkingDays = "on_working_days"
        case endOfWorkingDay = "end_of_working_day"
        case requestedTimeOrElse = "requested_time_or_else"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let present = c.allKeys
        guard present.count >= 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a due time needs one of \(Key.choices)"))
        }
        func nonNegative(_ key: Key) throws -> Int {
            let v = try c.decode(Int.self, forKey: key)
            guard v >= 0 else { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be 0 or more") }
            return v
        }
        if c.contains(.seconds) {
            self = .after(seconds: try nonNegative(.seconds))
        } else if c.contains(.openSeconds) {
            self = .openTime(seconds: try nonNegative(.openSeconds))
        } else if c.contains(.workingDays) {
            self = .workingDays(try nonNegative(.workingDays))
        } else if c.contains(.days) {
            self = .days(try nonNegative(.days))
        } else if c.contains(.at) {
            self = .at(try c.decode(TimeOfDay.self, forKey: .at), daysLater: try c.decodeIfPresent(Int.self, forKey: .daysLater) ?? 0,
                       onWorkingDays: try c.decodeIfPresent(Bool.self, forKey: .onWorkingDays) ?? false)
        } else if c.contains(.endOfWorkingDay) {
            self = .endOfWorkingDay
        } else if c.contains(.requestedTimeOrElse) {
            self = .requestedTime(orElse: try c.decode(Due.self, forKey: .requestedTimeOrElse))
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a due time needs one of \(Key.choices)"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .after(let s): try c.encode(s, forKey: .seconds)
        case .openTime(let s): try c.encode(s, forKey: .openSeconds)
        case .workingDays(let n): try c.encode(n, forKey: .workingDays)
        case .days(let n): try c.encode(n, forKey: .days)
        case .at(let t, let later, let working):
            try c.encode(t, forKey: .at)
            try c.encode(later, forKey: .daysLater)
            try c.encode(working, forKey: .onWorkingDays)
        case .endOfWorkingDay: try c.encode(true, forKey: .endOfWorkingDay)
        case .requestedTime(let orElse): try c.encode(orElse, forKey: .requestedTimeOrElse)
        }
    }
}

extension Due.Key {
    static var choices: String {
        "seconds, open_seconds, working_days, days, at (+ days_later, on_working_days), end_of_working_day, requested_time_or_else"
    }
}

/// Who is told when a step falls due: a role, in a department (nil: the departments handling
/// the ticket).
public struct Recipient: Codable, Sendable, Hashable {
    public var role: StaffRole
    public var department: Department?

    public init(_ role: StaffRole, _ department: Department? = nil) {
        self.role = role
        self.department = department
    }
}

/// One rung of a clock's ladder.
public struct ClockStep: Codable, Sendable, Equatable {
    public var due: Due
    public var tell: [Recipient]

    public init(_ due: Due, tell: [Recipient]) {
        self.due = due
        self.tell = tell
    }
}

/// A clock from STANDARDS.md, as data (table `sla_rules`): which tickets it applies to, what
/// starts and what stops it, which hours it counts, and its ladder of steps.
public struct ClockRule: Codable, Sendable, Equatable {
    /// What firing a step means: an escalation (someone is late), or a follow-up call now due.
    public enum Purpose: String, Codable, Sendable {
        case escalation
        case followUp = "follow_up"
    }

    /// Which tickets, all conditions together; an absent condition matches everything.
    public struct Applies: Codable, Sendable, Equatable {
        public var kinds: [TicketKind]?
        public var severities: [ComplaintSeverity]?
        public var emergencyTypes: [EmergencyType]?
        /// Any of these words in the ticket's category (case-insensitive).
        public var categories: [String]?
        /// Any of these words in the ticket's category or text (case-insensitive): an emergency
        /// described in words (``StandardEmergencies``).
        public var keywords: [String]?
        /// Only tickets with (true) or without (false) a customer's requested time.
        public var requestedTime: Bool?
        /// Only clocks starting before / at or after this local time (the R3 cut-off).
        public var startedBefore: TimeOfDay?
        public var startedAtOrAfter: TimeOfDay?

        public init(kinds: [TicketKind]? = nil, severities: [ComplaintSeverity]? = nil, emergencyTypes: [EmergencyType]? = nil,
                    categories: [String]? = nil, keywords: [String]? = nil, requestedTime: Bool? = nil, startedBefore: TimeOfDay? = nil,
                    startedAtOrAfter: TimeOfDay? = nil) {
            self.kinds = kinds
            self.severities = severities
            self.emergencyTypes = emergencyTypes
            self.categories = categories
            self.keywords = keywords
            self.requestedTime = requestedTime
            self.startedBefore = startedBefore
            self.startedAtOrAfter = startedAtOrAfter
        }

        enum CodingKeys: String, CodingKey {
            case kinds, severities, categories, keywords
            case emergencyTypes = "emergency_types"
            case requestedTime = "requested_time"
            case startedBefore = "started_before"
            case startedAtOrAfter = "started_at_or_after"
        }
    }

    /// `C1`, `R3-after-17`: unique per property.
    public var id: String
    /// The STANDARDS.md rule it implements.
    public var standard: String
    public var title: String
    public var purpose: Purpose
    public var applies: Applies
    public var starts: ClockEvent
    /// The event that meets the clock (or any later progress: ``ClockEvent/meets(_:)``).
    public var stops: ClockEvent
    /// The opening hours it respects; nil: around the clock (emergencies).
    public var schedule: Schedule?
    public var steps: [ClockStep]
    /// Each start begins a new clock, superseding one still running (the follow-up call that
    /// missed again); otherwise a clock starts once per round and later starts are ignored.
    public var repeats: Bool
    /// Events that start the clock again in the ticket's new round, counted from the event: a
    /// reopened ticket's work is due again (`restarts_on: ["reopened"]`).
    public var restartsOn: [ClockEvent]

    public init(id: String, standard: String, title: String, purpose: Purpose = .escalation, applies: Applies, starts: ClockEvent,
                stops: ClockEvent, schedule: Schedule?, steps: [ClockStep], repeats: Bool = false, restartsOn: [ClockEvent] = []) {
        self.id = id
        self.standard = standard
        self.title = title
        self.purpose = purpose
        self.applies = applies
        self.starts = starts
        self.stops = stops
        self.schedule = schedule
        self.steps = steps
        self.repeats = repeats
        self.restartsOn = restartsOn
    }

    enum CodingKeys: String, CodingKey {
        case id, standard, title, purpose, applies, starts, stops, schedule, steps, repeats
        case restartsOn = "restarts_on"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), standard: try c.decode(String.self, forKey: .standard),
                  title: try c.decode(String.self, forKey: .title),
                  purpose: try c.decode(Purpose.self, forKey: .purpose),
                  applies: try c.decode(Applies.self, forKey: .applies), starts: try c.decode(ClockEvent.self, forKey: .starts),
                  stops: try c.decode(ClockEvent.self, forKey: .stops), schedule: try c.decodeIfPresent(Schedule.self, forKey: .schedule),
                  steps: try c.decode([ClockStep].self, forKey: .steps), repeats: try c.decodeIfPresent(Bool.self, forKey: .repeats) ?? false,
                  restartsOn: try c.decodeIfPresent([ClockEvent].self, forKey: .restartsOn) ?? [])
    }

    /// Problems that make the rule unusable, for the loader to report.
    public var problems: [String] {
        var p: [String] = []
        if id.isEmpty || id.count > 40 { p.append("id must be 1–40 characters") }
        // It names the breach's event type (escalation.<standard>.breached), a routing-key segment.
        if standard.isEmpty || standard.utf8.count > 40
            || !standard.utf8.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }) {
            p.append("\(id): standard must be 1–40 letters, digits or _ (it names the event escalation.<standard>.breached)")
        }
        if steps.isEmpty { p.append("\(id): a clock needs at least one step") }
        if steps.contains(where: { $0.tell.isEmpty }) { p.append("\(id): every step must tell someone") }
        if starts.meets(stops) { p.append("\(id): it would stop as it starts") }
        for event in restartsOn where event.meets(stops) { p.append("\(id): restarting on \(event.rawValue) would stop it at once") }
        return p
    }
}

/// The facts about a ticket that decide which clocks apply.
public struct ClockTicket: Sendable, Equatable {
    public var kind: TicketKind
    public var severity: ComplaintSeverity?
    public var emergencyType: EmergencyType?
    public var category: String?
    public var requestedAt: Date?
    /// What the caller said (the events' masked summary): keyword rules read it.
    public var text: String?

    public init(kind: TicketKind, severity: ComplaintSeverity? = nil, emergencyType: EmergencyType? = nil, category: String? = nil,
                requestedAt: Date? = nil, text: String? = nil) {
        self.kind = kind
        self.severity = severity
        self.emergencyType = emergencyType
        self.category = category
        self.requestedAt = requestedAt
        self.text = text
    }
}

/// A deadline to write: one step of one clock.
public struct PlannedDeadline: Sendable, Equatable {
    public var ruleID: String
    public var standard: String
    public var title: String
    public var purpose: ClockRule.Purpose
    /// 1-based position on the ladder.
    public var step: Int
    public var dueAt: Date
    public var tell: [Recipient]
    /// From a ``ClockRule/repeats`` rule: a new clock for every start.
    public var repeats: Bool
}

/// Turns ticket events into deadlines, on a property's calendar. Pure.
public enum DeadlinePlanner {
    /// The deadlines that `event`, at `start`, starts for `ticket`: every step of every clock that
    /// starts (or restarts) on it and applies. Steps are in ladder order; each is due relative to
    /// `start`.
    public static func deadlines(for event: ClockEvent, at start: Date, ticket: ClockTicket, rules: [ClockRule],
                                 calendar: WorkCalendar) -> [PlannedDeadline] {
        rules.filter { ($0.starts == event || $0.restartsOn.contains(event)) && applies($0, to: ticket, at: start, calendar: calendar) }
            .flatMap { rule in
            rule.steps.enumerated().map { index, step in
                PlannedDeadline(ruleID: rule.id, standard: rule.standard, title: rule.title, purpose: rule.purpose, step: index + 1,
                                dueAt: due(step.due, from: start, ticket: ticket, schedule: rule.schedule, calendar: calendar),
                                tell: step.tell, repeats: rule.repeats)
            }
        }
    }

    /// The rules whose running clocks a customer-agreed extension moves: those that wait for the
    /// ticket to be resolved (or closed). Response clocks (acknowledge, be on site) do not move.
    public static func rulesExtended(rules: [ClockRule]) -> [String] {
        rules.filter { $0.stops == .resolved || $0.stops == .closed }.map(\.id)
    }

    /// The rules whose running clocks `event` meets.
    public static func rulesMet(by event: ClockEvent, rules: [ClockRule]) -> [String] {
        rules.filter { event.meets($0.stops) }.map(\.id)
    }

    public static func applies(_ rule: ClockRule, to t: ClockTicket, at start: Date, calendar: WorkCalendar) -> Bool {
        let a = rule.applies
        if let kinds = a.kinds, !kinds.contains(t.kind) { return false }
        if let s = a.severities, !(t.severity.map(s.contains) ?? false) { return false }
        if let e = a.emergencyTypes, !(t.emergencyType.map(e.contains) ?? false) { return false }
        if let words = a.categories {
            let category = t.category?.lowercased() ?? ""
            if !words.contains(where: { !$0.isEmpty && category.contains($0.lowercased()) }) { return false }
        }
        if let words = a.keywords {
            let text = ((t.category ?? "") + "\n" + (t.text ?? "")).lowercased()
            if !words.contains(where: { !$0.isEmpty && text.contains($0.lowercased()) }) { return false }
        }
        if let wanted = a.requestedTime, wanted != (t.requestedAt.map { $0 > start } ?? false) { return false }
        let local = calendar.time(of: start)
        if let cut = a.startedBefore, !(local < cut) { return false }
        if let cut = a.startedAtOrAfter, local < cut { return false }
        return true
    }

    public static func due(_ due: Due, from start: Date, ticket: ClockTicket, schedule: Schedule?, calendar: WorkCalendar) -> Date {
        func snapped(_ d: Date) -> Date { schedule.map { calendar.nextOpening($0, atOrAfter: d) } ?? d }
        switch due {
        case .after(let seconds):
            return schedule.map { calendar.addingWallTime(seconds, $0, to: start) } ?? start.addingTimeInterval(Double(seconds))
        case .openTime(let seconds):
            return calendar.addingOpenTime(seconds, schedule ?? .reception, to: start)
        case .workingDays(let n):
            return calendar.closeOfWorkingDay(n, after: start, schedule ?? .backOffice)
        case .days(let n):
            return snapped(start.addingTimeInterval(Double(n) * 86_400))
        case .at(let time, let later, let working):
            return calendar.at(time, daysLater: later, onWorkingDays: working, from: start)
        case .endOfWorkingDay:
            return calendar.endOfWorkingDay(after: start, schedule ?? .backOffice)
        case .requestedTime(let orElse):
            if let requested = ticket.requestedAt, requested > start { return requested }
            return self.due(orElse, from: start, ticket: ticket, schedule: schedule, calendar: calendar)
        }
    }
}
