import Contracts
import Domain
import Foundation
import Hummingbird
import Identity
import Logging
import Messaging
import Postgres
import ServiceKit

/// SMS delivery receipts (状态报告), pushed by the gateway to the notification service:
/// - `POST /sms/receipts/aliyun?key=…`: Aliyun SMS's HTTP batch push, a JSON array of
///   `{biz_id, success, err_code, report_time, …}`, answered `{"code":0,"msg":"接收成功"}`;
/// - `POST /sms/receipts/tencent?key=…`: Tencent Cloud SMS's status callback, a JSON array of
///   `{sid, report_status: SUCCESS|FAIL, errmsg, user_receive_time, …}`, answered `{"result":0,"errmsg":"OK"}`.
///
/// Neither gateway signs its pushes, so the URL configured at the gateway carries a shared secret
/// (`PROPDESK_SMS_RECEIPT_KEY`), compared in constant time; without it set, receipts are refused.
/// Each receipt names the gateway's id for the message, kept from its reply to the send
/// (`PROPDESK_SMS_REPLY_ID`). A delivered receipt marks the delivery `delivered`; a failed one
/// tries the person's next contact (or, with none left, the delivery `failed`, reported). Every
/// receipt is recorded (`sms_receipts`) without the phone number; one for no known message, or a
/// replay, changes nothing.
struct SMSReceipts: Sendable {
    enum Gateway: String, Sendable { case aliyun, tencent }

    struct Receipt: Sendable {
        var ref: String
        var success: Bool
        var code: String
        var reportedAt: String
    }

    let postgres: PostgresClient
    let key: String?
    let logger: Logger
    static let maxReceipts = 1000

    /// The route (docs/openapi.yaml, on notification's server).
    static let route = "POST /sms/receipts/{gateway}"

    func register(on router: Router<PropDeskRequestContext>) {
        router.post("/sms/receipts/{gateway}") { request, context in
            guard let gateway = context.parameters.get("gateway").flatMap(Gateway.init(rawValue:)) else {
                throw APIError.notFound("receipts come from aliyun or tencent: /sms/receipts/aliyun, /sms/receipts/tencent")
            }
            return try await self.receive(gateway, request)
        }
    }

    private struct Aliyun: Decodable {
        var bizID: String
        var success: Bool
        var errCode: String?
        var reportTime: String?
        enum CodingKeys: String, CodingKey {
            case success
            case bizID = "biz_id"
            case errCode = "err_code"
            case reportTime = "report_time"
        }
    }

    private struct Tencent: Decodable {
        var sid: String
        var reportStatus: String
        var errmsg: String?
        var userReceiveTime: String?
        enum CodingKeys: String, CodingKey {
            case sid, errmsg
            case reportStatus = "report_status"
            case userReceiveTime = "user_receive_time"
        }
    }

    func receive(_ gateway: Gateway, _ request: Request) async throws -> Response {
        guard let key, let sent = request.uri.queryParameters.get("key"), constantTimeEqual(sent, key) else {
            throw APIError(status: .unauthorized, code: .receiptKeyInvalid,
                           message: "a delivery receipt needs the shared key: ?key=<PROPDESK_SMS_RECEIPT_KEY> in the URL the gateway calls")
        }
        let decoder = JSONDecoder()
        let receipts: [Receipt] = switch gateway {
        case .aliyun:
            try await JSONRequest.decode([Aliyun].self, request, decoder: decoder, maxBody: 1 << 20).map {
                Receipt(ref: $0.bizID, success: $0.success, code: $0.errCode ?? "", reportedAt: $0.reportTime ?? "")
            }
        case .tencent:
            try await JSONRequest.decode([Tencent].self, request, decoder: decoder, maxBody: 1 << 20).map {
                Receipt(ref: $0.sid, success: $0.reportStatus == "SUCCESS", code: $0.errmsg ?? $0.reportStatus,
                        reportedAt: $0.userReceiveTime ?? "")
            }
        }
        try Self.validate(receipts)
        let outcomes = try await postgres.withTransaction { c in try receipts.map { try Self.apply($0, from: gateway, on: c) } }
        logger.info("sms receipts", metadata: [
            "gateway": "\(gateway.rawValue)", "applied": "\(outcomes.filter { $0 == "applied" }.count)",
            "unknown": "\(outcomes.filter { $0 == "unknown" }.count)", "stale": "\(outcomes.filter { $0 == "stale" }.count)",
            "replayed": "\(outcomes.filter { $0 == "replayed" }.count)",
        ])
        let answer = gateway == .aliyun ? #"{"code":0,"msg":"接收成功"}"# : #"{"result":0,"errmsg":"OK"}"#
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: answer)))
    }

    static func validate(_ receipts: [Receipt]) throws {
        guard !receipts.isEmpty, receipts.count <= maxReceipts else {
            throw APIError(status: .unprocessableContent, code: .validationFailed,
                           message: "send a JSON array of 1 to \(maxReceipts) receipts")
        }
        for (i, r) in receipts.enumerated() {
            for (field, value, limit) in [("id", r.ref, 64), ("code", r.code, 64), ("time", r.reportedAt, 40)] {
                if value.contains("\u{0}") || value.count > limit || (field == "id" && value.isEmpty) {
                    throw APIError(status: .unprocessableContent, code: value.count > limit ? .tooLong : .invalidFormat,
                                   message: "receipt \(i): its \(field) is empty, has a NUL byte or is over \(limit) characters",
                                   problems: [Problem(field: "[\(i)].\(field)", code: value.count > limit ? .tooLong : .invalidFormat, message: "bad \(field)")])
                }
            }
        }
    }

    /// Records one receipt and moves its delivery; returns what it did.
    static func apply(_ r: Receipt, from gateway: Gateway, on c: PostgresConnection) throws -> String {
        guard let receipt = try c.query("""
            INSERT INTO sms_receipts (gateway, provider_ref, success, code, reported_at, outcome) VALUES ($1, $2, $3, $4, $5, 'unknown')
            ON CONFLICT (gateway, provider_ref, success, code, reported_at) DO NOTHING RETURNING id
            """, [gateway.rawValue, r.ref, r.success, r.code, r.reportedAt]).first?.decode(0, as: Int64.self) else { return "replayed" }
        var outcome = "unknown"
        var deliveryID: Int64?
        // Sent, or in doubt after a crash mid-send: the receipt settles it. Anything else has moved on.
        if let row = try c.query("""
            SELECT id, state, jsonb_array_length(fallbacks) FROM deliveries WHERE channel = 'sms' AND provider_ref = $1
            ORDER BY id DESC LIMIT 1 FOR UPDATE
            """, [r.ref]).first {
            let id: Int64 = try row.decode(0)
            deliveryID = id
            let state: String = try row.decode(1)
            if state == "sent" || state == "unknown" {
                outcome = "applied"
                if r.success {
                    try c.execute("UPDATE deliveries SET state = 'delivered', delivered_at = clock_timestamp() WHERE id = $1", [id])
                    try DeliveryEngine.reportDelivered(id, on: c)
                } else {
                    let reason = "the SMS gateway reports it was not delivered (\(r.code))"
                    if try row.decode(2, as: Int.self) > 0 {
                        try DeliveryEngine.fallBack(id, reason: reason, on: c)
                    } else {
                        try c.execute("UPDATE deliveries SET state = 'failed', last_error = $2 WHERE id = $1", [id, reason])
                        try DeliveryEngine.reportFailure(id, reason: reason, on: c)
                    }
                }
            } else {
                outcome = "stale"
            }
        }
        try c.execute("UPDATE sms_receipts SET outcome = $2, delivery_id = $3 WHERE id = $1", [receipt, outcome, deliveryID])
        return outcome
    }
}
