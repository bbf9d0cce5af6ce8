import Foundation

/// A message ready for a channel: who, where, what.
public struct OutgoingMessage: Sendable, Equatable {
    /// ``DeliveryKey``: the receiver can use it to drop a repeat (webhook header
    /// `Idempotency-Key`, e-mail `Message-ID`).
    public var dedupeKey: String
    public var eventID: UUID
    public var eventType: String
    public var ticketID: UUID?
    public var recipient: String
    public var channel: ChannelKind
    public var address: String
    public var subject: String
    public var body: String
    public var urgent: Bool
    /// The message's template (`received`, …): a templated channel (WeChat) picks its own by it.
    public var template: String
    /// The message's facts for a templated channel's fields (``WeChatTemplates/facts``).
    public var facts: [String: String]

    public init(dedupeKey: String, eventID: UUID, eventType: String, ticketID: UUID?, recipient: String, channel: ChannelKind,
                address: String, subject: String, body: String, urgent: Bool, template: String = "", facts: [String: String] = [:]) {
        self.template = template
        self.facts = facts
        self.dedupeKey = dedupeKey
        self.eventID = eventID
        self.eventType = eventType
        self.ticketID = ticketID
        self.recipient = recipient
        self.channel = channel
        self.address = address
        self.subject = subject
        self.body = body
        self.urgent = urgent
    }

    /// Subject and body as one text, for channels without a subject.
    public var text: String { subject.isEmpty ? body : "\(subject)\n\(body)" }
}

/// The request bodies of the HTTP channels, in their documented formats. Pure.
public enum ChannelFormats {
    /// WeCom (企业微信) group robot, text message:
    /// `{"msgtype":"text","text":{"content":…}}`; the reply is `{"errcode":0,"errmsg":"ok"}`.
    public static func wecom(_ m: OutgoingMessage) -> Data {
        json(RobotText(text: .init(content: m.text), at: nil))
    }

    /// DingTalk (钉钉) group robot, text message: `{"msgtype":"text","text":{"content":…}}`; the
    /// reply is `{"errcode":0,"errmsg":"ok"}`.
    public static func dingtalk(_ m: OutgoingMessage) -> Data {
        json(RobotText(text: .init(content: m.text), at: .init(isAtAll: false)))
    }

    private struct RobotText: Encodable {
        struct Text: Encodable { var content: String }
        struct At: Encodable { var isAtAll: Bool }
        var msgtype = "text"
        var text: Text
        var at: At?
    }

    /// The generic webhook: everything about the delivery, as JSON.
    public static func webhook(_ m: OutgoingMessage) -> Data {
        json(Webhook(delivery: m.dedupeKey, eventID: m.eventID.uuidString.lowercased(), eventType: m.eventType,
                     ticketID: m.ticketID?.uuidString.lowercased(), recipient: m.recipient, subject: m.subject, body: m.body,
                     urgent: m.urgent))
    }

    private struct Webhook: Encodable {
        var delivery: String
        var eventID: String
        var eventType: String
        var ticketID: String?
        var recipient: String
        var subject: String
        var body: String
        var urgent: Bool

        enum CodingKeys: String, CodingKey {
            case delivery, recipient, subject, body, urgent
            case eventID = "event_id"
            case eventType = "event_type"
            case ticketID = "ticket_id"
        }
    }

    /// The value at a dotted path (`Response.SendStatusSet.0.SerialNo`) in a JSON reply, as text.
    public static func value(at path: [String], in reply: Data) -> String? {
        var node: Any? = try? JSONSerialization.jsonObject(with: reply)
        for step in path {
            if let index = Int(step), let array = node as? [Any] {
                node = array.indices.contains(index) ? array[index] : nil
            } else {
                node = (node as? [String: Any])?[step]
            }
        }
        switch node {
        case let text as String: return text.isEmpty ? nil : text
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }

    /// The robots' reply: errcode 0 is success; anything else is the robot's refusal.
    public static func robotError(_ reply: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: reply) as? [String: Any] else { return "unreadable reply" }
        let code = (object["errcode"] as? Int) ?? -1
        return code == 0 ? nil : "errcode \(code): \(object["errmsg"] as? String ?? "")"
    }

    /// The SMS gateway's request body from the configured template: `{{phone}}` and `{{text}}`
    /// are replaced, JSON-escaped when the template is JSON (starts with `{`), URL-encoded
    /// otherwise (a form body).
    public static func sms(template: String, phone: String, text: String) -> String {
        let isJSON = template.trimmingCharacters(in: .whitespaces).hasPrefix("{")
        func escape(_ value: String) -> String {
            if isJSON {
                let quoted = String(decoding: json([value]), as: UTF8.self)   // ["…"]
                return String(quoted.dropFirst(2).dropLast(2))
            }
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
        return template.replacingOccurrences(of: "{{phone}}", with: escape(phone))
            .replacingOccurrences(of: "{{text}}", with: escape(text))
    }

    /// An RFC 5322 message: UTF-8 subject encoded (RFC 2047), base64 body, the dedupe key as its
    /// Message-ID.
    public static func email(_ m: OutgoingMessage, from: String, date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let subject = "=?UTF-8?B?\(Data(m.subject.utf8).base64EncodedString())?="
        let id = m.dedupeKey.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? String($0) : "." }.joined()
        let body = Data(m.body.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return [
            "From: \(from)", "To: \(m.address)", "Subject: \(subject)", "Date: \(formatter.string(from: date))",
            "Message-ID: <\(id)@propdesk>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64", "", body,
        ].joined(separator: "\r\n")
    }

    /// One encoder for every message (a send path at hundreds a second).
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func json(_ value: some Encodable) -> Data {
        (try? encoder.encode(value)) ?? Data()
    }
}
