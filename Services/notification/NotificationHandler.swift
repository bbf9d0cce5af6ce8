import Domain
import Foundation
import Logging
import Messaging
import Metrics
import Notify
import Postgres
import Synchronization

/// Turns events into deliveries, in the event's own transaction (inbox): who hears, on which
/// channel, what. The roster decides who is on duty now; the residents register whether and how
/// a caller hears from us. Each delivery's dedupe key (event id / recipient / channel) makes a
/// redelivered event write nothing new. ``DeliveryEngine`` sends them.
struct NotificationHandler: EventHandler {
    let templates: MessageTemplates
    let quietHours: QuietHours
    let gapLog = GapWarnings()

    func handle(_ event: ReceivedEvent, on c: PostgresConnection) throws {
        let envelope = event.envelope
        guard let payload = envelope.payload.foundationValue as? [String: Any] else {
            throw PoisonMessage("\(envelope.type): the payload is not an object")
        }
        let facts: Facts
        do {
            facts = try envelope.decodePayload(Facts.self)
        } catch {
            throw PoisonMessage("\(envelope.type): the payload lacks what notification needs: \(error)")
        }
        let missing = facts.missing(for: envelope.type)
        guard missing.isEmpty else {
            throw PoisonMessage("\(envelope.type): the payload lacks what notification needs: \(missing.joined(separator: ", "))")
        }
        let intents = NotificationPlan.intents(for: envelope.type, facts: facts.eventFacts)
        guard !intents.isEmpty else { return }
        // Read once per transaction: a consumer's batch of events shares them.
        let zone = try c.memo("zone:\(envelope.property)") {
            try c.query("SELECT time_zone FROM properties WHERE code = $1", [envelope.property]).first
                .flatMap { TimeZone(identifier: try $0.decode(0, as: String.self)) } ?? TimeZone(identifier: "Asia/Shanghai")!
        }
        let ticketID = envelope.ticketID ?? facts.ticketID.flatMap(UUID.init(uuidString:))
        let now = Date()
        var deliveries: [Delivery] = []
        for intent in intents {
            // The same message for everyone who reads this language.
            var rendered: [Language: MessageTemplates.Message] = [:]
            func delivery(to recipient: String, _ contacts: [Contact], _ language: Language, audience: Audience.Kind, notBefore: Date) -> Delivery {
                let context = MessageContext.make(payload: payload, language: language, zone: zone)
                let message = rendered[language] ?? templates.render(intent.template, language, context)
                rendered[language] = message
                // A message that may go to a templated channel (WeChat) takes its facts with it.
                let facts = audience == .resident && contacts.contains(where: { $0.channel == .wechat })
                    ? WeChatTemplates.facts(template: intent.template, context: context, message: message, language: language, at: now, zone: zone)
                    : [:]
                return Delivery(eventID: envelope.id, eventType: envelope.type, property: envelope.property, ticketID: ticketID,
                                audience: audience, recipient: recipient, template: intent.template, contact: contacts[0],
                                fallbacks: Array(contacts.dropFirst()), subject: message.subject, body: message.body,
                                urgent: intent.urgent, notBefore: notBefore, facts: facts)
            }
            switch intent.audience {
            case .staff(let recipients):
                let entries = try c.memo("roster:\(envelope.property)") { try Self.roster(envelope.property, on: c) }
                for recipient in recipients {
                    let resolution = DutyRoster.resolve(recipient, in: entries, at: now, zone: zone)
                    if !resolution.gaps.isEmpty { try reportGaps(resolution, for: recipient, envelope: envelope, event: event, on: c) }
                    for person in resolution.people {
                        deliveries.append(delivery(to: person.person, person.contacts, person.language, audience: .staff, notBefore: now))
                    }
                }
            case .resident:
                // A ticket's caller; or, for a fee reminder, the unit's resident the event names.
                let found: Resident? = if let ticketID { try Self.caller(of: ticketID, on: c) }
                    else if let id = facts.residentID.flatMap(UUID.init(uuidString:)) { try Self.resident(id, on: c) } else { nil }
                guard let resident = found else {
                    event.logger.debug("no registered resident with consent for this ticket", metadata: ["template": "\(intent.template.rawValue)"])
                    continue
                }
                let notBefore = intent.urgent ? now : quietHours.earliestSend(at: now, in: zone)
                deliveries.append(delivery(to: "resident:\(resident.id.uuidString.lowercased())", resident.contacts, resident.language,
                                           audience: .resident, notBefore: notBefore))
            }
        }
        for d in deliveries {
            try c.executeLater("""
                INSERT INTO deliveries (dedupe_key, event_id, event_type, property, ticket_id, audience, recipient, template, channel,
                                        address, fallbacks, subject, body, urgent, not_before, facts)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15, $16::jsonb)
                ON CONFLICT (dedupe_key) DO NOTHING
                """, [d.dedupeKey, d.eventID, d.eventType, d.property, d.ticketID, d.audience.rawValue, d.recipient, d.template.rawValue,
                      d.contact.channel.rawValue, d.contact.address, try PostgresJSON(encoding: d.fallbacks, encoder: JSONEncoder()),
                      d.subject, d.body, d.urgent, d.notBefore, try PostgresJSON(encoding: d.facts, encoder: JSONEncoder())])
        }
        if !deliveries.isEmpty { c.signalAfterCommit(DeliveryEngine.channel) }
    }

    /// What the plan reads from a payload; every field is optional (events differ).
    struct Facts: Decodable {
        var kind: String?
        var tell: [Recipient]?
        var step: Int?
        var ruleID: String?
        var ticketID: String?
        var recipients: [Recipient]?
        var subject: String?
        var stage: String?
        var channel: String?
        var residentID: String?

        enum CodingKeys: String, CodingKey {
            case kind, tell, step, recipients, subject, stage, channel
            case ruleID = "rule_id"
            case ticketID = "ticket_id"
            case residentID = "resident_id"
        }

        var eventFacts: EventFacts {
            EventFacts(kind: kind.flatMap(TicketKind.init(rawValue:)), tell: tell ?? [], step: step, ruleID: ruleID,
                       recipients: recipients ?? [], subject: subject, stage: stage, channel: channel)
        }

        /// What an event of `type` must carry for its messages to reach anyone: a ticket's and a
        /// work order's events name the ticket and its kind; a deadline's also its rule, step and
        /// whom to tell. Without them the event is dead-lettered with this list, never acked
        /// silently.
        func missing(for type: String) -> [String] {
            let family = type.split(separator: ".").first.map(String.init) ?? ""
            guard ["ticket", "workorder", "escalation", "followup", "report"].contains(family) else { return [] }
            // A scheduled report is for the managers it names.
            if family == "report" { return tell == nil ? ["tell"] : [] }
            var missing: [String] = []
            // A money clock's firing is about its subject (a bill, an approval step), not a ticket.
            if family != "escalation" || subject == nil {
                if ticketID.flatMap(UUID.init(uuidString:)) == nil { missing.append("ticket_id") }
                if kind.flatMap(TicketKind.init(rawValue:)) == nil { missing.append("kind") }
            }
            if family == "escalation" || family == "followup" {
                if tell == nil { missing.append("tell") }
                if step == nil { missing.append("step") }
                if ruleID == nil { missing.append("rule_id") }
            }
            return missing
        }
    }

    private func reportGaps(_ resolution: DutyRoster.Resolution, for recipient: Recipient, envelope: EventEnvelope,
                            event: ReceivedEvent, on c: PostgresConnection) throws {
        let gaps = resolution.gaps.map { [$0.role.rawValue, $0.department?.rawValue].compactMap { $0 }.joined(separator: "/") }
        for role in gaps {
            Counter(label: "propdesk_roster_gaps_total", dimensions: [("property", envelope.property), ("role", role)]).increment()
            let (log, suppressed) = gapLog.note(property: envelope.property, role: role)
            guard log else { continue }
            event.logger.warning("nobody on duty", metadata: [
                "role": "\(role)", "reached_as": "\(resolution.reachedAs?.rawValue ?? "nobody")",
                "unlogged_since_last": "\(suppressed)", "next_line_after_seconds": "\(Int(gapLog.interval))",
            ])
        }
        let payload = RosterGapPayload(eventType: envelope.type, asked: gaps.first ?? "", emptyRoles: gaps,
                                       reachedAs: resolution.reachedAs?.rawValue)
        try Outbox.enqueue(envelope.caused(type: NotificationEvents.rosterGap, payload: try JSONValue(encoding: payload)), on: c)
    }

    static func roster(_ property: String, on c: PostgresConnection) throws -> [RosterEntry] {
        try c.query("""
            SELECT role, department, person, language, contacts::text, array_to_string(weekdays, ','), to_char(starts, 'HH24:MI'), to_char(ends, 'HH24:MI')
            FROM duty_roster WHERE property = $1 AND active ORDER BY id
            """, [property]).compactMap { row -> RosterEntry? in
            guard let role = StaffRole(rawValue: try row.decode(0)) else { return nil }
            let contacts = try JSONDecoder().decode([Contact].self, from: Data(try row.decode(4, as: String.self).utf8))
            guard !contacts.isEmpty else { return nil }
            return RosterEntry(role: role, department: try row.decode(1, as: String?.self).flatMap(Department.init(rawValue:)),
                               person: try row.decode(2), language: Language(rawValue: try row.decode(3)) ?? .zhCN, contacts: contacts,
                               weekdays: try row.decode(5, as: String?.self).map { Set($0.split(separator: ",").compactMap { Int($0) }) },
                               starts: TimeOfDay(try row.decode(6, as: String.self)) ?? TimeOfDay(seconds: 0),
                               ends: TimeOfDay(try row.decode(7, as: String.self)) ?? TimeOfDay(seconds: 0))
        }
    }

    struct Resident {
        var id: UUID
        var contacts: [Contact]
        var language: Language
    }

    /// The ticket's caller in the residents register, if they agreed to be contacted.
    static func caller(of ticket: UUID, on c: PostgresConnection) throws -> Resident? {
        try resident(from: try c.query("""
            SELECT r.id, r.phone, r.email, r.preferred_channel, r.language, r.wechat_openid
            FROM tickets t JOIN residents r ON r.property = t.property
             AND regexp_replace(r.phone, '[^0-9]', '', 'g') = regexp_replace(t.caller_phone, '[^0-9]', '', 'g')
            WHERE t.id = $1 AND r.contact_consent ORDER BY r.id LIMIT 1
            """, [ticket]).first)
    }

    /// A resident by their register id (a fee reminder names the unit's resident), if they agreed
    /// to be contacted.
    static func resident(_ id: UUID, on c: PostgresConnection) throws -> Resident? {
        try resident(from: try c.query("""
            SELECT id, phone, email, preferred_channel, language, wechat_openid FROM residents WHERE id = $1 AND contact_consent
            """, [id]).first)
    }

    /// Their preferred channel first, then SMS, e-mail and WeChat: WeChat only with an OpenID for
    /// the property's account, e-mail only with an address.
    private static func resident(from row: PostgresRow?) throws -> Resident? {
        guard let row else { return nil }
        let sms = Contact(.sms, try row.decode(1))
        let email = try row.decode(2, as: String?.self).map { Contact(.email, $0) }
        let wechat = try row.decode(5, as: String?.self).map { Contact(.wechat, $0) }
        let all = [sms, email, wechat].compactMap { $0 }
        let preferred = ChannelKind(rawValue: try row.decode(3, as: String.self))
        let contacts = all.filter { $0.channel == preferred } + all.filter { $0.channel != preferred }
        return Resident(id: try row.decode(0), contacts: contacts, language: Language(rawValue: try row.decode(4)) ?? .zhCN)
    }
}

/// This process's ``GapLog`` (each replica logs its own once per interval; the counter
/// `propdesk_roster_gaps_total` counts every gap).
final class GapWarnings: Sendable {
    private let log = Mutex(GapLog())
    var interval: TimeInterval { log.withLock { $0.interval } }

    func note(property: String, role: String) -> (log: Bool, suppressed: Int) {
        log.withLock { $0.note(property: property, role: role, at: Date()) }
    }
}

/// One delivery to write.
struct Delivery {
    var eventID: UUID
    var eventType: String
    var property: String
    var ticketID: UUID?
    var audience: Audience.Kind
    var recipient: String
    var template: TemplateName
    var contact: Contact
    var fallbacks: [Contact]
    var subject: String
    var body: String
    var urgent: Bool
    var notBefore: Date
    var facts: [String: String]

    var dedupeKey: String { DeliveryKey.make(event: eventID, recipient: recipient, channel: contact.channel.rawValue, position: 1) }
}
