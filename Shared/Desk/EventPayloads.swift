import Contracts
import Domain
import Foundation

extension TicketEventPayload {
    init(ticket t: TicketView, sequence: Int, actor: Actor, note: String?) {
        self.init(
            ticketID: t.id, number: t.number, kind: t.kind, channel: t.channel, status: t.status, round: t.round,
            sequence: sequence, place: t.place.map(Masking.address), callerPhone: t.callerPhone.map(Masking.phone),
            category: t.category, severity: t.severity, emergencyType: t.emergencyType, requestedAt: t.requestedAt,
            takenBy: t.takenBy, summary: Masking.text(String(t.content.prefix(200))), actor: actor.name,
            role: actor.role?.rawValue, note: note.map(Masking.text))
    }
}

extension WorkOrderEventPayload {
    init(order o: WorkOrderView, ticket t: TicketView, sequence: Int, actor: Actor, note: String?) {
        self.init(
            workOrderID: o.id, ticketID: t.id, ticketNumber: t.number, kind: t.kind, queue: o.queue,
            department: o.department, priority: o.priority, status: o.status, assignee: o.assignee, round: o.round,
            sequence: sequence, place: t.place.map(Masking.address),
            summary: Masking.text(String(t.content.prefix(200))), severity: t.severity,
            emergencyType: t.emergencyType, ruleID: o.ruleID, transferredFrom: o.transferredFrom, actor: actor.name,
            role: actor.role?.rawValue, note: note.map(Masking.text))
    }
}

/// Who did something: a named member of staff in a role, or a service (`dispatch`).
public struct Actor: Sendable, Equatable {
    public var name: String
    public var role: StaffRole?
    public init(name: String, role: StaffRole?) {
        self.name = name
        self.role = role
    }
    public static let dispatch = Actor(name: "dispatch", role: nil)
}
