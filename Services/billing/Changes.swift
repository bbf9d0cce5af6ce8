import Contracts
import Desk
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Postgres
import ServiceKit

/// Billing's changes. Each runs in one transaction: the rows, their ledger entry, any receipt
/// number and the event (outbox) commit together. Every change guards on the state it expects
/// (`… AND state = 'issued'`, row locks), so two people answering one quote, or paying the last
/// fen of one bill, never both succeed.
extension BillingAPI {
    static func conflict(_ message: String) -> APIError { APIError(status: .conflict, code: .illegalTransition, message: message) }

    // MARK: Price list (B1)

    func publishPriceList(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let property = try Self.property(context.parameters.get("property"), caller)
        let form = try await decode(PriceListForm.self, request)
        var check = FieldCheck()
        struct Item: Sendable { var code, name, unit, kind: String; var department: String?; var price: Money }
        var items: [Item] = []
        if (form.items ?? []).isEmpty { check.add(Problem(field: "items", code: .required, message: "items is required: the whole list, one entry per item")) }
        for (i, raw) in (form.items ?? []).enumerated() {
            let f = "items[\(i)]"
            let code = check.text(raw.code, "\(f).code", required: true, max: 40)
            if let code, code.range(of: #"^[a-z0-9][a-z0-9_-]{0,39}$"#, options: .regularExpression) == nil {
                check.add(Problem(field: "\(f).code", code: .invalidFormat, message: "\(f).code is lower-case letters, digits, - and _"))
            }
            let name = check.text(raw.name, "\(f).name", required: true, max: 80)
            let unit = check.text(raw.unit, "\(f).unit", required: false, max: 20) ?? "次"
            let kind = raw.kind ?? "service"
            if !["service", "deposit"].contains(kind) { check.add(Problem(field: "\(f).kind", code: .unknownValue, message: "\(f).kind is service or deposit")) }
            let department = check.choice(raw.department, "\(f).department", Department.self, required: false)
            let price = check.money(raw.price, "\(f).price")
            if let code, let name, let price { items.append(Item(code: code, name: name, unit: unit, kind: kind, department: department?.rawValue, price: price)) }
        }
        if Set(items.map(\.code)).count != items.count { check.add(Problem(field: "items", code: .notAllowed, message: "each code appears once")) }
        try valid(check)
        let by = caller.identity.name, listed = items
        let version = try await postgres.withTransaction { c -> Int in
            // One publisher at a time per property: versions are 1, 2, 3 … with no gap.
            try c.executeLater("SELECT pg_advisory_xact_lock(hashtextextended('price_list:' || $1, 0))", [property])
            let version = Int(try c.query("SELECT coalesce(max(version), 0) + 1 FROM price_lists WHERE property = $1", [property])[0].decode(0, as: Int64.self))
            try c.executeLater("INSERT INTO price_lists (property, version, published_by) VALUES ($1, $2, $3)", [property, version, by])
            try c.executeLater("""
                INSERT INTO price_items (property, version, code, name, unit, kind, department, price_fen)
                SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
                """, [property, version, PostgresArray(listed.map(\.code)), PostgresArray(listed.map(\.name)), PostgresArray(listed.map(\.unit)),
                      PostgresArray(listed.map(\.kind)), PostgresArray(listed.map(\.department)), PostgresArray(listed.map(\.price.fen))])
            try Ledger.publish("price_list", "published", property: property,
                               BillingEventPayload(subject: "price_list", subjectID: UUID(), reference: "\(property) v\(version)", actor: by), on: c)
            return version
        }
        logger.info("price list published", metadata: ["property": "\(property)", "version": "\(version)", "items": "\(items.count)"])
        var response = try await priceList(request, context)
        response.status = .created
        return response
    }

    // MARK: Quotes and disputes (B1, B3)

    func issueQuote(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = try await decode(QuoteForm.self, request)
        var check = FieldCheck()
        let ticketID = check.id(form.ticketID, "ticket_id")
        let itemCode = check.text(form.itemCode, "item_code", required: false, max: 40)
        let typed = check.text(form.description, "description", required: itemCode == nil, max: 200, what: "what the work is")
        var costInput: Money?
        let margin = form.marginPercent ?? 10
        if itemCode == nil {
            costInput = check.money(form.cost, "cost")
            // 保本微利: cost plus a small margin, at most 30%.
            if !(0...30).contains(margin) { check.add(Problem(field: "margin_percent", code: .notAllowed, message: "margin_percent is 0–30 (保本微利: cost plus a small margin)")) }
        } else if !form.cost.isEmpty {
            check.add(Problem(field: "cost", code: .notAllowed, message: "a listed item has its price: send item_code or cost, not both"))
        }
        try valid(check)
        let scope = caller.scope, by = caller.identity.name, cost = costInput
        let text = try await postgres.withTransaction { c -> String in
            var description = typed
            // One price at a time per ticket (billing reads tickets, never locks their rows).
            try c.executeLater("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 16))", [ticketID!])
            guard let t = try c.query("SELECT property, kind, number FROM tickets WHERE id = $1 AND property = ANY($2::text[])",
                                      [ticketID!, PostgresArray(scope.properties)]).first else { throw APIError.notFound("ticket") }
            let property: String = try t.decode(0), number: String = try t.decode(2)
            guard try t.decode(1, as: String.self) == TicketKind.paidService.rawValue else {
                throw APIError(status: .unprocessableContent, code: .notAllowed, message: "only a paid-service ticket is priced",
                               problems: [Problem(field: "ticket_id", code: .notAllowed, message: "ticket \(number) is not a paid_service ticket")])
            }
            // The responsible department: the caller's, among those the ticket was routed to.
            let departments = try c.query("SELECT DISTINCT department FROM work_orders WHERE ticket_id = $1 ORDER BY department", [ticketID!])
                .map { try $0.decode(0, as: String.self) }
            let mine = scope.departments.map { Set($0.map(\.rawValue)) }
            guard let department = departments.first(where: { mine?.contains($0) ?? true }) ?? (mine == nil ? Department.customerService.rawValue : nil) else {
                throw APIError.notFound("ticket")
            }
            if try !c.query("SELECT 1 FROM quotes WHERE ticket_id = $1 AND state = 'accepted'", [ticketID!]).isEmpty {
                throw Self.conflict("the resident already accepted a price for \(number); a dispute goes to the department head instead")
            }
            var amount: Money, costFen: Money, version: Int? = nil, marginPercent = margin
            if let itemCode {
                guard let item = try c.query("""
                    SELECT i.version, i.name, i.price_fen FROM price_items i
                    WHERE i.property = $1 AND i.code = $2 AND i.kind = 'service'
                      AND i.version = (SELECT max(version) FROM price_lists WHERE property = $1)
                    """, [property, itemCode]).first else {
                    throw APIError(status: .unprocessableContent, code: .unknownValue, message: "no service \(itemCode) on the current price list",
                                   problems: [Problem(field: "item_code", code: .unknownValue, message: "not on the current price list")])
                }
                version = Int(try item.decode(0, as: Int64.self))
                if description == nil { description = try item.decode(1, as: String.self) }
                amount = Money(fen: try item.decode(2))
                costFen = amount
                marginPercent = 0
            } else {
                costFen = cost!
                amount = costFen + costFen.percent(margin)
                guard amount <= Money.maximum else { throw APIError.validation(ValidationFailure(problems: [Problem(field: "cost", code: .amountTooLarge, message: AmountProblem.tooLarge.message("cost"))])) }
            }
            try c.executeLater("UPDATE quotes SET state = 'superseded' WHERE ticket_id = $1 AND state = 'issued'", [ticketID!])
            let id = UUID()
            try c.executeLater("""
                INSERT INTO quotes (id, property, ticket_id, department, source, list_version, item_code, description, cost_fen, margin_percent, amount_fen, issued_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                """, [id, property, ticketID!, department, itemCode == nil ? "on_site" : "price_list", version, itemCode, description!, costFen.fen,
                      marginPercent, amount.fen, by])
            try Ledger.publish("quote", "issued", property: property,
                               BillingEventPayload(subject: "quote", subjectID: id, reference: number, amountFen: amount.fen, ticketID: ticketID, actor: by), on: c)
            return try Self.view("quote", id, properties: scope.properties, on: c)!
        }
        return Self.json(text, status: .created)
    }

    func answerQuote(_ accepted: Bool, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await decode(TextForm.self, request)
        var check = FieldCheck()
        let note = check.text(form.note, "note", required: false, max: 500)
        try valid(check)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard let q = try c.query("SELECT property, state, ticket_id, amount_fen, (SELECT number FROM tickets WHERE id = ticket_id) FROM quotes WHERE id = $1 AND property = ANY($2::text[]) FOR UPDATE",
                                      [id, PostgresArray(scope.properties)]).first else { throw APIError.notFound("quote") }
            guard try q.decode(1, as: String.self) == "issued" else { throw Self.conflict("this quote is \(try q.decode(1, as: String.self)), not waiting for an answer") }
            try c.executeLater("UPDATE quotes SET state = $2, answered_by = $3, answered_at = now(), answer_note = $4 WHERE id = $1",
                               [id, accepted ? "accepted" : "declined", by, note])
            try Ledger.publish("quote", accepted ? "accepted" : "declined", property: try q.decode(0),
                               BillingEventPayload(subject: "quote", subjectID: id, reference: try q.decode(4), amountFen: try q.decode(3),
                                                   ticketID: try q.decode(2), actor: by, note: note), on: c)
            return try Self.view("quote", id, properties: scope.properties, on: c)!
        }
        return Self.json(text)
    }

    func dispute(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await decode(TextForm.self, request)
        var check = FieldCheck()
        let reason = check.text(form.reason, "reason", required: true, max: 500, what: "what the resident disputes")
        try valid(check)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard let q = try c.query("SELECT property, state, ticket_id, department, (SELECT number FROM tickets WHERE id = ticket_id), amount_fen FROM quotes WHERE id = $1 AND property = ANY($2::text[]) FOR UPDATE",
                                      [id, PostgresArray(scope.properties)]).first else { throw APIError.notFound("quote") }
            let state: String = try q.decode(1)
            guard state == "issued" || state == "accepted" else { throw Self.conflict("this quote is \(state): there is no price to dispute") }
            let dispute = UUID(), department: String = try q.decode(3)
            try c.executeLater("INSERT INTO price_disputes (id, property, quote_id, department, reason, opened_by) VALUES ($1, $2, $3, $4, $5, $6)",
                               [dispute, try q.decode(0, as: String.self), id, department, reason!, by])
            // B3: to the head of the department that quoted, through a money clock.
            let head = Recipient(.departmentManager, Department(rawValue: department))
            try Ledger.publish("dispute", "opened", property: try q.decode(0),
                               BillingEventPayload(subject: "dispute", subjectID: dispute, reference: try q.decode(4), amountFen: try q.decode(5),
                                                   ticketID: try q.decode(2), recipients: [head], actor: by, note: reason), on: c)
            return try Self.view("quote", id, properties: scope.properties, on: c)!
        }
        return Self.json(text, status: .created)
    }

    func resolveDispute(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await decode(TextForm.self, request)
        var check = FieldCheck()
        let resolution = check.text(form.resolution, "resolution", required: true, max: 500, what: "what was agreed with the resident")
        try valid(check)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard let d = try c.query("""
                SELECT d.property, d.state, d.quote_id, q.ticket_id, (SELECT number FROM tickets WHERE id = q.ticket_id), d.department
                FROM price_disputes d JOIN quotes q ON q.id = d.quote_id WHERE d.id = $1 AND d.property = ANY($2::text[]) FOR UPDATE OF d
                """, [id, PostgresArray(scope.properties)]).first else { throw APIError.notFound("dispute") }
            if let mine = scope.departments, !mine.map(\.rawValue).contains(try d.decode(5, as: String.self)) { throw APIError.notFound("dispute") }
            guard try d.decode(1, as: String.self) == "open" else { throw Self.conflict("this dispute is already resolved") }
            try c.executeLater("UPDATE price_disputes SET state = 'resolved', resolved_by = $2, resolved_at = now(), resolution = $3 WHERE id = $1",
                               [id, by, resolution!])
            try Ledger.publish("dispute", "resolved", property: try d.decode(0),
                               BillingEventPayload(subject: "dispute", subjectID: id, reference: try d.decode(4), ticketID: try d.decode(3),
                                                   actor: by, note: resolution), on: c)
            return try Self.view("quote", try d.decode(2), properties: scope.properties, on: c)!
        }
        return Self.json(text)
    }

    // MARK: Payments, receipts, voids and refunds (B2)

    /// A request made once, whatever its retries: the first answer under an `Idempotency-Key`
    /// is stored with the change and replayed to a retry; the same key with another body is
    /// refused. Two attempts at once wait on the key's row: the second replays the first.
    func idempotent(_ request: Request, body: some Encodable, _ change: @escaping @Sendable (PostgresConnection) throws -> (HTTPResponse.Status, String)) async throws -> Response {
        guard let key = request.headers[.idempotencyKey], !key.isEmpty, key.count <= 100, FieldCheck.controlCharacter(in: key) == nil else {
            throw APIError.validation(ValidationFailure(problems: [Problem(field: "Idempotency-Key", code: .required,
                message: "send an Idempotency-Key header (up to 100 characters, one per payment: a retry with the same key records nothing twice)")]))
        }
        let hash = JSONRequest.fingerprint(try DeskJSON.encoder.encode(body))
        let scoped = "billing:" + key
        let (status, text, replayed) = try await postgres.withTransaction { c -> (HTTPResponse.Status, String, Bool) in
            if try c.query("INSERT INTO billing_requests (key, request_hash, status, body) VALUES ($1, $2, 0, '') ON CONFLICT DO NOTHING RETURNING 1",
                           [scoped, hash]).isEmpty {
                let stored = try c.query("SELECT request_hash, status, body FROM billing_requests WHERE key = $1", [scoped])[0]
                guard try stored.decode(0, as: String.self) == hash else {
                    throw APIError(status: .unprocessableContent, code: .idempotencyKeyReused, message: "this Idempotency-Key was already used for a different request",
                                   problems: [Problem(field: "Idempotency-Key", code: .idempotencyKeyReused, message: "already used for a different request")])
                }
                return (HTTPResponse.Status(code: Int(try stored.decode(1, as: Int64.self))), try stored.decode(2), true)
            }
            let (status, text) = try change(c)
            try c.executeLater("UPDATE billing_requests SET status = $2, body = $3 WHERE key = $1", [scoped, status.code, text])
            return (status, text, false)
        }
        var response = Self.json(text, status: status)
        if replayed { response.headers[.idempotentReplayed] = "true" }
        return response
    }

    /// The answer to a payment: its receipt number and what it paid (`GET /receipts/{number}`
    /// has the rest).
    struct NewReceipt: Encodable, Sendable {
        var receiptNumber: String, target: String, targetID: UUID, amount: String, amountFen: Int64, method: String
        var methodReference: String?, payer: String?, takenBy: String, outstanding: String, print: String

        enum CodingKeys: String, CodingKey {
            case target, amount, method, payer, outstanding, print
            case receiptNumber = "receipt_number"
            case targetID = "target_id"
            case amountFen = "amount_fen"
            case methodReference = "method_reference"
            case takenBy = "taken_by"
        }
    }

    struct PaymentBody: Encodable, Sendable {
        var target: String, id: UUID, fen: Int64, method: String, reference: String?, payer: String?
    }

    func takePayment(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = try await decode(PaymentForm.self, request)
        var check = FieldCheck()
        let amount = check.money(form.amount, "amount")
        let method = check.choice(form.method, "method", PaymentMethod.self)
        let reference = check.text(form.reference, "reference", required: method?.needsReference ?? false, max: 64, what: "the card slip or the WeChat Pay / Alipay transaction number")
        let payer = check.text(form.payer, "payer", required: false, max: 60)
        if (form.chargeID == nil) == (form.billID == nil) {
            check.add(Problem(field: "charge_id", code: .required, message: "name what is paid: charge_id or bill_id (one of them)"))
        }
        try valid(check)
        let target = form.chargeID != nil ? "charge" : "bill", targetID = form.chargeID ?? form.billID!
        let scope = caller.scope, by = caller.identity.name
        let body = PaymentBody(target: target, id: targetID, fen: amount!.fen, method: method!.rawValue, reference: reference, payer: payer)
        let response = try await idempotent(request, body: body) { c in
            let table = target == "charge" ? "charges" : "bills"
            let party = target == "charge" ? "coalesce(unit_id, ticket_id)::text" : "unit_id::text"
            guard let row = try c.query("SELECT property, amount_fen - paid_fen, \(party), ticket_id_of($1) FROM \(table) WHERE id = $1 AND property = ANY($2::text[]) FOR UPDATE",
                                        [targetID, PostgresArray(scope.properties)]).first else { throw APIError.notFound(target) }
            let property: String = try row.decode(0)
            let owed = Money(fen: try row.decode(1))
            guard owed.fen > 0 else { throw Self.conflict("this \(target) is paid in full") }
            guard amount! <= owed else {
                throw APIError(status: .unprocessableContent, code: .amountOverBalance, message: "the amount is more than the \(owed.display) still owed",
                               problems: [Problem(field: "amount", code: .amountOverBalance, message: "at most \(owed.description)")])
            }
            try c.executeLater("UPDATE \(table) SET paid_fen = paid_fen + $2 WHERE id = $1", [targetID, amount!.fen])
            let number = try self.recordPayment(property: property, target: target, targetID: targetID, amount: amount!, method: method!, reference: reference,
                                                payer: payer, credit: .receivable, party: try row.decode(2, as: String?.self), ticketID: try row.decode(3, as: UUID?.self), by: by, on: c)
            if target == "bill", amount! == owed {
                try c.executeLater("UPDATE bills SET state = 'paid' WHERE id = $1", [targetID])
                try Ledger.publish("bill", "paid", property: property, BillingEventPayload(subject: "bill", subjectID: targetID, reference: number, actor: by), on: c)
            }
            // Written here, not read back: the receipt counter's lock is held until the commit,
            // and a read would hold it a round trip longer for every payment at the property.
            let view = NewReceipt(receiptNumber: number, target: target, targetID: targetID, amount: amount!.description, amountFen: amount!.fen,
                                  method: method!.rawValue, methodReference: reference, payer: payer, takenBy: by,
                                  outstanding: (owed - amount!).description, print: "/receipts/\(number)/print")
            return (.created, String(decoding: try DeskJSON.encoder.encode(view), as: UTF8.self))
        }
        logger.info("payment taken", metadata: ["target": "\(target)", "amount": "\(amount!)", "method": "\(method!.rawValue)"])
        return response
    }

    /// Writes a payment: its entry (debit cash or bank, credit `credit`), its receipt number
    /// (taken last: the counter's row lock is held only to the commit) and its event. Returns the
    /// receipt number.
    func recordPayment(property: String, target: String, targetID: UUID, amount: Money, method: PaymentMethod, reference: String?, payer: String?,
                       credit: LedgerAccount, party: String?, ticketID: UUID?, by: String, on c: PostgresConnection) throws -> String {
        let entry = try Ledger.post(.transfer(amount, debit: method.account, credit: credit, party), property: property, kind: "payment",
                                    reference: "\(target) \(targetID)", on: c)
        let paymentID = UUID()
        let (seq, number) = try Ledger.nextNumber(.receipt, property: property, on: c)
        try c.executeLater("UPDATE ledger_entries SET reference = $2 WHERE id = $1", [entry, number])
        try c.executeLater("""
            INSERT INTO payments (id, property, target, target_id, amount_fen, method, method_reference, payer, receipt_seq, receipt_number, taken_by, entry_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """, [paymentID, property, target, targetID, amount.fen, method.rawValue, reference, payer, seq, number, by, entry])
        try Ledger.publish("payment", "received", property: property,
                           BillingEventPayload(subject: "payment", subjectID: paymentID, reference: number, amountFen: amount.fen, ticketID: ticketID,
                                               channel: method.rawValue, actor: by), on: c)
        return number
    }

    enum ReversalKind: String { case void, refund }

    func reverse(_ kind: ReversalKind, _ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let number = context.parameters.get("number") ?? ""
        let form = try await decode(RefundForm.self, request)
        var check = FieldCheck()
        let reason = check.text(form.reason, "reason", required: true, max: 300)
        let partial = kind == .refund && !form.amount.isEmpty ? check.money(form.amount, "amount") : nil
        if kind == .void, !form.amount.isEmpty { check.add(Problem(field: "amount", code: .notAllowed, message: "a void reverses the whole receipt; a refund may be part of it")) }
        try valid(check)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard let p = try c.query("""
                SELECT id, property, target, target_id, amount_fen, reversed_fen, method, entry_id, ticket_id_of(target_id), paid_at > now() - interval '1 day'
                FROM payments WHERE receipt_number = $1 AND property = ANY($2::text[]) FOR UPDATE
                """, [number, PostgresArray(scope.properties)]).first else { throw APIError.notFound("receipt \(number.prefix(40))") }
            let paymentID: UUID = try p.decode(0), property: String = try p.decode(1), target: String = try p.decode(2), targetID: UUID = try p.decode(3)
            let paid = Money(fen: try p.decode(4)), reversed = Money(fen: try p.decode(5))
            let left = paid - reversed
            guard left.fen > 0 else { throw Self.conflict("receipt \(number) is already fully reversed") }
            if kind == .void {
                guard reversed.fen == 0 else { throw Self.conflict("receipt \(number) was partly refunded: refund the rest instead of voiding it") }
            }
            let amount = partial ?? left
            guard amount <= left else {
                throw APIError(status: .unprocessableContent, code: .amountOverBalance, message: "at most \(left.display) of this receipt is left to refund",
                               problems: [Problem(field: "amount", code: .amountOverBalance, message: "at most \(left.description)")])
            }
            // The payment's own entry, scaled to the amount, backwards.
            let postings = try c.query("SELECT account, party, amount_fen FROM ledger_postings WHERE entry_id = $1", [try p.decode(7, as: Int64.self)]).map {
                Posting(LedgerAccount(rawValue: try $0.decode(0)) ?? .cash, try $0.decode(1, as: String?.self), Money(fen: try $0.decode(2)))
            }
            guard let original = JournalEntry(postings), let back = original.reversed(scale: { Money(fen: Money.divideRounded($0.fen * amount.fen, paid.fen)) }) else {
                throw PostgresError(kind: .decoding, message: "payment \(number) has an unbalanced entry")
            }
            let entry = try Ledger.post(back, property: property, kind: kind.rawValue, reference: number, on: c)
            if target == "charge" || target == "bill" {
                let table = target == "charge" ? "charges" : "bills"
                try c.executeLater("UPDATE \(table) SET paid_fen = paid_fen - $2 WHERE id = $1", [targetID, amount.fen])
                if target == "bill" { try c.executeLater("UPDATE bills SET state = 'open' WHERE id = $1 AND paid_fen < amount_fen", [targetID]) }
            }
            try c.executeLater("UPDATE payments SET reversed_fen = reversed_fen + $2 WHERE id = $1", [paymentID, amount.fen])
            let (seq, reversal) = try Ledger.nextNumber(.reversal, property: property, on: c)
            try c.executeLater("""
                INSERT INTO reversals (id, property, payment_id, kind, seq, number, amount_fen, reason, by_whom, entry_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """, [UUID(), property, paymentID, kind.rawValue, seq, reversal, amount.fen, reason!, by, entry])
            try Ledger.publish(kind == .void ? "receipt" : "payment", kind == .void ? "voided" : "refunded", property: property,
                               BillingEventPayload(subject: "payment", subjectID: paymentID, reference: reversal, amountFen: amount.fen,
                                                   ticketID: try p.decode(8, as: UUID?.self), actor: by, note: reason), on: c)
            return try c.query(Self.receiptSQL, [number, PostgresArray(scope.properties)])[0].decode(0, as: String.self)
        }
        logger.info("receipt reversed", metadata: ["kind": "\(kind.rawValue)", "receipt": "\(number)"])
        return Self.json(text, status: .created)
    }

    // MARK: Repair-cost approvals (B4, B5)

    func submitApproval(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = try await decode(ApprovalForm.self, request)
        var check = FieldCheck()
        let orderID = check.id(form.workOrderID, "work_order_id")
        let amount = check.money(form.amount, "amount")
        let description = check.text(form.description, "description", required: true, max: 300, what: "what the cost is for")
        let repairClass = check.choice(form.repairClass, "repair_class", RepairClass.self, required: false)
        let named = check.text(form.contractor, "contractor", required: false, max: 80, what: "whose quality deposit pays for warranty work")
        try valid(check)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard let w = try c.query("""
                SELECT w.property, w.department, w.ticket_id, t.number FROM work_orders w JOIN tickets t ON t.id = w.ticket_id
                WHERE w.id = $1 AND w.property = ANY($2::text[])
                """, [orderID!, PostgresArray(scope.properties)]).first else { throw APIError.notFound("work order") }
            if let mine = scope.departments, !mine.map(\.rawValue).contains(try w.decode(1, as: String.self)) { throw APIError.notFound("work order") }
            let property: String = try w.decode(0)
            // R5: a signed-off repair's class and contractor are the sign-off's; an approval that
            // says otherwise is refused.
            var repairClass = repairClass, contractor = named
            if let signed = try c.query("SELECT repair_class, contractor FROM work_order_sign_offs WHERE work_order_id = $1", [orderID!]).first {
                let signedClass = RepairClass(rawValue: try signed.decode(0, as: String.self))
                if let asked = repairClass, asked != signedClass {
                    throw APIError(status: .conflict, code: .illegalTransition,
                                   message: "the work order was signed off as class \(signedClass?.rawValue ?? "?"); its approval is the same class")
                }
                repairClass = signedClass
                contractor = try contractor ?? signed.decode(1, as: String?.self)
            }
            if repairClass == .a, contractor == nil {
                throw APIError.validation(ValidationFailure(problems: [Problem(field: "contractor", code: .required,
                                                                               message: "contractor (whose quality deposit pays for warranty work) is required")]))
            }
            let limits = try c.query("SELECT approval::text FROM billing_settings WHERE property = $1", [property]).first
                .map { try DeskJSON.decoder.decode(ApprovalLimits.self, from: Data(try $0.decode(0, as: String.self).utf8)) } ?? .standard
            let steps = ApprovalChain.steps(for: amount!, limits: limits)
            let id = UUID()
            try c.executeLater("""
                INSERT INTO approvals (id, property, work_order_id, ticket_id, amount_fen, description, repair_class, contractor, submitted_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """, [id, property, orderID!, try w.decode(2, as: UUID.self), amount!.fen, description!, repairClass?.rawValue, contractor, by])
            var first: UUID?
            for (i, step) in steps.enumerated() {
                let stepID = UUID()
                if i == 0 { first = stepID }
                try c.executeLater("INSERT INTO approval_steps (id, approval_id, position, action, role, department, state) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                   [stepID, id, i + 1, step.action.rawValue, step.approver.role.rawValue, step.approver.department?.rawValue, i == 0 ? "pending" : "waiting"])
            }
            try Self.requestStep(first!, steps[0], approval: id, property: property, ticketID: try w.decode(2), number: try w.decode(3), amount: amount!, by: by, on: c)
            return try Self.view("approval", id, properties: scope.properties, on: c)!
        }
        return Self.json(text, status: .created)
    }

    static func requestStep(_ stepID: UUID, _ step: ApprovalStepPlan, approval: UUID, property: String, ticketID: UUID, number: String,
                            amount: Money, by: String, on c: PostgresConnection) throws {
        try Ledger.publish("approval", "requested", property: property,
                           BillingEventPayload(subject: "approval_step", subjectID: stepID, reference: number, amountFen: amount.fen, ticketID: ticketID,
                                               recipients: [step.approver], action: step.action.rawValue, actor: by), on: c)
    }

    func decide(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await decode(DecisionForm.self, request)
        var check = FieldCheck()
        let note = check.text(form.note, "note", required: form.decision == "reject", max: 300, what: "why it is rejected")
        if form.decision != "approve", form.decision != "reject" {
            check.add(Problem(field: "decision", code: form.decision == nil ? .required : .unknownValue, message: "decision is approve or reject"))
        }
        try valid(check)
        let approve = form.decision == "approve"
        let identity = caller.identity, by = identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard let a = try c.query("""
                SELECT a.property, a.state, a.amount_fen, a.ticket_id, t.number, a.repair_class, a.contractor FROM approvals a JOIN tickets t ON t.id = a.ticket_id
                WHERE a.id = $1 AND a.property = ANY($2::text[]) FOR UPDATE OF a
                """, [id, PostgresArray(identity.properties)]).first else { throw APIError.notFound("approval") }
            guard try a.decode(1, as: String.self) == "pending" else { throw Self.conflict("this approval is already \(try a.decode(1, as: String.self))") }
            let s = try c.query("SELECT id, position, action, role, department FROM approval_steps WHERE approval_id = $1 AND state = 'pending'", [id])[0]
            let role = StaffRole(rawValue: try s.decode(3)), department = try s.decode(4, as: String?.self).flatMap(Department.init(rawValue:))
            // B4 names the approver by role (and department): nobody else decides this step.
            let holds = role.map(identity.roles.contains) ?? false
            let inDepartment = department == nil || !AccessPolicy.departmentBound.contains(role!) || identity.departments.contains(department!)
            guard holds, inDepartment else {
                throw APIError(status: .forbidden, code: .forbidden, message: "this step (\(try s.decode(2, as: String.self))) is for the \(try s.decode(3, as: String.self).replacingOccurrences(of: "_", with: " "))\(department.map { " of \($0.rawValue.replacingOccurrences(of: "_", with: " "))" } ?? "")")
            }
            let stepID: UUID = try s.decode(0), position = Int(try s.decode(1, as: Int64.self))
            let property: String = try a.decode(0), amount = Money(fen: try a.decode(2)), ticketID: UUID = try a.decode(3), number: String = try a.decode(4)
            try c.executeLater("UPDATE approval_steps SET state = $2, decided_by = $3, decided_at = now(), note = $4 WHERE id = $1",
                               [stepID, approve ? "approved" : "rejected", by, note])
            try Ledger.publish("approval", "decided", property: property,
                               BillingEventPayload(subject: "approval_step", subjectID: stepID, reference: number, amountFen: amount.fen, ticketID: ticketID,
                                                   action: try s.decode(2), decision: approve ? "approved" : "rejected", actor: by, note: note), on: c)
            let next = approve ? try c.query("SELECT id, action, role, department FROM approval_steps WHERE approval_id = $1 AND position = $2", [id, position + 1]).first : nil
            if let next {
                try c.executeLater("UPDATE approval_steps SET state = 'pending' WHERE id = $1", [try next.decode(0, as: UUID.self)])
                let plan = ApprovalStepPlan(ApprovalAction(rawValue: try next.decode(1))!,
                                            Recipient(StaffRole(rawValue: try next.decode(2))!, try next.decode(3, as: String?.self).flatMap(Department.init(rawValue:))))
                try Self.requestStep(try next.decode(0), plan, approval: id, property: property, ticketID: ticketID, number: number, amount: amount, by: by, on: c)
            } else {
                var entryID: Int64?
                if approve {
                    // B5: class A (warranty) work is paid from the contractor's quality deposit.
                    let contractor = try a.decode(6, as: String?.self)
                    let warranty = try a.decode(5, as: String?.self) == RepairClass.a.rawValue
                    let entry = JournalEntry.transfer(amount, debit: warranty ? .contractorQualityDeposit : .repairExpense, warranty ? contractor : nil,
                                                      credit: .repairPayable, contractor ?? number)
                    entryID = try Ledger.post(entry, property: property, kind: "repair_cost", reference: number, on: c)
                }
                try c.executeLater("UPDATE approvals SET state = $2, entry_id = $3 WHERE id = $1", [id, approve ? "approved" : "rejected", entryID])
                if !approve { try c.executeLater("UPDATE approval_steps SET state = 'skipped' WHERE approval_id = $1 AND state = 'waiting'", [id]) }
                try Ledger.publish("approval", "completed", property: property,
                                   BillingEventPayload(subject: "approval", subjectID: id, reference: number, amountFen: amount.fen, ticketID: ticketID,
                                                       decision: approve ? "approved" : "rejected", actor: by, note: note), on: c)
            }
            return try Self.view("approval", id, properties: identity.properties, on: c)!
        }
        return Self.json(text)
    }

    // MARK: Units, fees and dunning (B6, B8)

    func saveUnit(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = try await decode(UnitForm.self, request)
        var check = FieldCheck()
        let building = check.text(form.building, "building", required: true, max: 40)
        let unit = check.text(form.unit, "unit", required: true, max: 40)
        let area = form.area.flatMap(Area.parse)
        if area == nil { check.add(Problem(field: "area", code: form.area == nil ? .required : .invalidFormat, message: "area is the floor area in m², like \"89.50\" (more than 0, at most 100000)")) }
        let status = check.choice(form.status ?? UnitStatus.occupied.rawValue, "status", UnitStatus.self)
        try valid(check)
        let property = try Self.property(form.property, caller)
        let text = try await postgres.withTransaction { c -> String in
            let row = try c.query("""
                INSERT INTO units (id, property, building, unit, area_centi, status, resident_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (property, building, unit) DO UPDATE SET area_centi = excluded.area_centi, status = excluded.status,
                    resident_id = coalesce(excluded.resident_id, units.resident_id)
                RETURNING (to_jsonb(units) || jsonb_build_object('area', money_text(area_centi)))::text
                """, [UUID(), property, building!, unit!, area!.centi, status!.rawValue, form.residentID])
            return try row[0].decode(0)
        }
        return Self.json(text, status: .created)
    }

    func generateBills(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = try await decode(BillRunForm.self, request)
        var check = FieldCheck()
        let period = form.period.flatMap(BillingPeriod.init)
        if period == nil { check.add(Problem(field: "period", code: form.period == nil ? .required : .invalidFormat, message: "period is a month, YYYY-MM")) }
        if form.dueDate == nil { check.add(Problem(field: "due_date", code: .required, message: "due_date is required, YYYY-MM-DD")) }
        if let d = form.dueDate, !CivilDate.plausibleYears.contains(d.components.year) {
            check.add(Problem(field: "due_date", code: .invalidFormat, message: "due_date must be in the years 2000–2100"))
        }
        try valid(check)
        let property = try Self.property(form.property, caller)
        let by = caller.identity.name
        let started = ContinuousClock.now
        let run = try await postgres.withTransaction { c -> String in
            try FeeRuns.generate(property: property, period: period!, due: form.dueDate!, by: by, on: c)
        }
        logger.info("bills generated", metadata: ["property": "\(property)", "period": "\(period!)", "elapsed": "\(ContinuousClock.now - started)"])
        return Self.json(run, status: .created)
    }

    func recordDunning(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await decode(DunningForm.self, request)
        var check = FieldCheck()
        let stage = check.choice(form.stage, "stage", DunningStage.self)
        if let stage, !DunningStage.recorded.contains(stage) {
            check.add(Problem(field: "stage", code: .notAllowed, message: "a person records reminded, letter_sent, visited or legal"))
        }
        let channel = check.text(form.channel, "channel", required: true, max: 20, what: "how: \(DunningForm.channels.joined(separator: ", "))")
        if let channel, !DunningForm.channels.contains(channel) {
            check.add(Problem(field: "channel", code: .unknownValue, message: "channel must be one of \(DunningForm.channels.joined(separator: ", "))"))
        }
        let tracking = check.text(form.trackingNumber, "tracking_number", required: stage == .letterSent, max: 40, what: "the express letter's tracking number")
        let note = check.text(form.note, "note", required: false, max: 500)
        try valid(check)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard let b = try c.query("SELECT property FROM bills WHERE id = $1 AND property = ANY($2::text[])", [id, PostgresArray(scope.properties)]).first else {
                throw APIError.notFound("bill")
            }
            try Dunning.record(bill: id, stage: stage!, channel: channel!, trackingNumber: tracking, note: note, by: by, on: c)
            return try Self.view("bill", id, properties: [try b.decode(0)], on: c)!
        }
        return Self.json(text, status: .created)
    }

    func postLateFee(_ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let scope = caller.scope
        let text = try await postgres.withTransaction { c -> String in
            guard let b = try c.query("""
                SELECT b.property, b.amount_fen - b.paid_fen, b.due_date::text, b.unit_id, s.late_fee::text, p.time_zone, b.period,
                       (SELECT coalesce(sum(amount_fen), 0) FROM charges WHERE bill_id = b.id AND kind = 'late_fee')
                FROM bills b JOIN properties p ON p.code = b.property LEFT JOIN billing_settings s ON s.property = b.property
                WHERE b.id = $1 AND b.property = ANY($2::text[]) FOR UPDATE OF b
                """, [id, PostgresArray(scope.properties)]).first else { throw APIError.notFound("bill") }
            guard let ruleText = try b.decode(4, as: String?.self) else {
                throw APIError(status: .unprocessableContent, code: .notAllowed, message: "this property charges no late fees (billing_settings.late_fee)")
            }
            let rule = try DeskJSON.decoder.decode(LateFeeRule.self, from: Data(ruleText.utf8))
            let zone = TimeZone(identifier: try b.decode(5)) ?? TimeZone(identifier: "Asia/Shanghai")!
            let due = CivilDate(try b.decode(2, as: String.self))!
            let daysLate = CivilDate.of(Date(), in: zone).ordinal - due.ordinal
            let accrued = rule.accrued(on: Money(fen: try b.decode(1)), daysLate: daysLate) - Money(fen: try b.decode(7))
            guard accrued.fen > 0 else { throw Self.conflict("no late fee has accrued on this bill since the last one was posted") }
            let property: String = try b.decode(0), unit: UUID = try b.decode(3)
            let entry = try Ledger.post(.transfer(accrued, debit: .receivable, unit.uuidString.lowercased(), credit: .revenueLateFee), property: property,
                                        kind: "late_fee", reference: "bill \(id)", on: c)
            let charge = UUID()
            try c.executeLater("""
                INSERT INTO charges (id, property, kind, unit_id, bill_id, description, amount_fen, entry_id) VALUES ($1, $2, 'late_fee', $3, $4, $5, $6, $7)
                """, [charge, property, unit, id, "滞纳金 \(try b.decode(6, as: String.self)) (\(daysLate) days late)", accrued.fen, entry])
            try Ledger.publish("charge", "posted", property: property,
                               BillingEventPayload(subject: "charge", subjectID: charge, reference: "late fee \(try b.decode(6, as: String.self))", amountFen: accrued.fen, actor: caller.identity.name), on: c)
            return try Self.view("charge", charge, properties: scope.properties, on: c)!
        }
        return Self.json(text, status: .created)
    }

    func statement(_ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let scope = caller.scope
        guard let text = try await postgres.withConnection({ try Statements.unit(id, properties: scope.properties, on: $0) }) else {
            throw APIError.notFound("unit")
        }
        return Self.json(text)
    }

    // MARK: Deposits (B7) and contractors' quality deposits (B5)

    struct DepositBody: Encodable, Sendable {
        var property: String, item: String, ticket: UUID?, unit: UUID?, method: String, reference: String?, payer: String?
    }

    func takeDeposit(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = try await decode(DepositForm.self, request)
        var check = FieldCheck()
        let item = check.text(form.itemCode, "item_code", required: true, max: 40, what: "the deposit's item on the price list")
        let method = check.choice(form.method, "method", PaymentMethod.self)
        let reference = check.text(form.reference, "reference", required: method?.needsReference ?? false, max: 64)
        let payer = check.text(form.payer, "payer", required: false, max: 60)
        try valid(check)
        let property = try Self.property(form.property, caller)
        let scope = caller.scope, by = caller.identity.name
        let body = DepositBody(property: property, item: item!, ticket: form.ticketID, unit: form.unitID, method: method!.rawValue, reference: reference, payer: payer)
        return try await idempotent(request, body: body) { c in
            guard let row = try c.query("""
                SELECT i.name, i.price_fen FROM price_items i WHERE i.property = $1 AND i.code = $2 AND i.kind = 'deposit'
                  AND i.version = (SELECT max(version) FROM price_lists WHERE property = $1)
                """, [property, item!]).first else {
                throw APIError(status: .unprocessableContent, code: .unknownValue, message: "no deposit \(item!) on the current price list",
                               problems: [Problem(field: "item_code", code: .unknownValue, message: "not a deposit on the current price list")])
            }
            if let ticket = form.ticketID, try c.query("SELECT 1 FROM tickets WHERE id = $1 AND property = $2", [ticket, property]).isEmpty { throw APIError.notFound("ticket") }
            if let unit = form.unitID, try c.query("SELECT 1 FROM units WHERE id = $1 AND property = $2", [unit, property]).isEmpty { throw APIError.notFound("unit") }
            let id = UUID(), amount = Money(fen: try row.decode(1)), name: String = try row.decode(0)
            try c.executeLater("INSERT INTO deposits (id, property, ticket_id, unit_id, item_code, item, amount_fen) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                               [id, property, form.ticketID, form.unitID, item!, name, amount.fen])
            _ = try self.recordPayment(property: property, target: "deposit", targetID: id, amount: amount, method: method!, reference: reference, payer: payer,
                                       credit: .depositsHeld, party: id.uuidString.lowercased(), ticketID: form.ticketID, by: by, on: c)
            try Ledger.publish("deposit", "taken", property: property,
                               BillingEventPayload(subject: "deposit", subjectID: id, reference: name, amountFen: amount.fen, ticketID: form.ticketID, actor: by), on: c)
            return (.created, try Self.view("deposit", id, properties: scope.properties, on: c)!)
        }
    }

    func returnDeposit(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let form = try await decode(ReturnForm.self, request)
        var check = FieldCheck()
        if form.condition != "good", form.condition != "damaged" {
            check.add(Problem(field: "condition", code: form.condition == nil ? .required : .unknownValue, message: "condition is good (refunded) or damaged (forfeited)"))
        }
        let note = check.text(form.note, "note", required: form.condition == "damaged", max: 300, what: "what is wrong with it")
        try valid(check)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            guard try !c.query("SELECT 1 FROM deposits WHERE id = $1 AND property = ANY($2::text[])", [id, PostgresArray(scope.properties)]).isEmpty else {
                throw APIError.notFound("deposit")
            }
            try Deposits.close(id, refund: form.condition == "good", condition: form.condition!, note: note, by: by, on: c)
            return try Self.view("deposit", id, properties: scope.properties, on: c)!
        }
        return Self.json(text)
    }

    func contractorDeposit(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = try await decode(ContractorDepositForm.self, request)
        var check = FieldCheck()
        let contractor = check.text(form.contractor, "contractor", required: true, max: 80)
        let amount = check.money(form.amount, "amount")
        let method = check.choice(form.method, "method", PaymentMethod.self)
        let reference = check.text(form.reference, "reference", required: method?.needsReference ?? false, max: 64)
        try valid(check)
        let property = try Self.property(form.property, caller)
        let scope = caller.scope, by = caller.identity.name
        let text = try await postgres.withTransaction { c -> String in
            let number = try self.recordPayment(property: property, target: "contractor_deposit", targetID: UUID(), amount: amount!, method: method!,
                                                reference: reference, payer: contractor, credit: .contractorQualityDeposit, party: contractor, ticketID: nil, by: by, on: c)
            return try c.query(Self.receiptSQL, [number, PostgresArray(scope.properties)])[0].decode(0, as: String.self)
        }
        return Self.json(text, status: .created)
    }
}
