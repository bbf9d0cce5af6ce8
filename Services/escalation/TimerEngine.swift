import Contracts
import Desk
import Domain
import Foundation
import Logging
import Messaging
import Metrics
import Postgres
import ServiceLifecycle
import Synchronization

/// Fires deadlines on time. The next due time is kept in memory: the engine sleeps until then,
/// and a NOTIFY on `propdesk_deadlines` (sent when deadlines are added, carrying the earliest new
/// due time) wakes it early. On start, and after any reconnect, it fires everything already due,
/// so what fell due while it was down fires at once. A firing claims rows with
/// `FOR UPDATE SKIP LOCKED`, marks them fired and writes their events to the outbox in one
/// transaction: replicas never fire a row twice, and a crash neither loses nor doubles one.
/// Due times are compared on the database's clock, so replicas on hosts with skewed clocks agree.
final class TimerEngine: Service, Sendable {
    private let postgres: PostgresClient
    private let batchSize: Int
    /// The longest sleep without looking, in case a wake-up is lost.
    private let sweepInterval: Duration
    private let logger: Logger
    /// The Monday reports, whose due times the engine sleeps until as well.
    private let reports: ScheduledReports
    private let fired = Counter(label: "propdesk_deadlines_fired_total")
    private let lateness = Timer(label: "propdesk_deadline_firing_lateness")

    init(postgres: PostgresClient, reports: ScheduledReports, batchSize: Int = 500, sweepInterval: Duration = .seconds(5), logger: Logger) {
        self.postgres = postgres
        self.reports = reports
        self.batchSize = batchSize
        self.sweepInterval = sweepInterval
        self.logger = logger
    }

    func run() async throws {
        try await postgres.withTransaction { try Policies.seedDefaults(on: $0) }
        try await reports.schedule(postgres)
        // New properties get their first Monday report within the hour.
        let scheduled = Mutex(ContinuousClock.now)
        let listener = PostgresListener(configuration: postgres.configuration, channels: ["propdesk_deadlines"], logger: logger)
        defer { listener.stop() }
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // The instant the engine sleeps until, on the database's clock (as the due times in the
        // notifications are); a notification of anything earlier wakes it.
        let target = Mutex<Date>(.distantFuture)
        // When the earliest Monday report falls due, on this process's clock (the database's, less
        // their difference at the last look): a pass probes for one only then, not on every
        // deadline's wake-up. distantPast: look at the start (a Monday missed while down).
        let reportDue = Mutex<Date>(.distantPast)
        let forward = Task {
            for await event in listener.events {
                switch event {
                case .connected:
                    wake.yield()
                case .notification(let n):
                    let due = (try? Date(postgresText: n.payload)) ?? .distantPast
                    if due < target.withLock({ $0 }) { wake.yield() }
                }
            }
        }
        defer { forward.cancel() }
        logger.info("timer engine started")
        await WakeLoop.run(wakeups, wake: wake, logger: logger, what: "timer engine") {
            // Until the sleep is planned, any notification wakes it.
            target.withLock { $0 = .distantFuture }
            while try await self.fireDue() == self.batchSize, !Task.isShuttingDownGracefully {}
            // One report a pass (reading one takes ~0.1 s on a property with 100,000 tickets a
            // quarter, BENCHMARKS): deadlines that fall due while a thousand properties' Monday
            // reports go out fire between them, not after them all.
            if reportDue.withLock({ $0 <= Date() }), try await self.reports.sendDue(self.postgres) { return .zero }
            if scheduled.withLock({ ContinuousClock.now - $0 > .seconds(3600) }) {
                try await self.reports.schedule(self.postgres)
                scheduled.withLock { $0 = ContinuousClock.now }
            }
            let (next, report) = try await self.untilNextDue()
            reportDue.withLock { $0 = report.map { $0.addingTimeInterval(Date().timeIntervalSince(next.now)) } ?? .distantFuture }
            let pause = next.pause(atMost: self.sweepInterval)
            target.withLock { $0 = next.after(pause) }
            return pause
        }
        logger.info("timer engine stopped")
    }

    /// The earliest pending deadline or report with the database's clock, and the earliest report.
    func untilNextDue() async throws -> (DatabaseInstant, report: Date?) {
        let row = try await postgres.query("""
            SELECT least(r.due, (SELECT min(due_at) FROM deadlines WHERE state = 'pending'),
                         (SELECT min(due_at) FROM money_deadlines WHERE state = 'pending')), clock_timestamp(), r.due
            FROM (SELECT \(ScheduledReports.nextDue) AS due) r
            """)[0]
        return (DatabaseInstant(instant: try row.decode(0, as: Date?.self), now: try row.decode(1, as: Date.self)), try row.decode(2, as: Date?.self))
    }

    /// Fires one batch of due deadlines; returns how many.
    @discardableResult
    func fireDue() async throws -> Int {
        let limit = batchSize
        let (events, money) = try await postgres.withTransaction { c -> ([Fired], [MoneyDeadlinePayload]) in
            // Not waiting for the disk: a firing lost in a crash leaves its row pending, so it fires
            // again, with the same message id (``messageIDSQL(_:)``), which inboxes absorb.
            try c.executeLater("SET LOCAL synchronous_commit = off")
            let tickets = try c.query(Self.fire, [limit, PropDeskTopology.eventsExchange]).map { row in
                Fired(ticketID: try row.decode(0), ruleID: try row.decode(1), step: try row.decode(2), steps: try row.decode(3),
                      latenessMs: try row.decode(4))
            }
            if !tickets.isEmpty { c.signalAfterCommit(Outbox.channel) }
            // The money clocks' due steps in the same transaction: one commit per wake, not two.
            return (tickets, try Self.fireMoney(limit: limit, on: c))
        }
        for e in events {
            fired.increment()
            lateness.recordMilliseconds(e.latenessMs)
            logger.info("deadline fired", metadata: [
                "ticket_id": "\(e.ticketID)", "rule": "\(e.ruleID)", "step": "\(e.step)/\(e.steps)", "late_ms": "\(e.latenessMs)",
            ])
        }
        for e in money {
            fired.increment()
            lateness.recordMilliseconds(e.firingLatenessMs)
            logger.info("money deadline fired", metadata: [
                "subject_id": "\(e.subjectID)", "rule": "\(e.ruleID)", "step": "\(e.step)/\(e.steps)", "late_ms": "\(e.firingLatenessMs)",
            ])
        }
        return max(events.count, money.count)
    }

    /// What the log and the metrics need of a fired deadline; its event is already in the outbox.
    struct Fired {
        let ticketID: UUID
        let ruleID: String
        let step: Int
        let steps: Int
        let latenessMs: Int
    }

    /// Claims up to $1 due deadlines, marks them fired and writes each one's event to the outbox
    /// (exchange $2), in one statement: PostgreSQL builds the envelope (``EventEnvelope/sql(id:type:occurredAt:property:ticketID:correlationID:payload:)``)
    /// and the ``DeadlineEventPayload``, so no row goes through this process on its way (a catch-up
    /// of tens of thousands is bound by the database, not by encoding here). The type is
    /// ``EscalationEvents/breached(standard:)``, or ``EscalationEvents/followUpDue(_:)`` for a
    /// follow-up call; the escalation tests hold a fired row's event to those types. Returns the
    /// fired rows in due order.
    static let fire: String = {
        let time = EventEnvelope.sqlTime
        let payload = """
            jsonb_build_object('ticket_id', f.ticket_id, 'ticket_number', t.number, 'kind', t.kind, 'round', f.round, \
            'rule_id', f.rule_id, 'standard', f.standard, 'title', f.title, 'step', f.step, 'steps', f.steps, \
            'started_at', \(time("f.started_at")), 'due_at', \(time("f.due_at")), 'fired_at', \(time("f.fired_at")), \
            'firing_lateness_ms', greatest(0, round(extract(epoch FROM f.fired_at - f.due_at) * 1000))::int, 'tell', f.tell)
            """
        let envelope = EventEnvelope.sql(id: "e.message_id", type: "e.type", occurredAt: "e.fired_at", property: "e.property",
                                         ticketID: "e.ticket_id", correlationID: "e.ticket_id", payload: "e.payload")
        return """
            WITH due AS (
                -- The bound as a sub-select: evaluated once, so the index stops at it (a bare
                -- clock_timestamp() is volatile, and would be checked against every pending row).
                SELECT id FROM deadlines WHERE state = 'pending' AND due_at <= (SELECT clock_timestamp())
                ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED
            ), fired AS (
                UPDATE deadlines d SET state = 'fired', fired_at = clock_timestamp() FROM due WHERE d.id = due.id
                RETURNING d.*
            ), e AS (
                SELECT f.id, f.due_at, f.fired_at, f.property, f.ticket_id, f.rule_id, f.step, f.steps,
                       \(messageIDSQL("f.id")) AS message_id,
                       CASE f.purpose WHEN '\(ClockRule.Purpose.followUp.rawValue)' THEN 'followup.' || t.kind || '.due'
                                      ELSE 'escalation.' || lower(f.standard) || '.breached' END AS type,
                       \(payload) AS payload
                FROM fired f JOIN tickets t ON t.id = f.ticket_id
            ), written AS (
                INSERT INTO outbox (message_id, exchange, routing_key, envelope)
                SELECT e.message_id, $2, e.type || '.' || e.property, \(envelope) FROM e ORDER BY e.due_at, e.id
            )
            SELECT e.ticket_id, e.rule_id, e.step, e.steps, (e.payload->>'firing_lateness_ms')::int FROM e ORDER BY e.due_at, e.id
            """
    }()

    /// Claims and fires one batch of due money clocks (``MoneyClocks``) on `c`, the same way.
    static func fireMoney(limit: Int, on c: PostgresConnection) throws -> [MoneyDeadlinePayload] {
        let rows = try c.query("""
            WITH due AS (
                SELECT id FROM money_deadlines WHERE state = 'pending' AND due_at <= (SELECT clock_timestamp())
                ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED
            ), fired AS (
                UPDATE money_deadlines d SET state = 'fired', fired_at = clock_timestamp() FROM due WHERE d.id = due.id RETURNING d.*
            )
            SELECT subject, subject_id, reference, rule_id, standard, title, step, steps, started_at, due_at, fired_at, tell::text, property, id
            FROM fired ORDER BY due_at, id
            """, [limit])
        return try rows.map { row in
            let payload = MoneyDeadlinePayload(
                subject: try row.decode(0), subjectID: try row.decode(1), reference: try row.decode(2), ruleID: try row.decode(3),
                standard: try row.decode(4), title: try row.decode(5), step: try row.decode(6), steps: try row.decode(7),
                startedAt: try row.decode(8), dueAt: try row.decode(9), firedAt: try row.decode(10),
                tell: try DeskJSON.decoder.decode([Recipient].self, from: Data(try row.decode(11, as: String.self).utf8)))
            try Outbox.enqueue(EventEnvelope(id: messageID(moneyDeadline: try row.decode(13)), type: EscalationEvents.breached(standard: payload.standard),
                                             property: try row.decode(12), correlationID: payload.subjectID, payload: try JSONValue(encoding: payload)), on: c)
            return payload
        }
    }
}

extension TimerEngine {
    /// The firing's message id as SQL, of the deadline's `bigint` id: derived from it, so a firing
    /// repeated after a lost commit is the same message.
    static func messageIDSQL(_ deadline: String) -> String {
        "('de4d11e5-0000-4000-8000-' || lpad(to_hex((\(deadline)) & 281474976710655), 12, '0'))::uuid"
    }

    /// A money clock's step's message id (another namespace: the two tables' ids overlap).
    static func messageID(moneyDeadline: Int64) -> UUID {
        UUID(uuidString: String(format: "de4d11e5-0000-4000-9000-%012llx", UInt64(moneyDeadline) & 0xFFFF_FFFF_FFFF))!
    }
}

extension TicketKind {
    static func decode(_ row: PostgresRow, _ column: Int) throws -> TicketKind {
        let raw: String = try row.decode(column)
        guard let kind = TicketKind(rawValue: raw) else { throw PostgresError(kind: .decoding, message: "unknown ticket kind \(raw)") }
        return kind
    }
}
