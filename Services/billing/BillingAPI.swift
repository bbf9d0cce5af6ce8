import Contracts
import Desk
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Postgres
import ServiceKit

/// The money desk's HTTP API, on the billing service. ``routes`` is the whole surface; the
/// OpenAPI document describes the same routes (their path items name the billing server) and a
/// test holds the two together. Every route names its permission (``Permission``) and signs its
/// caller in; what a caller reads and changes is limited to their properties in the queries
/// themselves, so an id elsewhere is 404. Views are the rows as stored, with each amount also
/// written as yuan (`amount: "1000.00"` beside `amount_fen`).
struct BillingAPI: Sendable {
    let postgres: PostgresClient
    let logger: Logger

    typealias Handler = @Sendable (BillingAPI, Request, PropDeskRequestContext, Caller?) async throws -> Response

    struct Route: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let permission: Permission
        /// Open without signing in when the property says so (the public price list).
        let openWhenPublic: Bool
        let handler: Handler

        init(_ method: HTTPRequest.Method, _ path: String, _ permission: Permission, openWhenPublic: Bool = false, _ handler: @escaping Handler) {
            self.method = method
            self.path = path
            self.permission = permission
            self.openWhenPublic = openWhenPublic
            self.handler = handler
        }
    }

    static let routes: [Route] = [
        Route(.get, "/price-lists/{property}", .pricesRead, openWhenPublic: true) { api, r, ctx, _ in try await api.priceList(r, ctx) },
        Route(.post, "/price-lists/{property}", .pricesManage) { api, r, ctx, c in try await api.publishPriceList(r, ctx, c!) },
        Route(.post, "/quotes", .quotesWrite) { api, r, _, c in try await api.issueQuote(r, c!) },
        Route(.get, "/quotes/{id}", .billingRead) { api, _, ctx, c in try await api.read("quote", ctx, c!) },
        Route(.post, "/quotes/{id}/accept", .quotesAnswer) { api, r, ctx, c in try await api.answerQuote(true, r, ctx, c!) },
        Route(.post, "/quotes/{id}/decline", .quotesAnswer) { api, r, ctx, c in try await api.answerQuote(false, r, ctx, c!) },
        Route(.post, "/quotes/{id}/dispute", .quotesAnswer) { api, r, ctx, c in try await api.dispute(r, ctx, c!) },
        Route(.post, "/disputes/{id}/resolve", .disputesResolve) { api, r, ctx, c in try await api.resolveDispute(r, ctx, c!) },
        Route(.get, "/charges/{id}", .billingRead) { api, _, ctx, c in try await api.read("charge", ctx, c!) },
        Route(.post, "/payments", .paymentsTake) { api, r, _, c in try await api.takePayment(r, c!) },
        Route(.get, "/receipts/{number}", .billingRead) { api, _, ctx, c in try await api.receipt(ctx, c!) },
        Route(.get, "/receipts/{number}/print", .billingRead) { api, r, ctx, c in try await api.printReceipt(r, ctx, c!) },
        Route(.post, "/receipts/{number}/void", .paymentsReverse) { api, r, ctx, c in try await api.reverse(.void, r, ctx, c!) },
        Route(.post, "/receipts/{number}/refund", .paymentsReverse) { api, r, ctx, c in try await api.reverse(.refund, r, ctx, c!) },
        Route(.post, "/approvals", .approvalsSubmit) { api, r, _, c in try await api.submitApproval(r, c!) },
        Route(.get, "/approvals/{id}", .billingRead) { api, _, ctx, c in try await api.read("approval", ctx, c!) },
        Route(.post, "/approvals/{id}/decide", .approvalsDecide) { api, r, ctx, c in try await api.decide(r, ctx, c!) },
        Route(.post, "/units", .feesManage) { api, r, _, c in try await api.saveUnit(r, c!) },
        Route(.get, "/units/{id}/statement", .billingRead) { api, _, ctx, c in try await api.statement(ctx, c!) },
        Route(.post, "/bill-runs", .feesManage) { api, r, _, c in try await api.generateBills(r, c!) },
        Route(.get, "/bills/{id}", .billingRead) { api, _, ctx, c in try await api.read("bill", ctx, c!) },
        Route(.post, "/bills/{id}/dunning", .feesManage) { api, r, ctx, c in try await api.recordDunning(r, ctx, c!) },
        Route(.post, "/bills/{id}/late-fee", .feesManage) { api, _, ctx, c in try await api.postLateFee(ctx, c!) },
        Route(.post, "/deposits", .paymentsTake) { api, r, _, c in try await api.takeDeposit(r, c!) },
        Route(.get, "/deposits/{id}", .billingRead) { api, _, ctx, c in try await api.read("deposit", ctx, c!) },
        Route(.post, "/deposits/{id}/return", .paymentsTake) { api, r, ctx, c in try await api.returnDeposit(r, ctx, c!) },
        Route(.post, "/contractor-deposits", .feesManage) { api, r, _, c in try await api.contractorDeposit(r, c!) },
    ]

    func register(on router: Router<PropDeskRequestContext>) {
        let authenticator = Authenticator(postgres: postgres)
        for route in Self.routes {
            let api = self
            router.on(RouterPath(route.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")),
                      method: route.method) { request, context in
                if route.openWhenPublic, !Authenticator.presentsCredentials(request),
                   try await api.isPublic(context.parameters.get("property") ?? "") {
                    return try await route.handler(api, request, context, nil)
                }
                let caller = try await authenticator.caller(request, context, route.permission)
                return try await route.handler(api, request, context, caller)
            }
        }
    }

    // MARK: Reading

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }


    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try await JSONRequest.decode(T.self, request, decoder: DeskJSON.decoder)
    }

    func valid(_ check: FieldCheck) throws {
        if let failure = check.failure { throw APIError.validation(failure) }
    }

    /// A stored thing as JSON, if it is at one of `properties`.
    static func view(_ kind: String, _ id: UUID, properties: [String], on c: PostgresConnection) throws -> String? {
        let sql: String
        switch kind {
        case "quote":
            sql = """
                SELECT (to_jsonb(q) || jsonb_build_object('cost', money_text(q.cost_fen), 'amount', money_text(q.amount_fen),
                        'margin', money_text(q.amount_fen - q.cost_fen),
                        'disputes', coalesce((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.opened_at) FROM price_disputes d WHERE d.quote_id = q.id), '[]')))::text
                FROM quotes q WHERE q.id = $1 AND q.property = ANY($2::text[])
                """
        case "charge":
            sql = """
                SELECT (to_jsonb(ch) || jsonb_build_object('amount', money_text(ch.amount_fen), 'paid', money_text(ch.paid_fen),
                        'outstanding', money_text(ch.amount_fen - ch.paid_fen)))::text
                FROM charges ch WHERE ch.id = $1 AND ch.property = ANY($2::text[])
                """
        case "approval":
            sql = """
                SELECT (to_jsonb(a) || jsonb_build_object('amount', money_text(a.amount_fen),
                        'steps', (SELECT jsonb_agg(to_jsonb(s) ORDER BY s.position) FROM approval_steps s WHERE s.approval_id = a.id)))::text
                FROM approvals a WHERE a.id = $1 AND a.property = ANY($2::text[])
                """
        case "bill":
            sql = """
                SELECT (to_jsonb(b) || jsonb_build_object('amount', money_text(b.amount_fen), 'paid', money_text(b.paid_fen),
                        'outstanding', money_text(b.amount_fen - b.paid_fen), 'building', u.building, 'unit', u.unit,
                        'dunning', coalesce((SELECT jsonb_agg(to_jsonb(d) - 'bill_id' ORDER BY d.id) FROM dunning_steps d WHERE d.bill_id = b.id), '[]')))::text
                FROM bills b JOIN units u ON u.id = b.unit_id WHERE b.id = $1 AND b.property = ANY($2::text[])
                """
        case "deposit":
            sql = """
                SELECT (to_jsonb(d) || jsonb_build_object('amount', money_text(d.amount_fen),
                        'receipt_number', (SELECT receipt_number FROM payments p WHERE p.target_id = d.id ORDER BY paid_at LIMIT 1),
                        'refund_number', (SELECT r.number FROM reversals r JOIN payments p ON p.id = r.payment_id WHERE p.target_id = d.id LIMIT 1)))::text
                FROM deposits d WHERE d.id = $1 AND d.property = ANY($2::text[])
                """
        default:
            return nil
        }
        return try c.query(sql, [id, PostgresArray(properties)]).first?.decode(0, as: String.self)
    }

    func read(_ kind: String, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let id = try context.pathID()
        let properties = caller.scope.properties
        guard let text = try await postgres.withConnection({ try Self.view(kind, id, properties: properties, on: $0) }) else {
            throw APIError.notFound(kind)
        }
        return Self.json(text)
    }

    /// A payment as its receipt: the payment, what it paid, and any void or refunds.
    static let receiptSQL = """
        SELECT (to_jsonb(p) - 'entry_id' || jsonb_build_object('amount', money_text(p.amount_fen), 'reversed', money_text(p.reversed_fen),
                'property_name', pr.name, 'time_zone', pr.time_zone,
                'paid_at_local', to_char(p.paid_at AT TIME ZONE pr.time_zone, 'YYYY-MM-DD HH24:MI:SS'),
                'reversals', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', r.kind, 'number', r.number, 'amount', money_text(r.amount_fen),
                                        'amount_fen', r.amount_fen, 'reason', r.reason, 'by', r.by_whom, 'at', r.at) ORDER BY r.seq)
                                       FROM reversals r WHERE r.payment_id = p.id), '[]'),
                'for', CASE p.target
                    WHEN 'charge' THEN (SELECT jsonb_build_object('description', ch.description, 'ticket_id', ch.ticket_id,
                                                             'ticket_number', (SELECT number FROM tickets WHERE id = ch.ticket_id)) FROM charges ch WHERE ch.id = p.target_id)
                    WHEN 'bill' THEN (SELECT jsonb_build_object('description', '物业管理费 ' || b.period, 'building', u.building, 'unit', u.unit, 'period', b.period)
                                      FROM bills b JOIN units u ON u.id = b.unit_id WHERE b.id = p.target_id)
                    WHEN 'deposit' THEN (SELECT jsonb_build_object('description', d.item || ' 押金') FROM deposits d WHERE d.id = p.target_id)
                    ELSE jsonb_build_object('description', p.payer) END))::text
        FROM payments p JOIN properties pr ON pr.code = p.property WHERE p.receipt_number = $1 AND p.property = ANY($2::text[])
        """

    func receiptJSON(_ context: PropDeskRequestContext, _ caller: Caller) async throws -> (String, [String: Any]) {
        let number = context.parameters.get("number") ?? ""
        let properties = caller.scope.properties
        guard let text = try await postgres.withConnection({ try $0.query(Self.receiptSQL, [number, PostgresArray(properties)]).first?.decode(0, as: String.self) }),
              let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw APIError.notFound("receipt \(number.prefix(40))")
        }
        return (text, object)
    }

    func receipt(_ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        Self.json(try await receiptJSON(context, caller).0)
    }

    func printReceipt(_ request: Request, _ context: PropDeskRequestContext, _ caller: Caller) async throws -> Response {
        let (_, receipt) = try await receiptJSON(context, caller)
        return ReceiptPage.response(receipt)
    }

    func isPublic(_ property: String) async throws -> Bool {
        try await postgres.query("SELECT price_list_public FROM billing_settings WHERE property = $1", [property]).first?.decode(0, as: Bool.self) ?? false
    }

    func priceList(_ request: Request, _ context: PropDeskRequestContext) async throws -> Response {
        let property = context.parameters.get("property") ?? ""
        let version = try FormQuery(request.uri.query)["version"].map { raw -> Int in
            guard let v = Int(raw), v >= 1 else { throw APIError.badRequest(.invalidFormat, "version is a whole number from 1", field: "version") }
            return v
        }
        // A caller who signed in reaches their own properties; the public reaches a public list.
        let text = try await postgres.withConnection { c -> String? in
            try c.query("""
                SELECT jsonb_build_object('property', l.property, 'version', l.version, 'published_at', l.published_at, 'published_by', l.published_by,
                       'items', (SELECT jsonb_agg(to_jsonb(i) - 'property' - 'version' || jsonb_build_object('price', money_text(i.price_fen)) ORDER BY i.code)
                                 FROM price_items i WHERE i.property = l.property AND i.version = l.version))::text
                FROM price_lists l WHERE l.property = $1 AND ($2::int IS NULL OR l.version = $2) ORDER BY l.version DESC LIMIT 1
                """, [property, version]).first?.decode(0, as: String.self)
        }
        guard let text else { throw APIError.notFound("price list of \(property.prefix(40))") }
        return Self.json(text)
    }

    /// The property of a signed-in caller's request: one of theirs, or 404.
    static func property(_ code: String?, _ caller: Caller, field: String = "property") throws -> String {
        guard let code, !code.isEmpty else { throw APIError.validation(ValidationFailure(problems: [Problem(field: field, code: .required, message: "\(field) is required")])) }
        guard caller.scope.covers(property: code) else { throw APIError.notFound("property \(code.prefix(40))") }
        return code
    }
}
