import Desk
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Messaging
import Postgres
import ServiceKit

/// "Changing a policy never rewrites deadlines already running — unless asked": asking is
/// `POST /policies/{property}/replan` on the escalation service (optionally `?rule=C1`). Every
/// running clock of the property (or of that rule) gets its pending steps' due times, recipients
/// and titles recomputed from the rules as they are now, from the clock's original start. Steps
/// the rule no longer has, and clocks whose rule is gone, disabled or no longer applies, are
/// cancelled; steps it gained are added. Fired steps stay as they happened.
enum Replan {
    struct Result: Codable, Sendable {
        var property: String
        var clocks: Int
        var stepsMoved: Int
        var stepsAdded: Int
        var stepsCancelled: Int

        enum CodingKeys: String, CodingKey {
            case property, clocks
            case stepsMoved = "steps_moved"
            case stepsAdded = "steps_added"
            case stepsCancelled = "steps_cancelled"
        }
    }

    static func routes(_ router: Router<PropDeskRequestContext>, postgres: PostgresClient) {
        let authenticator = Authenticator(postgres: postgres)
        router.post("/policies/:property/replan") { request, context -> Response in
            let caller = try await authenticator.caller(request, context, .policiesReplan)
            let property = context.parameters.get("property") ?? ""
            // Another property's policies read like an unknown property's.
            guard caller.scope.covers(property: property) else { throw APIError.notFound("property \(property.prefix(40))") }
            let rule = request.uri.queryParameters["rule"].map(String.init)
            do {
                let result = try await postgres.withTransaction { try replan(property: property, rule: rule, on: $0) }
                return try json(result, .ok)
            } catch let error as PoisonMessage {
                throw APIError.notFound(error.reason)
            }
        }
    }

    static func replan(property: String, rule only: String?, on c: PostgresConnection) throws -> Result {
        let rules = Dictionary(try Policies.rules(for: property, on: c).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let calendar = try Policies.calendar(for: property, on: c)
        var result = Result(property: property, clocks: 0, stepsMoved: 0, stepsAdded: 0, stepsCancelled: 0)
        let clocks = try c.query("""
            SELECT DISTINCT ON (d.ticket_id, d.round, d.rule_id, d.started_by) d.ticket_id, d.round, d.rule_id, d.started_at,
                   t.kind, t.severity, t.emergency_type, t.category, t.requested_at, d.started_by, left(t.content, 200)
            FROM deadlines d JOIN tickets t ON t.id = d.ticket_id
            WHERE d.property = $1 AND d.state = 'pending' AND ($2::text IS NULL OR d.rule_id = $2)
            ORDER BY d.ticket_id, d.round, d.rule_id, d.started_by
            """, [property, only])
        for row in clocks {
            let ticketID: UUID = try row.decode(0)
            let round: Int = try row.decode(1)
            let ruleID: String = try row.decode(2)
            let started: Date = try row.decode(3)
            // A repeating clock's rows are those of the event that started it.
            let startedBy = try row.decode(9, as: UUID?.self)
            result.clocks += 1
            let ticket = ClockTicket(kind: try TicketKind.decode(row, 4),
                                     severity: try row.decode(5, as: String?.self).flatMap(ComplaintSeverity.init(rawValue:)),
                                     emergencyType: try row.decode(6, as: String?.self).flatMap(EmergencyType.init(rawValue:)),
                                     category: try row.decode(7, as: String?.self), requestedAt: try row.decode(8, as: Date?.self),
                                     text: try row.decode(10, as: String?.self))
            guard let rule = rules[ruleID], DeadlinePlanner.applies(rule, to: ticket, at: started, calendar: calendar) else {
                result.stepsCancelled += try c.execute(
                    """
                    UPDATE deadlines SET state = 'cancelled'
                    WHERE ticket_id = $1 AND round = $2 AND rule_id = $3 AND started_by IS NOT DISTINCT FROM $4::uuid AND state = 'pending'
                    """, [ticketID, round, ruleID, startedBy])
                continue
            }
            let existing = Set(try c.query("""
                SELECT step FROM deadlines WHERE ticket_id = $1 AND round = $2 AND rule_id = $3 AND started_by IS NOT DISTINCT FROM $4::uuid
                """, [ticketID, round, ruleID, startedBy]).map { try $0.decode(0, as: Int.self) })
            for (index, step) in rule.steps.enumerated() {
                let due = DeadlinePlanner.due(step.due, from: started, ticket: ticket, schedule: rule.schedule, calendar: calendar)
                let tell = try PostgresJSON(encoding: step.tell, encoder: DeskJSON.encoder)
                if existing.contains(index + 1) {
                    result.stepsMoved += try c.execute("""
                        UPDATE deadlines SET due_at = $5, tell = $6::jsonb, title = $7, steps = $8, standard = $9
                        WHERE ticket_id = $1 AND round = $2 AND rule_id = $3 AND step = $4 AND state = 'pending'
                          AND started_by IS NOT DISTINCT FROM $10::uuid
                        """, [ticketID, round, ruleID, index + 1, due, tell, rule.title, rule.steps.count, rule.standard, startedBy])
                } else {
                    result.stepsAdded += try c.execute("""
                        INSERT INTO deadlines (ticket_id, property, round, rule_id, standard, title, purpose, step, steps, started_at, due_at, tell,
                                               started_by)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13) ON CONFLICT DO NOTHING
                        """, [ticketID, property, round, ruleID, rule.standard, rule.title, rule.purpose.rawValue, index + 1,
                              rule.steps.count, started, due, tell, startedBy])
                }
            }
            result.stepsCancelled += try c.execute("""
                UPDATE deadlines SET state = 'cancelled'
                WHERE ticket_id = $1 AND round = $2 AND rule_id = $3 AND step > $4 AND state = 'pending' AND started_by IS NOT DISTINCT FROM $5::uuid
                """, [ticketID, round, ruleID, rule.steps.count, startedBy])
        }
        // Existing rows keep `steps` in step with the ladder; the CHECK (steps >= step) holds.
        return result
    }

    static func json(_ value: some Encodable, _ status: HTTPResponse.Status) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try DeskJSON.encoder.encode(value))))
    }
}
