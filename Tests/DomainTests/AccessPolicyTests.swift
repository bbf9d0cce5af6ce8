import Domain
import Foundation
import Testing

@Suite("Who may do what (the access policy)")
struct AccessPolicyTests {
    func person(_ roles: [StaffRole], departments: [Department] = [.engineering], properties: [String] = ["sunrise-garden"]) -> StaffIdentity {
        StaffIdentity(id: UUID(), login: "x", name: "X", roles: roles, departments: departments, properties: properties)
    }

    @Test func onlyTheDeskAndSupervisorsCloseReopenOrCancelATicketAndOnlySupervisorsReassign() {
        #expect(person([.operator_]).acting(TicketAction.cancel.permission) == .operator_)
        #expect(person([.supervisor]).acting(TicketAction.reopen.permission) == .supervisor)
        #expect(person([.technician]).acting(TicketAction.cancel.permission) == nil)
        #expect(person([.controlRoom]).acting(TicketAction.close.permission) == nil)
        #expect(person([.technician]).acting(TicketAction.resolve.permission) == .technician)
        #expect(person([.departmentManager]).acting(WorkOrderAction.reassign.permission) == .departmentManager)
        #expect(person([.operator_]).acting(WorkOrderAction.reassign.permission) == nil)
        #expect(person([.technician]).acting(WorkOrderAction.reassign.permission) == nil)
        #expect(person([.technician]).acting(WorkOrderAction.transfer.permission) == .technician)
    }

    @Test func financeSeesNoTicketsAndTechniciansFileNone() {
        #expect(person([.finance]).acting(.ticketsRead) == nil)
        #expect(person([.finance]).acting(.session) == .finance)
        #expect(person([.technician]).acting(.ticketsCreate) == nil)
        #expect(person([.controlRoom]).acting(.ticketsCreate) == .controlRoom)
    }

    @Test func anEngineeringTechnicianIsBoundToEngineeringButTheDeskSeesTheWholeProperty() {
        #expect(person([.technician]).scope == AccessScope(properties: ["sunrise-garden"], departments: [.engineering]))
        #expect(person([.operator_]).scope.departments == nil)
        // One property-wide role is enough to see the property.
        #expect(person([.technician, .supervisor]).scope.departments == nil)
    }

    @Test func aPersonWithTwoRolesIsShownWhatTheStrongerAllows() {
        #expect(person([.technician, .operator_]).acting(.ticketsRead) == .operator_)
        #expect(person([.technician, .operator_]).acting(.residentsRead) == .operator_)
    }

    @Test func rolesThatReadFilesOrApproveMoneyNeedASecondFactor() {
        let needing = StaffRole.allCases.filter(AccessPolicy.needsSecondFactor)
        #expect(Set(needing) == [.operator_, .supervisor, .departmentManager, .generalManager, .viceGeneralManager, .finance])
        #expect(AccessPolicy.roles(.residentsApprove).allSatisfy(AccessPolicy.needsSecondFactor))
    }

    @Test func aTechnicianReadsAFileOnlyWithApprovalAndTheDeskDirectly() {
        #expect(person([.technician]).acting(.residentsRead) == .technician)
        #expect(AccessPolicy.needsApprovalToRead(.technician) && AccessPolicy.needsApprovalToRead(.finance))
        #expect(!AccessPolicy.needsApprovalToRead(.operator_))
        #expect(person([.technician]).acting(.residentsApprove) == nil && person([.supervisor]).acting(.residentsApprove) == .supervisor)
    }

    @Test(arguments: ["li.mei", "op1", "tech-2_b"]) func validLoginsAreTaken(login: String) {
        #expect(StaffLogin.isValid(login))
    }

    @Test(arguments: ["", "a", "Li", "李梅", "-x", "a b", "x\u{0}y", String(repeating: "a", count: 41)])
    func loginsOutsideTheAlphabetAreRefused(login: String) {
        #expect(!StaffLogin.isValid(login))
    }
}
