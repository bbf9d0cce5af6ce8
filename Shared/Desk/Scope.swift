import Domain
import Foundation
import Postgres

/// The desk as one member of staff may see it (``AccessScope``): their properties and, for
/// department staff, the tickets their departments have work orders on — and of those tickets only
/// their departments' work orders and timeline entries. The scope is part of each query, so an id
/// outside it reads exactly like one that does not exist.
extension TicketStore {
    /// `AND …` conditions that keep a ticket row (alias `t`) inside `scope`, numbering its two
    /// parameters from `first`.
    static func scopeCondition(_ scope: AccessScope, first: Int) -> (sql: String, parameters: [any PostgresEncodable]) {
        let sql = """
             AND t.property = ANY($\(first)::text[])
             AND ($\(first + 1)::text[] IS NULL OR EXISTS (SELECT 1 FROM work_orders sw WHERE sw.ticket_id = t.id AND sw.department = ANY($\(first + 1)::text[])))
            """
        return (sql, [PostgresArray(scope.properties), scope.departments.map { PostgresArray($0.map(\.rawValue)) }])
    }

    /// `AND …` conditions that keep a work-order row (alias `w`) inside `scope`: its property, and
    /// its department for department staff; parameters from `first`.
    static func scopeCondition(workOrder scope: AccessScope, first: Int) -> (sql: String, parameters: [any PostgresEncodable]) {
        (" AND w.property = ANY($\(first)::text[]) AND ($\(first + 1)::text[] IS NULL OR w.department = ANY($\(first + 1)::text[]))",
         [PostgresArray(scope.properties), scope.departments.map { PostgresArray($0.map(\.rawValue)) }])
    }

    /// True if the ticket exists and `scope` reaches it.
    public static func reaches(_ scope: AccessScope, ticket id: UUID, on c: PostgresConnection) throws -> Bool {
        let (sql, parameters) = scopeCondition(scope, first: 2)
        return try !c.query("SELECT 1 FROM tickets t WHERE t.id = $1" + sql, [id] + parameters).isEmpty
    }

    /// True if the work order exists and `scope` reaches it.
    public static func reaches(_ scope: AccessScope, workOrder id: UUID, on c: PostgresConnection) throws -> Bool {
        let (sql, parameters) = scopeCondition(workOrder: scope, first: 2)
        return try !c.query("SELECT 1 FROM work_orders w WHERE w.id = $1" + sql, [id] + parameters).isEmpty
    }

    /// The ticket as `scope` sees it, or nil if it does not exist or is outside it.
    public static func ticket(_ id: UUID, within scope: AccessScope, on c: PostgresConnection) throws -> TicketView? {
        try ticket(id, where: scopeCondition(scope, first: 2), on: c)?.narrowed(to: scope)
    }

    public static func workOrder(_ id: UUID, within scope: AccessScope, on c: PostgresConnection) throws -> WorkOrderView? {
        guard var order = try workOrder(id, where: scopeCondition(workOrder: scope, first: 2), on: c) else { return nil }
        order.ticket = order.ticket?.narrowed(to: scope)
        return order
    }
}

extension TicketView {
    /// Only the work orders, and their timeline entries, of the scope's departments.
    func narrowed(to scope: AccessScope) -> TicketView {
        guard let departments = scope.departments else { return self }
        var t = self
        t.workOrders = workOrders?.filter { departments.contains($0.department) }
        let hidden = Set((workOrders ?? []).filter { !departments.contains($0.department) }.map(\.id))
        t.timeline = timeline?.filter { entry in entry.workOrderID.map { !hidden.contains($0) } ?? true }
        return t
    }
}
