import Domain
import Foundation

/// A way to reach someone: a channel and an address on it. Staff addresses on the group-robot and
/// webhook channels are endpoint names from configuration (`PROPDESK_WECOM_ROBOTS` …), never
/// URLs or keys, so no credential is stored in the database or the repo.
public struct Contact: Codable, Sendable, Hashable {
    public var channel: ChannelKind
    public var address: String

    public init(_ channel: ChannelKind, _ address: String) {
        self.channel = channel
        self.address = address
    }
}

public enum ChannelKind: String, Codable, Sendable, CaseIterable {
    case email, webhook, wecom, dingtalk, sms, wechat, console
}

/// One line of the duty roster (table `duty_roster`): who holds a role, for which department
/// (nil: any), on which days and hours, and how to reach them in order of preference.
public struct RosterEntry: Sendable, Equatable {
    public var role: StaffRole
    public var department: Department?
    public var person: String
    public var language: Language
    public var contacts: [Contact]
    /// ISO weekdays the shift starts on (1 = Monday … 7 = Sunday); nil: every day.
    public var weekdays: Set<Int>?
    public var starts: TimeOfDay
    /// At or before `starts`: the shift runs past midnight into the next day (equal: all day).
    public var ends: TimeOfDay

    public init(role: StaffRole, department: Department? = nil, person: String, language: Language = .zhCN, contacts: [Contact],
                weekdays: Set<Int>? = nil, starts: TimeOfDay = TimeOfDay(seconds: 0), ends: TimeOfDay = TimeOfDay(seconds: 0)) {
        self.role = role
        self.department = department
        self.person = person
        self.language = language
        self.contacts = contacts
        self.weekdays = weekdays
        self.starts = starts
        self.ends = ends
    }

    /// On duty at `date`, read in `zone`.
    public func isOnDuty(at date: Date, in zone: TimeZone) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute, .second, .weekday], from: date)
        let now = (parts.hour ?? 0) * 3_600 + (parts.minute ?? 0) * 60 + (parts.second ?? 0)
        let today = ((parts.weekday ?? 1) + 5) % 7 + 1   // Foundation: 1 = Sunday; ISO: 1 = Monday
        let yesterday = today == 1 ? 7 : today - 1
        func startsOn(_ day: Int) -> Bool { weekdays?.contains(day) ?? true }
        if starts == ends { return startsOn(today) }
        if starts < ends { return startsOn(today) && now >= starts.seconds && now < ends.seconds }
        // Overnight: the evening part started today, the early-morning part yesterday.
        return (now >= starts.seconds && startsOn(today)) || (now < ends.seconds && startsOn(yesterday))
    }
}

public enum Language: String, Codable, Sendable, CaseIterable {
    case zhCN = "zh-CN"
    case en
}

/// Who an escalation's roles are at a moment. Pure.
public enum DutyRoster {
    /// The next role up when nobody holds `role` (the department is kept).
    public static func nextUp(_ role: StaffRole) -> StaffRole? {
        switch role {
        case .technician, .operator_, .controlRoom, .finance: .supervisor
        case .supervisor, .chiefEngineer: .departmentManager
        case .departmentManager: .viceGeneralManager
        case .viceGeneralManager: .generalManager
        case .generalManager: nil
        }
    }

    public struct Resolution: Sendable, Equatable {
        /// Who is told: on duty in the role asked, or in the first role up that has someone.
        public var people: [RosterEntry]
        /// The role they were reached in.
        public var reachedAs: StaffRole?
        /// Roles asked for (or passed on the way up) with nobody on duty: itself reported.
        public var gaps: [Recipient]
    }

    /// The people on duty for `recipient` at `date`: an entry for the role and the department, or
    /// for the role and any department; nobody → the next role up, and each empty rung is a gap.
    public static func resolve(_ recipient: Recipient, in entries: [RosterEntry], at date: Date, zone: TimeZone) -> Resolution {
        var gaps: [Recipient] = []
        var role: StaffRole? = recipient.role
        while let current = role {
            let holders = entries.filter { e in
                e.role == current && e.isOnDuty(at: date, in: zone)
                    && (e.department == nil || recipient.department == nil || e.department == recipient.department)
            }
            // Someone of the department itself first; a company-wide holder otherwise.
            let own = holders.filter { $0.department != nil && $0.department == recipient.department }
            let chosen = own.isEmpty ? holders : own
            if !chosen.isEmpty { return Resolution(people: chosen, reachedAs: current, gaps: gaps) }
            gaps.append(Recipient(current, recipient.department))
            role = nextUp(current)
        }
        return Resolution(people: [], reachedAs: nil, gaps: gaps)
    }
}

/// Exponential backoff with jitter for failed sends.
public struct RetryPolicy: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration
    /// Attempts on one channel before falling back to the person's next one.
    public var maxAttempts: Int

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(300), maxAttempts: Int = 5) {
        self.base = base
        self.cap = cap
        self.maxAttempts = maxAttempts
    }

    /// The wait after failed attempt `attempt` (1-based): base·2^(attempt−1), capped, scaled by
    /// `jitter` in 0...1 into its upper half ("equal jitter"), so retries of a storm spread out.
    public func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let exponential = base * (1 << min(max(attempt - 1, 0), 30))
        let capped = min(exponential, cap)
        return capped / 2 + capped / 2 * min(max(jitter, 0), 1)
    }
}

/// Roster gaps, told to the log once per property and empty role per interval rather than once
/// per message: a property with no roster would otherwise write a warning for every work order.
/// The first gap in an interval is logged at once; the ones after it are counted and the count
/// goes with the next line. (Each gap still makes its `notification.roster.gap` event.)
public struct GapLog: Sendable {
    public let interval: TimeInterval
    private var open: [String: (since: Date, suppressed: Int)] = [:]

    public init(interval: TimeInterval = 600) { self.interval = interval }

    /// Whether to log the gap of `role` at `property` now, and how many of it went unlogged
    /// since the last line.
    public mutating func note(property: String, role: String, at now: Date) -> (log: Bool, suppressed: Int) {
        let key = property + "\u{1F}" + role
        if let entry = open[key], now.timeIntervalSince(entry.since) < interval {
            open[key] = (entry.since, entry.suppressed + 1)
            return (false, 0)
        }
        let suppressed = open[key]?.suppressed ?? 0
        open[key] = (now, 0)
        return (true, suppressed)
    }
}
