import Domain
import Foundation
import Messaging
import Postgres

/// Why the desk refused a request that was well-formed.
public enum DeskError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownProperty(String)
    case notFound(String)
    /// The Idempotency-Key was first used for a different request.
    case idempotencyKeyReused
    case illegal(IllegalTransition)
    /// Paid work finished before the resident accepted its price (B1).
    case quoteNotAccepted
    /// A lock change resolved before its checks and the three departments' presence (T2).
    case lockChangeIncomplete(String)
    /// A key-loan ticket resolved while a key lent against it is out or awaits approval (T9).
    case keyNotReturned(String)

    public var description: String {
        switch self {
        case .unknownProperty(let code): "there is no property \"\(code.prefix(40))\""
        case .notFound(let what): "\(what) not found"
        case .idempotencyKeyReused: "this Idempotency-Key was already used for a different request"
        case .illegal(let transition): transition.reason
        case .quoteNotAccepted: "this is paid work: the resident must accept its price (a listed item or an on-site quote, on the billing service) before it is finished"
        case .lockChangeIncomplete(let why), .keyNotReturned(let why): why
        }
    }
}

/// Tickets and work orders in PostgreSQL. Every function runs on the caller's connection inside
/// the caller's transaction; every change writes its timeline entry and its event (outbox) in that
/// same transaction. Changes to one ticket — its own steps and its work orders' — lock the ticket
/// row first, so a ticket's timeline sequence is gap-free and in the order things happened.
public enum TicketStore {
    /// B1: a paid-service ticket, or one of its work orders, is not resolved until the resident
    /// has accepted a price for it (table `quotes`, written by the billing service). Quoting on
    /// site needs the visit, so accepting and going on site are never held back.
    public static func requireAcceptedPrice(ticket: UUID? = nil, workOrder: UUID? = nil, on c: PostgresConnection) throws {
        let rows = try c.query("""
            SELECT t.kind = 'paid_service' AND NOT EXISTS (SELECT 1 FROM quotes q WHERE q.ticket_id = t.id AND q.state = 'accepted')
            FROM tickets t WHERE t.id = coalesce($1::uuid, (SELECT ticket_id FROM work_orders WHERE id = $2::uuid))
            """, [ticket, workOrder])
        if try rows.first?.decode(0, as: Bool.self) == true { throw DeskError.quoteNotAccepted }
    }

    /// T2: a lock change is resolved only once the applicant's ID and the owner's consent are on
    /// record (`lock_change_checks`) and customer service, concierge and engineering have each
    /// marked their work order of this round on site. A department's own order is resolved only
    /// once that department has been on site (`department`), so no order is closed before the
    /// ticket can be.
    static func requireRecords(_ ticket: TicketView, department: Department? = nil, on c: PostgresConnection) throws {
        switch ticket.kind {
        case .lockChange: try requireLockChange(ticket, department: department, on: c)
        case .keyLoan: try requireKeysBack(ticket, on: c)
        default: return
        }
    }

    /// T9: a key-loan ticket, and its work orders, are resolved only once no key lent against it
    /// is still out or waiting for a head's approval: the loan is the work.
    static func requireKeysBack(_ ticket: TicketView, on c: PostgresConnection) throws {
        let open = try c.query("""
            SELECT k.label, l.state FROM key_loans l JOIN keys k ON k.id = l.key_id
            WHERE l.ticket_id = $1 AND l.state IN ('out', 'awaiting_approval') ORDER BY l.requested_at
            """, [ticket.id])
        guard let first = open.first else { return }
        let label: String = try first.decode(0), state: String = try first.decode(1)
        throw DeskError.keyNotReturned(state == "out"
            ? "key \(label) lent against this ticket is not back: record its return first (T9)"
            : "the loan of key \(label) waits for a department head's approval: approve or refuse it first (T9)")
    }

    static func requireLockChange(_ ticket: TicketView, department: Department?, on c: PostgresConnection) throws {
        let row = try c.query("""
            SELECT EXISTS (SELECT 1 FROM lock_change_checks WHERE ticket_id = $1),
                   coalesce((SELECT jsonb_agg(DISTINCT w.department) FROM ticket_events e JOIN work_orders w ON w.id = e.work_order_id
                             WHERE e.ticket_id = $1 AND w.round = $2 AND e.type LIKE 'workorder.%.on_site'), '[]'::jsonb)
            """, [ticket.id, ticket.round])[0]
        let present = Set(try row.decode(1, as: PostgresJSON.self).decode([String].self).compactMap(Department.init(rawValue:)))
        if let department {
            guard present.contains(department) else {
                throw DeskError.lockChangeIncomplete("a lock change needs \(department.rawValue) on site before its work order is resolved (T2)")
            }
            return
        }
        if let why = LockChange.missing(checked: try row.decode(0, as: Bool.self), present: present) {
            throw DeskError.lockChangeIncomplete(why)
        }
    }

    /// Records a lent key handed over (`key_issued`, with the time it is due back, which becomes
    /// the ticket's requested time and the due time of clock T9-key-due) or returned
    /// (`key_returned`, which meets it), in the caller's transaction.
    public static func recordKey(_ event: String, ticket id: UUID, dueBack: Date?, by actor: Actor, note: String,
                                 on c: PostgresConnection) throws {
        var ticket = try lockTicket(id, on: c)
        if let dueBack {
            let rows = try c.query("UPDATE tickets SET requested_at = $2, updated_at = now() WHERE id = $1 RETURNING to_jsonb(tickets)",
                                   [id, dueBack])
            ticket = try DeskJSON.rows(rows, as: TicketView.self)[0].keeping(pendingFrom: ticket)
        }
        let writes = Writes(on: c)
        try writes.record(DeskEvents.ticket(ticket.kind, event), ticket: &ticket, actor: actor, note: note)
        try writes.flush()
    }

    public struct Created: Sendable {
        public var ticket: TicketView
        /// `true`: the Idempotency-Key was seen before and this is the ticket it made.
        public var replayed: Bool
    }

    // MARK: - Create

    /// Creates a ticket with its number, timeline entry and `created` event. Runs its own
    /// transactions: call it on a connection that is not in one.
    ///
    /// The day's number is taken first, in a statement of its own that does not wait for the
    /// disk, so the property's counter row is locked for microseconds rather than until the
    /// ticket's commit, and concurrent calls do not queue behind each other. (Losing that commit
    /// in a crash would lose every later commit too, this ticket's included.) A create that fails
    /// after that, or loses an Idempotency-Key race, leaves a gap in the day's numbers.
    public static func create(_ new: NewTicket, idempotencyKey: String? = nil, requestHash: String = "",
                              on c: PostgresConnection) throws -> Created {
        if let idempotencyKey, let replay = try replay(idempotencyKey, requestHash: requestHash, on: c) { return replay }
        let number = try takeNumber(property: new.property, on: c)
        return try c.transaction { c in
            let id = UUID()
            if let idempotencyKey {
                let claimed = try c.execute(
                    "INSERT INTO idempotency_keys (key, request_hash, ticket_id) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                    [idempotencyKey, requestHash, id])
                // Another request with this key got in between: its ticket is the one.
                if claimed == 0 {
                    guard let replay = try replay(idempotencyKey, requestHash: requestHash, on: c) else {
                        throw DeskError.notFound("the ticket of this Idempotency-Key")
                    }
                    return replay
                }
            }
            let rows = try c.query("""
                INSERT INTO tickets (id, property, number, kind, channel, building, unit, caller_name, caller_phone, content,
                                     category, severity, emergency_type, requested_at, taken_by, sequence)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0)
                RETURNING to_jsonb(tickets)
                """, [id, new.property, number, new.kind.rawValue, new.channel.rawValue, new.building, new.unit, new.callerName,
                      new.callerPhone, new.content, new.category, new.severity?.rawValue, new.emergencyType?.rawValue,
                      new.requestedAt, new.takenBy])
            var created = try DeskJSON.rows(rows, as: TicketView.self)[0]
            created.workOrders = []
            created.timeline = []
            let writes = Writes(on: c)
            try writes.record(DeskEvents.ticket(new.kind, "created"), ticket: &created,
                              actor: Actor(name: new.takenBy, role: .operator_), note: nil)
            try writes.flush()
            return Created(ticket: created, replayed: false)
        }
    }

    /// The ticket an Idempotency-Key already made, as it is now; nil if the key is new.
    private static func replay(_ key: String, requestHash: String, on c: PostgresConnection) throws -> Created? {
        guard let row = try c.query("SELECT request_hash, ticket_id FROM idempotency_keys WHERE key = $1", [key]).first else {
            return nil
        }
        guard try row.decode(0, as: String.self) == requestHash else { throw DeskError.idempotencyKeyReused }
        guard let first = try ticket(try row.decode(1), on: c) else { throw DeskError.notFound("ticket") }
        return Created(ticket: first, replayed: true)
    }

    /// The next ticket number of the property's day, in its time zone (I1), e.g. `SG-261123-0042`.
    /// One statement, its own transaction, committed without waiting for the disk.
    static func takeNumber(property: String, on c: PostgresConnection) throws -> String {
        guard let counter = try c.query("""
            WITH no_wait AS (SELECT set_config('synchronous_commit', 'off', true))
            INSERT INTO ticket_counters (property, day, last)
            SELECT code, (now() AT TIME ZONE time_zone)::date, 1 FROM properties, no_wait WHERE code = $1
            ON CONFLICT (property, day) DO UPDATE SET last = ticket_counters.last + 1
            RETURNING to_char(day, 'YYMMDD'), last, (SELECT ticket_prefix FROM properties WHERE code = $1)
            """, [property]).first else {
            throw DeskError.unknownProperty(property)
        }
        return TicketNumber.format(prefix: try counter.decode(2), day: try counter.decode(0), sequence: try counter.decode(1))
    }

    // MARK: - Read

    /// The ticket with its work orders and timeline, unmasked: mask with ``TicketView/masked(for:)``.
    public static func ticket(_ id: UUID, on c: PostgresConnection) throws -> TicketView? {
        try ticket(id, where: ("", []), on: c)
    }

    /// The ticket if its row (alias `t`) also meets the extra `AND …` condition, whose parameters
    /// are numbered from $2.
    static func ticket(_ id: UUID, where extra: (sql: String, parameters: [any PostgresEncodable]), on c: PostgresConnection) throws -> TicketView? {
        guard var ticket = try DeskJSON.rows(c.query("SELECT to_jsonb(t) FROM tickets t WHERE t.id = $1" + extra.sql, [id] + extra.parameters),
                                             as: TicketView.self).first else {
            return nil
        }
        ticket.workOrders = try DeskJSON.rows(
            c.query("SELECT to_jsonb(w) FROM work_orders w WHERE ticket_id = $1 ORDER BY created_at, queue", [id]), as: WorkOrderView.self)
        ticket.timeline = try DeskJSON.rows(
            c.query("SELECT to_jsonb(e) - 'ticket_id' FROM ticket_events e WHERE ticket_id = $1 ORDER BY sequence", [id]),
            as: TimelineEntry.self)
        return ticket
    }

    public struct Filter: Sendable, Equatable {
        public var property: String?
        public var status: TicketStatus?
        public var kind: TicketKind?
        public var department: Department?
        public var number: String?
        /// One unit's tickets (the caller lookup): both or neither.
        public var building: String?
        public var unit: String?
        /// Still open and past the customer's requested time.
        public var overdue: Bool = false
        public var limit: Int = 50
        /// Who is asking: only tickets inside it are listed (nil: everything, for the services).
        public var scope: AccessScope?

        public init(property: String? = nil, status: TicketStatus? = nil, kind: TicketKind? = nil, department: Department? = nil,
                    number: String? = nil, overdue: Bool = false, limit: Int = 50) {
            self.property = property
            self.status = status
            self.kind = kind
            self.department = department
            self.number = number
            self.overdue = overdue
            self.limit = limit
        }
    }

    /// Newest first.
    public static func list(_ filter: Filter, on c: PostgresConnection) throws -> [TicketView] {
        var conditions: [String] = []
        var parameters: [any PostgresEncodable] = []
        func add(_ condition: (String) -> String, _ value: any PostgresEncodable) {
            parameters.append(value)
            conditions.append(condition("$\(parameters.count)"))
        }
        if let p = filter.property { add({ "t.property = \($0)" }, p) }
        if let s = filter.status { add({ "t.status = \($0)" }, s.rawValue) }
        if let k = filter.kind { add({ "t.kind = \($0)" }, k.rawValue) }
        if let n = filter.number { add({ "t.number = \($0)" }, n) }
        if let b = filter.building { add({ "t.building = \($0)" }, b) }
        if let u = filter.unit { add({ "t.unit = \($0)" }, u) }
        if let d = filter.department {
            add({ "EXISTS (SELECT 1 FROM work_orders w WHERE w.ticket_id = t.id AND w.round = t.round AND w.department = \($0))" }, d.rawValue)
        }
        if filter.overdue { conditions.append("t.status IN ('open', 'acknowledged', 'on_site') AND t.requested_at < now()") }
        if let scope = filter.scope {
            let (sql, values) = scopeCondition(scope, first: parameters.count + 1)
            conditions.append("true" + sql)
            parameters += values
        }
        parameters.append(filter.limit)
        let sql = "SELECT to_jsonb(t) FROM tickets t"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY t.created_at DESC LIMIT $\(parameters.count)"
        return try DeskJSON.rows(c.query(sql, parameters), as: TicketView.self)
    }

    public static func workOrder(_ id: UUID, on c: PostgresConnection) throws -> WorkOrderView? {
        try workOrder(id, where: ("", []), on: c)
    }

    /// The work order if its row (alias `w`) also meets the extra `AND …` condition ($2 on).
    static func workOrder(_ id: UUID, where extra: (sql: String, parameters: [any PostgresEncodable]), on c: PostgresConnection) throws -> WorkOrderView? {
        guard var order = try DeskJSON.rows(c.query("SELECT to_jsonb(w) FROM work_orders w WHERE w.id = $1" + extra.sql, [id] + extra.parameters),
                                            as: WorkOrderView.self).first else {
            return nil
        }
        order.ticket = try ticket(order.ticketID, on: c)
        return order
    }

    // MARK: - Ticket steps

    /// Applies a step by staff to a ticket. Resolving or cancelling it closes its live work orders
    /// too (each with its own event). Illegal moves throw ``DeskError/illegal(_:)``.
    @discardableResult
    public static func apply(_ action: TicketAction, ticket id: UUID, by actor: Actor, text: String?,
                             on c: PostgresConnection) throws -> TicketView {
        var ticket = try lockTicket(id, on: c)
        let writes = Writes(on: c)
        try step(ticket: &ticket, action, by: actor, text: text, writes: writes, on: c)
        if action == .resolve || action == .cancel {
            let closing: WorkOrderAction = action == .resolve ? .resolve : .cancel
            for var order in try liveOrders(of: ticket, on: c) {
                try step(order: &order, ticket: &ticket, closing, by: actor, text: "with the ticket: \(text ?? action.eventName)",
                         writes: writes, on: c)
            }
        }
        try writes.flush()
        return ticket
    }

    // MARK: - Follow-up calls

    /// Records a follow-up call's outcome (F1–F4) on a resolved or closed ticket: `followed_up`
    /// when the resident was reached, `follow_up_missed` when not (the call is due again later).
    /// A dissatisfied resident reopens the ticket, with the complaint in writing, so dispatch
    /// sends it back to the departments (F4).
    @discardableResult
    public static func recordFollowUp(_ outcome: FollowUpForm.Outcome, ticket id: UUID, role: StaffRole,
                                      on c: PostgresConnection) throws -> TicketView {
        var ticket = try lockTicket(id, on: c)
        guard ticket.status == .resolved || ticket.status == .closed else {
            throw DeskError.illegal(IllegalTransition(subject: "ticket", from: ticket.status.rawValue, action: "follow_up",
                                                      reason: "only a resolved or closed ticket is followed up; this one is \(ticket.status.rawValue)"))
        }
        let actor = Actor(name: outcome.actor, role: role)
        let verdict = !outcome.reached ? "not reached" : outcome.satisfied == true ? "satisfied" : "dissatisfied"
        let text = [verdict, outcome.note].compactMap { $0 }.joined(separator: ": ")
        let writes = Writes(on: c)
        try writes.record(DeskEvents.ticket(ticket.kind, outcome.reached ? DeskEvents.followedUp : DeskEvents.followUpMissed),
                          ticket: &ticket, actor: actor, note: text)
        if outcome.reached, outcome.satisfied == false {
            try step(ticket: &ticket, .reopen, by: actor, text: "dissatisfied on the follow-up call: \(outcome.note ?? "")", writes: writes, on: c)
        }
        try writes.flush()
        return ticket
    }

    // MARK: - Extensions

    /// Records a later time agreed with the customer on an active ticket: it becomes the ticket's
    /// requested time, and the `extended` event moves its resolution clocks (escalation).
    @discardableResult
    public static func extend(_ ext: ExtensionForm.Extension, ticket id: UUID, role: StaffRole, on c: PostgresConnection) throws -> TicketView {
        let locked = try lockTicket(id, on: c)
        guard locked.status.isActive else {
            throw DeskError.illegal(IllegalTransition(subject: "ticket", from: locked.status.rawValue, action: "extend",
                                                      reason: "only an open ticket's deadline can be extended; this one is \(locked.status.rawValue)"))
        }
        let rows = try c.query("UPDATE tickets SET requested_at = $2, updated_at = now() WHERE id = $1 RETURNING to_jsonb(tickets)",
                               [id, ext.until])
        var ticket = try DeskJSON.rows(rows, as: TicketView.self)[0].keeping(pendingFrom: locked)
        let writes = Writes(on: c)
        try writes.record(DeskEvents.ticket(ticket.kind, DeskEvents.extended), ticket: &ticket, actor: Actor(name: ext.actor, role: role),
                          note: "agreed with the customer: \(ext.reason)")
        try writes.flush()
        return ticket
    }

    // MARK: - Work-order steps

    /// Applies a department's step to one of its work orders, and what it means for the ticket:
    /// the first acceptance acknowledges it, the first arrival puts it on site, the last order
    /// done resolves it (``TicketLifecycle/ticketAction(after:ticket:allOrdersDone:)``).
    @discardableResult
    public static func apply(_ action: WorkOrderAction, workOrder id: UUID, by actor: Actor, text: String?,
                             transferTo destination: WorkQueue? = nil, assignee: String? = nil,
                             on c: PostgresConnection) throws -> WorkOrderView {
        guard let row = try c.query("SELECT ticket_id FROM work_orders WHERE id = $1", [id]).first else {
            throw DeskError.notFound("work order \(id)")
        }
        var ticket = try lockTicket(try row.decode(0), on: c)
        var order = try DeskJSON.rows(c.query("SELECT to_jsonb(w) FROM work_orders w WHERE id = $1 FOR UPDATE", [id]), as: WorkOrderView.self)[0]
        if action == .transfer, let destination, destination == order.queue {
            throw DeskError.illegal(IllegalTransition(subject: "work order", from: order.status.rawValue, action: action.rawValue,
                                                      reason: "the work order is already with \(destination.name)"))
        }
        if action == .resolve { try requireRecords(ticket, department: order.department, on: c) }
        let writes = Writes(on: c)
        try step(order: &order, ticket: &ticket, action, by: actor, text: text, assignee: assignee, writes: writes, on: c)
        if action == .transfer, let destination {
            let moved = try insertOrder(ticket: ticket, queue: destination, priority: order.priority, ruleID: order.ruleID,
                                        transferredFrom: order.id, on: c)
            guard let moved else {
                throw DeskError.illegal(IllegalTransition(subject: "work order", from: order.status.rawValue, action: action.rawValue,
                                                          reason: "\(destination.name) already has a work order for this ticket"))
            }
            try writes.record(DeskEvents.workOrder(destination, "assigned"), ticket: &ticket, order: moved, actor: actor, note: text)
        }
        let allDone = try c.query(
            "SELECT count(*) FROM work_orders WHERE ticket_id = $1 AND round = $2 AND status IN ('assigned', 'accepted', 'on_site')",
            [ticket.id, ticket.round])[0].decode(0, as: Int.self) == 0
        if let follow = TicketLifecycle.ticketAction(after: action, ticket: ticket.status, allOrdersDone: allDone) {
            try step(ticket: &ticket, follow, by: actor, text: text, writes: writes, on: c)
        }
        try writes.flush()
        return order
    }

    // MARK: - Dispatch

    /// Routes a ticket's current round to its departments and creates one work order per queue,
    /// each with a `workorder.<queue>.assigned` event. A round that already has its orders, or a
    /// ticket no longer open, gets none: safe to call again for the same event.
    /// `rules`: the property's routing rules if the caller has them (see ``routingRules(property:on:)``),
    /// else they are read here.
    public static func dispatch(ticket id: UUID, rules: [RoutingRule]? = nil, causedBy cause: EventEnvelope? = nil,
                                on c: PostgresConnection) throws -> [WorkOrderView] {
        var ticket = try lockTicket(id, on: c)
        guard ticket.status.isActive else { return [] }
        let rules = try rules ?? routingRules(property: ticket.property, on: c)
        let decision = DepartmentRouter.route(ticket.routable, rules: rules)
        var created: [WorkOrderView] = []
        let writes = Writes(on: c)
        for queue in decision.queues {
            guard let order = try insertOrder(ticket: ticket, queue: queue, priority: decision.priority, ruleID: decision.ruleID,
                                              transferredFrom: nil, on: c) else { continue }
            try writes.record(DeskEvents.workOrder(queue, "assigned"), ticket: &ticket, order: order, actor: .dispatch,
                              note: decision.ruleID.map { "rule \($0)" } ?? "no rule matched: triage", cause: cause)
            created.append(order)
        }
        try writes.flush()
        return created
    }

    /// The rules that apply to a property: its own and the defaults (the table's, and the code's
    /// ``StandardRouting`` unless a row has the same id).
    public static func routingRules(property: String, on c: PostgresConnection) throws -> [RoutingRule] {
        StandardRouting.merged(with: try DeskJSON.rows(
            c.query("SELECT to_jsonb(r) FROM routing_rules r WHERE property IS NULL OR property = $1", [property]), as: RoutingRule.self))
    }

    // MARK: - Internals

    private static func lockTicket(_ id: UUID, on c: PostgresConnection) throws -> TicketView {
        guard let ticket = try DeskJSON.rows(c.query("SELECT to_jsonb(t) FROM tickets t WHERE id = $1 FOR UPDATE", [id]),
                                             as: TicketView.self).first else {
            throw DeskError.notFound("ticket \(id)")
        }
        return ticket
    }

    private static func liveOrders(of ticket: TicketView, on c: PostgresConnection) throws -> [WorkOrderView] {
        try DeskJSON.rows(c.query("""
            SELECT to_jsonb(w) FROM work_orders w
            WHERE ticket_id = $1 AND round = $2 AND status IN ('assigned', 'accepted', 'on_site') ORDER BY created_at, queue FOR UPDATE
            """, [ticket.id, ticket.round]), as: WorkOrderView.self)
    }

    private static func insertOrder(ticket: TicketView, queue: WorkQueue, priority: WorkOrderPriority, ruleID: String?,
                                    transferredFrom: UUID?, on c: PostgresConnection) throws -> WorkOrderView? {
        try DeskJSON.rows(c.query("""
            INSERT INTO work_orders (id, ticket_id, property, round, queue, department, priority, rule_id, transferred_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (ticket_id, round, queue) WHERE status IN ('assigned', 'accepted', 'on_site', 'done') DO NOTHING
            RETURNING to_jsonb(work_orders)
            """, [UUID(), ticket.id, ticket.property, ticket.round, queue.name, queue.department.rawValue, priority.rawValue,
                  ruleID, transferredFrom]), as: WorkOrderView.self).first
    }

    private static func step(ticket: inout TicketView, _ action: TicketAction, by actor: Actor, text: String?,
                             writes: Writes, on c: PostgresConnection) throws {
        let next: TicketStatus
        do { next = try TicketLifecycle.apply(action, to: ticket.status) } catch { throw DeskError.illegal(error) }
        if action == .resolve { try requireRecords(ticket, on: c) }
        let rows = try c.query("""
            UPDATE tickets SET status = $2, updated_at = now(),
                outcome = CASE WHEN $3::text = 'resolve' THEN $4::text WHEN $3::text = 'reopen' THEN NULL ELSE outcome END,
                resolved_at = CASE WHEN $3::text = 'resolve' THEN now() WHEN $3::text = 'reopen' THEN NULL ELSE resolved_at END,
                round = CASE WHEN $3::text = 'reopen' THEN round + 1 ELSE round END
            WHERE id = $1 RETURNING to_jsonb(tickets)
            """, [ticket.id, next.rawValue, action.rawValue, text])
        ticket = try DeskJSON.rows(rows, as: TicketView.self)[0].keeping(pendingFrom: ticket)
        try writes.record(DeskEvents.ticket(ticket.kind, action.eventName), ticket: &ticket, actor: actor, note: text)
    }

    private static func step(order: inout WorkOrderView, ticket: inout TicketView, _ action: WorkOrderAction, by actor: Actor,
                             text: String?, assignee: String? = nil, writes: Writes, on c: PostgresConnection) throws {
        let next: WorkOrderStatus
        do { next = try WorkOrderLifecycle.apply(action, to: order.status) } catch { throw DeskError.illegal(error) }
        let rows = try c.query("""
            UPDATE work_orders SET status = $2, updated_at = now(),
                assignee = CASE WHEN $3::text IN ('accept', 'on_site') AND assignee IS NULL THEN $4::text
                                WHEN $3::text = 'reassign' THEN $6::text
                                WHEN $3::text = 'release' THEN NULL ELSE assignee END,
                outcome = CASE WHEN $3::text = 'resolve' THEN $5::text ELSE outcome END
            WHERE id = $1 RETURNING to_jsonb(work_orders)
            """, [order.id, next.rawValue, action.rawValue, actor.name, text, assignee])
        order = try DeskJSON.rows(rows, as: WorkOrderView.self)[0]
        try writes.record(DeskEvents.workOrder(order.queue, action.eventName), ticket: &ticket, order: order, actor: actor, note: text)
    }
}

/// The timeline entries and events of one change to a ticket. They are queued on the connection
/// (``PostgresConnection/executeLater(_:_:)``) and reach PostgreSQL with the commit, in one
/// round trip. The ticket row is locked for the whole change, so its next sequence numbers are
/// known without asking.
final class Writes {
    private let c: PostgresConnection
    private var last: (ticket: UUID, sequence: Int)?

    init(on c: PostgresConnection) { self.c = c }

    /// Appends to the timeline and writes the event to the outbox. Every event of a ticket has the
    /// ticket's id as correlation id and carries the timeline sequence.
    func record(_ type: String, ticket: inout TicketView, order: WorkOrderView? = nil, actor: Actor, note: String?,
                cause: EventEnvelope? = nil) throws {
        let sequence = ticket.sequence + 1
        ticket.sequence = sequence
        last = (ticket.id, sequence)
        let payload: any Encodable = if let order {
            WorkOrderEventPayload(order: order, ticket: ticket, sequence: sequence, actor: actor, note: note)
        } else {
            TicketEventPayload(ticket: ticket, sequence: sequence, actor: actor, note: note)
        }
        let body = try JSONValue(encoding: payload)
        let envelope = EventEnvelope(type: type, property: ticket.property, ticketID: ticket.id, correlationID: ticket.id,
                                     causationID: cause?.id, payload: body)
        var detail: [String: JSONValue] = ["status": .string((order?.status.rawValue ?? ticket.status.rawValue))]
        if let note { detail["note"] = .string(note) }
        if let order { detail["queue"] = .string(order.queue.name) }
        try c.executeLater("""
            INSERT INTO ticket_events (ticket_id, sequence, event_id, type, actor, role, work_order_id, detail, at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
            """, [ticket.id, sequence, envelope.id, type, actor.name, actor.role?.rawValue, order?.id,
                  try PostgresJSON(encoding: JSONValue.object(detail), encoder: DeskJSON.encoder),
                  envelope.occurredAt])
        try Outbox.enqueue(envelope, on: c)
        ticket.timeline?.append(TimelineEntry(sequence: sequence, eventID: envelope.id, type: type, actor: actor.name,
                                              role: actor.role?.rawValue, at: envelope.occurredAt, workOrderID: order?.id,
                                              detail: .object(detail)))
    }

    /// Queues the ticket's new sequence, after everything recorded.
    func flush() throws {
        guard let last else { return }
        try c.executeLater("UPDATE tickets SET sequence = $2 WHERE id = $1", [last.ticket, last.sequence])
        self.last = nil
    }
}

extension TicketView {
    /// A row just read back from PostgreSQL, with what this change holds that the database does
    /// not have yet: the sequence of events recorded but not flushed, and the loaded timeline.
    func keeping(pendingFrom earlier: TicketView) -> TicketView {
        var copy = self
        copy.sequence = max(sequence, earlier.sequence)
        copy.timeline = earlier.timeline
        copy.workOrders = earlier.workOrders
        return copy
    }

    /// What `role` may see (P1): the caller's phone, and phone numbers typed into the content or
    /// notes, are masked for roles that do not call residents back.
    public func masked(for role: StaffRole) -> TicketView {
        role.seesResidentContact ? self : masked
    }

    /// As a list shows it to every role (P1): the masked ticket with the unit hidden too. A list
    /// is never an approved read of a resident's file.
    public var listed: TicketView {
        var copy = masked
        copy.unit = unit.map { _ in "***" }
        return copy
    }

    /// The caller's number, and any number typed into the content or a note, masked.
    var masked: TicketView {
        var copy = self
        copy.callerPhone = callerPhone.map(Masking.phone)
        copy.content = Masking.text(content)
        copy.timeline = timeline?.map { entry in
            var e = entry
            if case .object(var detail) = e.detail, case .string(let note)? = detail["note"] {
                detail["note"] = .string(Masking.text(note))
                e.detail = .object(detail)
            }
            return e
        }
        return copy
    }
}
