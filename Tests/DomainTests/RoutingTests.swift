import Testing
@testable import Domain

@Suite("Department routing")
struct RoutingTests {
    /// A few of the seeded defaults (Shared/Schema/Migrations/0002_tickets.sql), as data.
    static let defaults = [
        RoutingRule(id: "emergency", standard: "R2", position: 10, kinds: [.emergency], departments: [.engineering, .security],
                    priority: .urgent),
        RoutingRule(id: "lock-change", standard: "T2", position: 20, kinds: [.lockChange],
                    departments: [.customerService, .concierge, .engineering], priority: .high),
        RoutingRule(id: "repair-by-keyword", standard: "R1", position: 210, kinds: [.repair], keywords: ["漏水", "leak"],
                    departments: [.engineering]),
        RoutingRule(id: "complaint-cleaning", standard: "C1", position: 400, kinds: [.complaint], categories: ["cleaning"],
                    departments: [.customerService, .cleaning]),
    ]

    func route(_ kind: TicketKind, category: String? = nil, content: String = "", severity: ComplaintSeverity? = nil,
               emergency: EmergencyType? = nil, property: String = "sunrise-garden", rules: [RoutingRule] = defaults) -> RoutingDecision {
        DepartmentRouter.route(RoutableTicket(property: property, kind: kind, category: category, content: content,
                                              severity: severity, emergencyType: emergency), rules: rules)
    }

    @Test func aStuckLiftGoesToEngineeringAndSecurityAsUrgent_R2() {
        let d = route(.emergency, content: "3号楼电梯停了", emergency: .stoppedLift)
        #expect(d.queues == [.department(.engineering), .department(.security)])
        #expect(d.priority == .urgent)
        #expect(d.ruleID == "emergency")
    }

    @Test func aLockChangeNeedsCustomerServiceConciergeAndEngineering_T2() {
        #expect(route(.lockChange).queues == [.department(.customerService), .department(.concierge), .department(.engineering)])
    }

    @Test func keywordsMatchChineseAndEnglishInTheContent() {
        #expect(route(.repair, content: "卫生间漏水").queues == [.department(.engineering)])
        #expect(route(.repair, content: "Kitchen pipe LEAK").queues == [.department(.engineering)])
    }

    @Test func categoriesMatchWhateverTheirCase() {
        #expect(route(.complaint, category: "Cleaning").queues == [.department(.customerService), .department(.cleaning)])
    }

    @Test func whatNoRuleMatchesGoesToTriageNeverNowhere() {
        let d = route(.complaint, category: "aliens")
        #expect(d.queues == [.triage])
        #expect(d.ruleID == nil)
        #expect(route(.repair, content: "something odd").queues == [.triage])
    }

    @Test func aMajorComplaintIsAtLeastHighPriority_C3() {
        #expect(route(.complaint, category: "cleaning", severity: .major).priority == .high)
        #expect(route(.complaint, category: "cleaning", severity: .minor).priority == .normal)
    }

    @Test func aPropertysOwnRuleIsTriedBeforeTheDefaults() {
        let own = RoutingRule(id: "harbour-repairs", property: "harbour-tower", position: 900, kinds: [.repair],
                              departments: [.management])
        let rules = Self.defaults + [own]
        #expect(route(.repair, content: "leak", property: "harbour-tower", rules: rules).queues == [.department(.management)])
        #expect(route(.repair, content: "leak", property: "sunrise-garden", rules: rules).queues == [.department(.engineering)])
    }

    @Test func theFirstMatchingRuleByPositionDecides() {
        let early = RoutingRule(id: "early", position: 1, kinds: [.repair], departments: [.cleaning])
        #expect(route(.repair, content: "leak", rules: Self.defaults + [early]).ruleID == "early")
    }

    @Test func anEmergencyIsUrgentWhicheverRuleRoutedIt() {
        let rules = [RoutingRule(id: "slow", position: 1, kinds: [.emergency], departments: [.engineering], priority: .low)]
        #expect(route(.emergency, emergency: .fireAlarm, rules: rules).priority == .urgent)
    }
}
