import Contracts
import Desk
import Domain
import Foundation
import Messaging
import Postgres
import ServiceKit

/// A month's management-fee bills for every unit of a property (B6, B8), in one transaction: the
/// amounts come from ``FeeRule`` (area × rate, 70% for a custodial home), written in batches of
/// arrays, with one ledger entry for the run (a receivable per unit, the revenue in one line) and
/// one `billing.bill_run.issued` event, whose money clock reminds whoever has not paid the day
/// after the due date. A second run for the same month is refused.
enum FeeRuns {
    static let batch = 5_000

    static func generate(property: String, period: BillingPeriod, due: CivilDate, by: String, on c: PostgresConnection) throws -> String {
        guard let s = try c.query("SELECT fee_rate_fen, custodial_percent FROM billing_settings WHERE property = $1", [property]).first,
              let rate = try s.decode(0, as: Int64?.self) else {
            throw APIError(status: .unprocessableContent, code: .notAllowed, message: "set the property's management fee rate first (billing_settings.fee_rate_fen)")
        }
        let rule = FeeRule(ratePerSquareMetre: Money(fen: rate), custodialPercent: Int(try s.decode(1, as: Int64.self)))
        if try !c.query("SELECT 1 FROM bill_runs WHERE property = $1 AND period = $2", [property, period.description]).isEmpty {
            throw BillingAPI.conflict("the bills for \(period) are already generated")
        }
        let units = try c.query("SELECT id, area_centi, status FROM units WHERE property = $1 ORDER BY building, unit", [property])
        guard !units.isEmpty else { throw APIError(status: .unprocessableContent, code: .notAllowed, message: "the property has no units yet (POST /units)") }
        var ids: [UUID] = [], unitIDs: [UUID] = [], areas: [Int64] = [], statuses: [String] = [], percents: [Int] = [], amounts: [Int64] = []
        ids.reserveCapacity(units.count)
        for u in units {
            let status = UnitStatus(rawValue: try u.decode(2)) ?? .occupied
            let area = Area(centi: try u.decode(1))
            let fee = rule.monthlyFee(area: area, status: status)
            guard fee.fen > 0 else { continue }
            ids.append(UUID())
            unitIDs.append(try u.decode(0))
            areas.append(area.centi)
            statuses.append(status.rawValue)
            percents.append(rule.percent(for: status))
            amounts.append(fee.fen)
        }
        let total = amounts.reduce(0, +)
        let runID = UUID()
        guard let entry = try c.query("INSERT INTO ledger_entries (property, kind, reference) VALUES ($1, 'fee_run', $2) RETURNING id",
                                      [property, "\(property) \(period)"]).first?.decode(0, as: Int64.self) else {
            throw PostgresError(kind: .decoding, message: "ledger entry not written")
        }
        try c.executeLater("""
            INSERT INTO bill_runs (id, property, period, due_date, rate_fen, bills, total_fen, created_by, entry_id)
            VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9)
            """, [runID, property, period.description, due.description, rate, ids.count, total, by, entry])
        for start in stride(from: 0, to: ids.count, by: batch) {
            let r = start..<min(start + batch, ids.count)
            try c.executeLater("""
                INSERT INTO bills (id, run_id, property, unit_id, period, area_centi, status, percent, amount_fen, due_date)
                SELECT b.id, $1, $2, b.unit, $3, b.area, b.status, b.percent, b.amount, $4::date
                FROM unnest($5::uuid[], $6::uuid[], $7::bigint[], $8::text[], $9::int[], $10::bigint[]) AS b(id, unit, area, status, percent, amount)
                """, [runID, property, period.description, due.description, PostgresArray(Array(ids[r])), PostgresArray(Array(unitIDs[r])),
                      PostgresArray(Array(areas[r])), PostgresArray(Array(statuses[r])), PostgresArray(Array(percents[r])), PostgresArray(Array(amounts[r]))])
            // The entry's receivables, one per unit; with the revenue line below it balances.
            try c.executeLater("""
                INSERT INTO ledger_postings (entry_id, account, party, amount_fen)
                SELECT $1, $2, u::text, a FROM unnest($3::uuid[], $4::bigint[]) AS x(u, a)
                """, [entry, LedgerAccount.receivable.rawValue, PostgresArray(Array(unitIDs[r])), PostgresArray(Array(amounts[r]))])
        }
        try c.executeLater("INSERT INTO ledger_postings (entry_id, account, amount_fen) VALUES ($1, $2, $3)",
                           [entry, LedgerAccount.revenueManagementFee.rawValue, -total])
        // The reminder's clock counts from the due date's start, on the property's calendar.
        let zone = TimeZone(identifier: try c.query("SELECT time_zone FROM properties WHERE code = $1", [property])[0].decode(0, as: String.self))!
        let dueStart = WorkCalendar(timeZone: zone).instant(due, TimeOfDay(seconds: 0))
        try Ledger.publish("bill_run", "issued", property: property,
                           BillingEventPayload(subject: "bill_run", subjectID: runID, reference: "\(property) \(period)", amountFen: total,
                                               clockFrom: dueStart, actor: by), on: c)
        return try c.query("""
            SELECT (to_jsonb(r) - 'entry_id' || jsonb_build_object('total', money_text(r.total_fen), 'rate', money_text(r.rate_fen)))::text
            FROM bill_runs r WHERE r.id = $1
            """, [runID])[0].decode(0)
    }
}

/// The dunning ladder (B6): each step recorded with its evidence, the bill's stage moved on, and
/// `billing.dunning.stepped` published, which ends this rung's money clock and starts the next.
enum Dunning {
    static func record(bill: UUID, stage: DunningStage, channel: String?, trackingNumber: String?, note: String?, by: String,
                       on c: PostgresConnection) throws {
        guard let b = try c.query("""
            SELECT b.property, b.state, b.dunning_stage, u.resident_id, u.building, b.period, b.amount_fen - b.paid_fen
            FROM bills b JOIN units u ON u.id = b.unit_id WHERE b.id = $1 FOR UPDATE OF b
            """, [bill]).first else { throw APIError.notFound("bill") }
        guard try b.decode(1, as: String.self) == "open" else { throw BillingAPI.conflict("this bill is paid: the ladder has stopped") }
        let current = DunningStage(rawValue: try b.decode(2)) ?? .none
        guard current.canRecord(stage) else { throw BillingAPI.conflict("the ladder is at \(current.rawValue): \(stage.rawValue) does not come next") }
        try c.executeLater("INSERT INTO dunning_steps (bill_id, stage, actor, channel, tracking_number, note) VALUES ($1, $2, $3, $4, $5, $6)",
                           [bill, stage.rawValue, by, channel, trackingNumber, note])
        try c.executeLater("UPDATE bills SET dunning_stage = $2 WHERE id = $1", [bill, stage.rawValue])
        let building: String = try b.decode(4), period: String = try b.decode(5)
        try Ledger.publish("dunning", "stepped", property: try b.decode(0),
                           BillingEventPayload(subject: "bill", subjectID: bill, reference: "\(building) \(period)", amountFen: try b.decode(6),
                                               stage: stage.rawValue, channel: channel, trackingNumber: trackingNumber, residentID: try b.decode(3, as: UUID?.self),
                                               place: building, actor: by, note: note), on: c)
    }

    /// A rung's clock fell due (``MoneyClocks``): the reminder is sent by SMS for each open bill
    /// of the run; a letter or visit becomes due for a person to make; the legal hand-over is
    /// flagged.
    static func clockFired(_ fired: MoneyDeadlinePayload, on c: PostgresConnection) throws {
        switch fired.ruleID {
        case MoneyClocks.overdue:
            for row in try c.query("SELECT id FROM bills WHERE run_id = $1 AND state = 'open' AND dunning_stage = 'none' ORDER BY id", [fired.subjectID]) {
                try record(bill: try row.decode(0), stage: .reminded, channel: "sms", trackingNumber: nil, note: "automatic reminder", by: "PropDesk", on: c)
            }
        case MoneyClocks.letter:
            try c.executeLater("UPDATE bills SET dunning_stage = 'letter_due' WHERE id = $1 AND state = 'open' AND dunning_stage = 'reminded'", [fired.subjectID])
        case MoneyClocks.visit:
            try c.executeLater("UPDATE bills SET dunning_stage = 'visit_due' WHERE id = $1 AND state = 'open' AND dunning_stage = 'letter_sent'", [fired.subjectID])
        case MoneyClocks.legal:
            if try !c.query("SELECT 1 FROM bills WHERE id = $1 AND state = 'open' AND dunning_stage = 'visited'", [fired.subjectID]).isEmpty {
                try record(bill: fired.subjectID, stage: .legal, channel: "lawyer", trackingNumber: nil, note: "handed over for legal action", by: "PropDesk", on: c)
            }
        default:
            break
        }
    }
}

/// Loaned items' deposits (B7): refunded on return in good order (a refund with its own number),
/// forfeited if damaged, or by rule when the item is not back by the money clock's last step.
enum Deposits {
    static func close(_ id: UUID, refund: Bool, condition: String, note: String?, by: String, on c: PostgresConnection) throws {
        guard let d = try c.query("SELECT property, state, amount_fen, item, ticket_id FROM deposits WHERE id = $1 FOR UPDATE", [id]).first else {
            throw APIError.notFound("deposit")
        }
        guard try d.decode(1, as: String.self) == "held" else { throw BillingAPI.conflict("this deposit is already \(try d.decode(1, as: String.self))") }
        let property: String = try d.decode(0), amount = Money(fen: try d.decode(2)), party = id.uuidString.lowercased()
        guard let p = try c.query("SELECT id, method, receipt_number FROM payments WHERE target_id = $1 FOR UPDATE", [id]).first else {
            throw PostgresError(kind: .decoding, message: "deposit \(id) has no payment")
        }
        let method = PaymentMethod(rawValue: try p.decode(1)) ?? .cash
        if refund {
            let entry = try Ledger.post(.transfer(amount, debit: .depositsHeld, party, credit: method.account), property: property, kind: "refund",
                                        reference: try p.decode(2), on: c)
            let (seq, number) = try Ledger.nextNumber(.reversal, property: property, on: c)
            try c.executeLater("""
                INSERT INTO reversals (id, property, payment_id, kind, seq, number, amount_fen, reason, by_whom, entry_id)
                VALUES ($1, $2, $3, 'refund', $4, $5, $6, $7, $8, $9)
                """, [UUID(), property, try p.decode(0, as: UUID.self), seq, number, amount.fen, "deposit refunded: returned in good order", by, entry])
            try c.executeLater("UPDATE payments SET reversed_fen = amount_fen WHERE id = $1", [try p.decode(0, as: UUID.self)])
        } else {
            _ = try Ledger.post(.transfer(amount, debit: .depositsHeld, party, credit: .revenueForfeitedDeposit), property: property, kind: "forfeit",
                                reference: try p.decode(2), on: c)
        }
        try c.executeLater("UPDATE deposits SET state = $2, closed_at = now(), closed_by = $3, condition = $4, note = $5 WHERE id = $1",
                           [id, refund ? "refunded" : "forfeited", by, condition, note])
        try Ledger.publish("deposit", refund ? "refunded" : "forfeited", property: property,
                           BillingEventPayload(subject: "deposit", subjectID: id, reference: try d.decode(3), amountFen: amount.fen, ticketID: try d.decode(4, as: UUID?.self),
                                               actor: by, note: note ?? condition), on: c)
    }
}

/// A unit's statement: its bills with what is paid and owed and how far each has gone on the
/// dunning ladder, charges for paid work and late fees, payments with their receipts, deposits,
/// and the arrears in total.
enum Statements {
    static func unit(_ id: UUID, properties: [String], on c: PostgresConnection) throws -> String? {
        try c.query("""
            SELECT jsonb_build_object(
                'unit', to_jsonb(u) || jsonb_build_object('area', money_text(u.area_centi)),
                'bills', coalesce((SELECT jsonb_agg(jsonb_build_object('id', b.id, 'period', b.period, 'amount', money_text(b.amount_fen), 'amount_fen', b.amount_fen,
                            'paid', money_text(b.paid_fen), 'outstanding', money_text(b.amount_fen - b.paid_fen), 'percent', b.percent, 'due_date', b.due_date,
                            'state', b.state, 'dunning_stage', b.dunning_stage,
                            'dunning', coalesce((SELECT jsonb_agg(to_jsonb(d) - 'bill_id' ORDER BY d.id) FROM dunning_steps d WHERE d.bill_id = b.id), '[]'))
                            ORDER BY b.period) FROM bills b WHERE b.unit_id = u.id), '[]'),
                'charges', coalesce((SELECT jsonb_agg(jsonb_build_object('id', ch.id, 'kind', ch.kind, 'description', ch.description,
                            'amount', money_text(ch.amount_fen), 'paid', money_text(ch.paid_fen)) ORDER BY ch.posted_at)
                            FROM charges ch WHERE ch.unit_id = u.id), '[]'),
                'payments', coalesce((SELECT jsonb_agg(jsonb_build_object('receipt_number', p.receipt_number, 'amount', money_text(p.amount_fen),
                            'reversed', money_text(p.reversed_fen), 'method', p.method, 'paid_at', p.paid_at, 'target', p.target) ORDER BY p.receipt_seq)
                            FROM payments p WHERE p.target_id IN (SELECT id FROM bills WHERE unit_id = u.id UNION ALL SELECT id FROM charges WHERE unit_id = u.id
                                                                  UNION ALL SELECT id FROM deposits WHERE unit_id = u.id)), '[]'),
                'deposits', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'item', d.item, 'amount', money_text(d.amount_fen), 'state', d.state,
                            'taken_at', d.taken_at) ORDER BY d.taken_at) FROM deposits d WHERE d.unit_id = u.id), '[]'),
                'arrears', money_text((SELECT coalesce(sum(amount_fen - paid_fen), 0) FROM bills WHERE unit_id = u.id)
                                      + (SELECT coalesce(sum(amount_fen - paid_fen), 0) FROM charges WHERE unit_id = u.id)),
                'arrears_fen', (SELECT coalesce(sum(amount_fen - paid_fen), 0) FROM bills WHERE unit_id = u.id)
                                      + (SELECT coalesce(sum(amount_fen - paid_fen), 0) FROM charges WHERE unit_id = u.id)
            )::text FROM units u WHERE u.id = $1 AND u.property = ANY($2::text[])
            """, [id, PostgresArray(properties)]).first?.decode(0, as: String.self)
    }
}
