import Foundation
import Testing
@testable import Domain

@Suite("Emergencies in the caller's words (R2)")
struct EmergencyTextTests {
    let rules = StandardRouting.merged(with: RoutingTests.defaults)

    func route(_ kind: TicketKind, _ content: String, category: String? = nil) -> RoutingDecision {
        DepartmentRouter.route(RoutableTicket(property: "sunrise-garden", kind: kind, category: category, content: content), rules: rules)
    }

    @Test(arguments: [
        (TicketKind.repair, "3号楼电梯困人"), (.repair, "停电了"), (.complaint, "楼道跑水, 没人管"), (.publicAnomaly, "地下车库消防报警一直在响"),
        (.repair, "Someone is trapped in the lift in block 5"), (.complaint, "The whole floor has a power cut"),
    ])
    func anEmergencyFiledAsAnotherKindReachesEngineeringAndSecurityAsUrgent(kind: TicketKind, content: String) {
        let d = route(kind, content)
        #expect(d.queues == [.department(.engineering), .department(.security)], "\(content)")
        #expect(d.priority == .urgent)
        #expect(d.ruleID == "emergency-by-text")
    }

    @Test func anOrdinaryLeakOrAQuestionAboutAPlannedCutIsNoEmergency() {
        #expect(route(.repair, "卫生间漏水").queues == [.department(.engineering)])
        #expect(route(.repair, "卫生间漏水").priority == .normal)
        #expect(route(.inquiry, "明天停电吗").ruleID != "emergency-by-text")
    }

    @Test func aPropertysOwnRuleWithTheSameIdReplacesTheDefault() {
        var own = StandardRouting.emergencyByText
        own.departments = [.security]
        let merged = StandardRouting.merged(with: [own])
        #expect(merged.filter { $0.id == own.id } == [own])
    }

    @Test func theWordsNameWhichEmergencyItIs() {
        #expect(StandardEmergencies.detect("3号楼电梯困人") == .liftEntrapment)
        #expect(StandardEmergencies.detect("配电房跳闸了") == .powerTrip)
        #expect(StandardEmergencies.detect("Burst pipe on floor 3") == .waterLeak)
        #expect(StandardEmergencies.detect("卫生间漏水") == nil)
    }

    @Test func aStuckLiftFiledAsARepairStartsTheOneMinuteClockAsWellAsTheRepairsOwn() {
        let planned = DeadlinePlanner.deadlines(for: .created, at: local("2025-11-10 03:00"),
                                                ticket: ClockTicket(kind: .repair, text: "3号楼电梯困人"), rules: StandardClocks.rules,
                                                calendar: shanghai2025)
        let r2 = planned.filter { $0.ruleID == "R2-text" }.sorted { $0.step < $1.step }
        #expect(r2.map(\.dueAt) == [local("2025-11-10 03:01"), local("2025-11-10 03:05"), local("2025-11-10 03:15")])
        #expect(Set(r2[0].tell) == [Recipient(.supervisor, .engineering), Recipient(.technician, .engineering),
                                    Recipient(.supervisor, .security), Recipient(.controlRoom, .security)])
        #expect(planned.contains { $0.ruleID == "R4-repair" }, "still a repair to finish")
        let ordinary = DeadlinePlanner.deadlines(for: .created, at: local("2025-11-10 03:00"),
                                                 ticket: ClockTicket(kind: .repair, text: "卫生间漏水"), rules: StandardClocks.rules,
                                                 calendar: shanghai2025)
        #expect(!ordinary.contains { $0.standard == "R2" })
    }
}
