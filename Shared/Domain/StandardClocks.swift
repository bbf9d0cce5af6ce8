import Foundation

/// Every clock STANDARDS.md puts on a ticket, as the default rows of table `sla_rules` (the
/// escalation service inserts any that are missing when it starts; a property's own rows with the
/// same id replace them). Judgement calls where the standards are silent are noted per rule.
///
/// Hours: emergencies (R2), door opening (T1) and major complaints to the GM (C3) run around the
/// clock. Front-desk clocks count reception hours; department work counts back-office hours, so a
/// back-office clock never falls due at 3 a.m.
public enum StandardClocks {
    static let minute = 60
    static let hour = 3_600
    /// The follow-up call made again after a miss: the same call, so reports count only the first.
    public static let followUpRetryID = "F-retry"

    private static func tell(_ recipients: Recipient...) -> [Recipient] { recipients }
    private static func at(_ text: String) -> TimeOfDay { TimeOfDay(text)! }

    /// A clock that waits for the work to be done runs again when the ticket is reopened (the
    /// resident was not satisfied, F4): the redo is due on the same terms, counted from the
    /// reopening. Response clocks (told, on site, assigned) were met in the first round and stay
    /// met; F4 covers sending the ticket back.
    public static let rules: [ClockRule] = (complaints + repairs + desk + followUps).map { rule in
        var rule = rule
        if rule.purpose == .escalation, rule.starts == .created, rule.stops == .resolved { rule.restartsOn = [.reopened] }
        return rule
    }

    // MARK: Complaints (C1–C7)

    static let complaints: [ClockRule] = [
        ClockRule(id: "C1", standard: "C1", title: "Complaint reported to the supervisor and department manager within 5 min",
                  applies: .init(kinds: [.complaint]), starts: .created, stops: .acknowledged, schedule: .reception,
                  steps: [ClockStep(.after(seconds: 5 * minute), tell: tell(.init(.supervisor, .customerService), .init(.departmentManager))),
                          ClockStep(.after(seconds: 15 * minute), tell: tell(.init(.generalManager, .management)))]),
        ClockRule(id: "C2", standard: "C2", title: "Supervisor or manager on site with the complainant within 10 min",
                  applies: .init(kinds: [.complaint]), starts: .created, stops: .onSite, schedule: .reception,
                  steps: [ClockStep(.after(seconds: 10 * minute), tell: tell(.init(.supervisor, .customerService), .init(.departmentManager))),
                          ClockStep(.after(seconds: 30 * minute), tell: tell(.init(.generalManager, .management)))]),
        // Major complaints reach the GM at any hour.
        ClockRule(id: "C3", standard: "C3", title: "Major complaint reported to the general manager within 10 min",
                  applies: .init(kinds: [.complaint], severities: [.major]), starts: .created, stops: .acknowledged, schedule: nil,
                  steps: [ClockStep(.after(seconds: 10 * minute), tell: tell(.init(.generalManager, .management))),
                          ClockStep(.after(seconds: 30 * minute), tell: tell(.init(.viceGeneralManager, .management)))]),
        ClockRule(id: "C4", standard: "C4", title: "Result to the department manager and GM by the end of the working day or the next morning meeting",
                  applies: .init(kinds: [.complaint]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.endOfWorkingDay, tell: tell(.init(.departmentManager), .init(.generalManager, .management)))]),
        ClockRule(id: "C5-major-day", standard: "C5", title: "Major complaint to the property manager the same day",
                  applies: .init(kinds: [.complaint], severities: [.major]), starts: .created, stops: .acknowledged, schedule: .backOffice,
                  steps: [ClockStep(.endOfWorkingDay, tell: tell(.init(.generalManager, .management)))]),
        ClockRule(id: "C5-major-answer", standard: "C5", title: "Major complaint: a clear answer within 2 days",
                  applies: .init(kinds: [.complaint], severities: [.major]), starts: .created, stops: .onSite, schedule: .backOffice,
                  steps: [ClockStep(.days(2), tell: tell(.init(.generalManager, .management)))]),
        ClockRule(id: "C5-major", standard: "C5", title: "Major complaint resolved within 10 days",
                  applies: .init(kinds: [.complaint], severities: [.major]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.days(10), tell: tell(.init(.generalManager, .management)))]),
        ClockRule(id: "C5-important-head", standard: "C5", title: "Important complaint to the department head within 1 working hour",
                  applies: .init(kinds: [.complaint], severities: [.important]), starts: .created, stops: .acknowledged, schedule: .backOffice,
                  steps: [ClockStep(.openTime(seconds: hour), tell: tell(.init(.departmentManager)))]),
        ClockRule(id: "C5-important", standard: "C5", title: "Important complaint resolved within 3 days",
                  applies: .init(kinds: [.complaint], severities: [.important]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.days(3), tell: tell(.init(.departmentManager), .init(.generalManager, .management)))]),
        ClockRule(id: "C5-minor", standard: "C5", title: "Minor complaint resolved within 2 days or by the customer's requested time",
                  applies: .init(kinds: [.complaint], severities: [.minor]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.requestedTime(orElse: .days(2)), tell: tell(.init(.supervisor), .init(.departmentManager)))]),
        // "Told the result the same day": the desk closes the ticket once the complainant has heard.
        ClockRule(id: "C6", standard: "C6", title: "Complainant told the result the same day",
                  applies: .init(kinds: [.complaint]), starts: .resolved, stops: .closed, schedule: .reception,
                  steps: [ClockStep(.endOfWorkingDay, tell: tell(.init(.supervisor, .customerService)))]),
        ClockRule(id: "C7", standard: "C7", title: "Department feedback to customer service within 3 working days",
                  applies: .init(kinds: [.complaint]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.workingDays(3), tell: tell(.init(.supervisor, .customerService), .init(.departmentManager)))]),
    ]

    // MARK: Repairs and emergencies (R1–R4, R6)

    static let r2Steps = [
        ClockStep(.after(seconds: minute), tell: tell(.init(.supervisor, .engineering), .init(.technician, .engineering),
                                                      .init(.supervisor, .security), .init(.controlRoom, .security))),
        ClockStep(.after(seconds: 5 * minute), tell: tell(.init(.departmentManager, .engineering), .init(.departmentManager, .security))),
        ClockStep(.after(seconds: 15 * minute), tell: tell(.init(.generalManager, .management))),
    ]

    static let repairs: [ClockRule] = [
        ClockRule(id: "R1", standard: "R1", title: "Repair sent to engineering as a work order within 15 min",
                  applies: .init(kinds: [.repair]), starts: .created, stops: .assigned, schedule: .reception,
                  steps: [ClockStep(.after(seconds: 15 * minute), tell: tell(.init(.supervisor, .customerService)))]),
        // Around the clock, holidays included: engineering and security within 1 minute.
        ClockRule(id: "R2", standard: "R2", title: "Emergency: engineering and security called within 1 min",
                  applies: .init(kinds: [.emergency]), starts: .created, stops: .acknowledged, schedule: nil, steps: r2Steps),
        // The same, for an emergency the caller described but the desk filed as something else.
        ClockRule(id: "R2-text", standard: "R2", title: "Emergency in the caller's words: engineering and security called within 1 min",
                  applies: .init(kinds: StandardEmergencies.misfiledKinds, keywords: StandardEmergencies.keywords),
                  starts: .created, stops: .acknowledged, schedule: nil, steps: r2Steps),
        // The cut-off (R3): before 17:00, not repaired that day → reminded / GM told by 09:00 next day.
        ClockRule(id: "R3-before-17", standard: "R3", title: "Filed before 17:00 and not repaired that day: engineering reminded by 09:00 next day",
                  applies: .init(kinds: [.repair], startedBefore: at("17:00")), starts: .created, stops: .resolved, schedule: nil,
                  steps: [ClockStep(.at(at("09:00"), daysLater: 1, onWorkingDays: false),
                                    tell: tell(.init(.supervisor, .engineering), .init(.generalManager, .management)))]),
        // After 17:00: reminded at 12:00 next day, and again to fix it by 17:00 that day.
        ClockRule(id: "R3-after-17", standard: "R3", title: "Filed after 17:00 and not repaired by 12:00 next day: reminded, due by 17:00",
                  applies: .init(kinds: [.repair], startedAtOrAfter: at("17:00")), starts: .created, stops: .resolved, schedule: nil,
                  steps: [ClockStep(.at(at("12:00"), daysLater: 1, onWorkingDays: false), tell: tell(.init(.supervisor, .engineering))),
                          ClockStep(.at(at("17:00"), daysLater: 1, onWorkingDays: false),
                                    tell: tell(.init(.departmentManager, .engineering), .init(.generalManager, .management)))]),
        ClockRule(id: "R4-survey", standard: "R4", title: "Site survey within 1 working day",
                  applies: .init(kinds: [.repair]), starts: .created, stops: .onSite, schedule: .backOffice,
                  steps: [ClockStep(.workingDays(1), tell: tell(.init(.supervisor, .engineering)))]),
        // Single-trade: 3 working days. Multi-trade work (7) and agreed extensions are a property's own rows.
        ClockRule(id: "R4-repair", standard: "R4", title: "Repair done within 3 working days",
                  applies: .init(kinds: [.repair]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.workingDays(3), tell: tell(.init(.supervisor, .engineering))),
                          ClockStep(.workingDays(7), tell: tell(.init(.departmentManager, .engineering), .init(.generalManager, .management)))]),
        // Not finished on the spot: the customer hears how it goes every 4 working hours.
        ClockRule(id: "R6", standard: "R6", title: "Repair in progress: customer updated with an expected finish time",
                  applies: .init(kinds: [.repair, .emergency]), starts: .onSite, stops: .resolved, schedule: .reception,
                  steps: [ClockStep(.openTime(seconds: 4 * hour), tell: tell(.init(.operator_, .customerService))),
                          ClockStep(.openTime(seconds: 8 * hour), tell: tell(.init(.operator_, .customerService), .init(.supervisor, .engineering))),
                          ClockStep(.openTime(seconds: 12 * hour), tell: tell(.init(.operator_, .customerService), .init(.departmentManager, .engineering)))]),
    ]

    // MARK: Inquiries and desk services (I3, I4, T1, T3–T8)

    static let desk: [ClockRule] = [
        ClockRule(id: "I3", standard: "I3", title: "Inquiry answered by the committed reply time",
                  applies: .init(kinds: [.inquiry], requestedTime: true), starts: .created, stops: .resolved, schedule: .reception,
                  steps: [ClockStep(.requestedTime(orElse: .after(seconds: 72 * hour)), tell: tell(.init(.supervisor, .customerService)))]),
        ClockRule(id: "I4", standard: "I4", title: "Every hotline message answered within 72 h",
                  applies: .init(kinds: [.inquiry], requestedTime: false), starts: .created, stops: .resolved, schedule: .reception,
                  steps: [ClockStep(.after(seconds: 72 * hour), tell: tell(.init(.supervisor, .customerService)))]),
        ClockRule(id: "T1", standard: "T1", title: "Staff at the door within 10 min",
                  applies: .init(kinds: [.doorOpen]), starts: .created, stops: .onSite, schedule: nil,
                  steps: [ClockStep(.after(seconds: 10 * minute), tell: tell(.init(.supervisor, .concierge), .init(.supervisor, .security)))]),
        ClockRule(id: "T3", standard: "T3", title: "Parcel delivered to the room within 10 min",
                  applies: .init(kinds: [.parcel]), starts: .created, stops: .resolved, schedule: .reception,
                  steps: [ClockStep(.after(seconds: 10 * minute), tell: tell(.init(.supervisor, .concierge)))]),
        ClockRule(id: "T4-inspection", standard: "T4", title: "Move-out joint inspection within 10 min",
                  applies: .init(kinds: [.moveOut]), starts: .created, stops: .onSite, schedule: .reception,
                  steps: [ClockStep(.after(seconds: 10 * minute), tell: tell(.init(.supervisor, .customerService)))]),
        ClockRule(id: "T4-cleaning", standard: "T4", title: "Room cleaned within 2 days of move-out",
                  applies: .init(kinds: [.moveOut]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.days(2), tell: tell(.init(.supervisor, .cleaning)))]),
        ClockRule(id: "T5", standard: "T5", title: "Move-in joint inspection within 3 days",
                  applies: .init(kinds: [.moveIn]), starts: .created, stops: .onSite, schedule: .backOffice,
                  steps: [ClockStep(.days(3), tell: tell(.init(.supervisor, .customerService))),
                          ClockStep(.days(5), tell: tell(.init(.generalManager, .management)))]),
        ClockRule(id: "T6", standard: "T6", title: "Public-area anomaly to the department manager within 15 min",
                  applies: .init(kinds: [.publicAnomaly]), starts: .created, stops: .acknowledged, schedule: nil,
                  steps: [ClockStep(.after(seconds: 15 * minute), tell: tell(.init(.departmentManager)))]),
        ClockRule(id: "T7", standard: "T7", title: "Nameplate made within 7 days",
                  applies: .init(kinds: [.nameplate]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.days(7), tell: tell(.init(.supervisor, .customerService)))]),
        // A key not back when it was due is the concierge supervisor's, at any hour (T9).
        ClockRule(id: "T9-key-due", standard: "T9", title: "Lent key returned by its due time",
                  applies: .init(kinds: [.keyLoan]), starts: .keyIssued, stops: .keyReturned, schedule: nil,
                  steps: [ClockStep(.requestedTime(orElse: .after(seconds: 24 * hour)),
                                    tell: tell(.init(.supervisor, .concierge), .init(.departmentManager, .concierge)))]),
        ClockRule(id: "T8", standard: "T8", title: "Decoration application reviewed within 2 days",
                  applies: .init(kinds: [.decoration]), starts: .created, stops: .resolved, schedule: .backOffice,
                  steps: [ClockStep(.days(2), tell: tell(.init(.supervisor, .engineering)))]),
    ]

    // MARK: Follow-up calls (F1–F4)

    static let followUps: [ClockRule] = [
        ClockRule(id: "F1", standard: "F1", title: "Resolved complaint followed up within 24 h", purpose: .followUp,
                  applies: .init(kinds: [.complaint]), starts: .resolved, stops: .followedUp, schedule: .reception,
                  steps: [ClockStep(.after(seconds: 24 * hour), tell: tell(.init(.operator_, .customerService)))]),
        ClockRule(id: "F2-safety", standard: "F2", title: "Safety-facility repair followed up within 2 days", purpose: .followUp,
                  applies: .init(kinds: [.repair, .emergency], categories: ["safety", "fire", "lift", "消防", "电梯", "安全"]),
                  starts: .resolved, stops: .followedUp, schedule: .reception,
                  steps: [ClockStep(.days(2), tell: tell(.init(.operator_, .customerService)))]),
        ClockRule(id: "F2-leak", standard: "F2", title: "Leak repair followed up within 3 days of the water test", purpose: .followUp,
                  applies: .init(kinds: [.repair, .emergency], categories: ["leak", "water", "漏水", "跑水"]),
                  starts: .resolved, stops: .followedUp, schedule: .reception,
                  steps: [ClockStep(.days(3), tell: tell(.init(.operator_, .customerService)))]),
        // Every completed repair: a call within 1 working day (F3; F2's "other repairs" is looser).
        ClockRule(id: "F3", standard: "F3", title: "Completed repair followed up by phone within 1 working day", purpose: .followUp,
                  applies: .init(kinds: [.repair, .emergency]), starts: .resolved, stops: .followedUp, schedule: .reception,
                  steps: [ClockStep(.workingDays(1), tell: tell(.init(.operator_, .customerService)))]),
        // Not reached: call again after 2 reception hours, then the supervisor hears of it; every
        // missed call starts this again.
        ClockRule(id: followUpRetryID, standard: "F4", title: "Resident not reached on the follow-up call: call again", purpose: .followUp,
                  applies: .init(), starts: .followUpMissed, stops: .followedUp, schedule: .reception,
                  steps: [ClockStep(.openTime(seconds: 2 * hour), tell: tell(.init(.operator_, .customerService))),
                          ClockStep(.openTime(seconds: 8 * hour), tell: tell(.init(.operator_, .customerService), .init(.supervisor, .customerService)))],
                  repeats: true),
        // A problem found on the follow-up goes back to the department in writing within 24 h.
        ClockRule(id: "F4", standard: "F4", title: "Problem found on follow-up back to the department within 24 h",
                  applies: .init(kinds: [.complaint, .repair, .emergency]), starts: .reopened, stops: .assigned, schedule: nil,
                  steps: [ClockStep(.after(seconds: 24 * hour), tell: tell(.init(.supervisor, .customerService), .init(.departmentManager)))]),
    ]
}
