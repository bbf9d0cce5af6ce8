import Foundation

/// The events the notification service publishes. The AsyncAPI document describes the same set.
public enum NotificationEvents {
    /// A delivery gave up (every channel of the person failed), or its outcome is unknown.
    public static let deliveryFailed = "notification.delivery.failed"
    /// Nobody was on duty in a role an event needed; the next role up was told.
    public static let rosterGap = "notification.roster.gap"
    public static let allTypes = [deliveryFailed, rosterGap]
}

/// `notification.delivery.failed`: who was not reached, about which event, and why. The address
/// is left out (a resident's is confidential); `recipient` is a person's roster name or
/// `resident:<id>`.
public struct DeliveryFailedPayload: Codable, Sendable, Equatable {
    public var deliveryID: Int64
    public var eventID: UUID
    public var eventType: String
    public var ticketID: UUID?
    public var recipient: String
    public var audience: String
    public var channel: String
    public var template: String
    public var attempts: Int
    public var reason: String

    public init(deliveryID: Int64, eventID: UUID, eventType: String, ticketID: UUID?, recipient: String, audience: String,
                channel: String, template: String, attempts: Int, reason: String) {
        self.deliveryID = deliveryID
        self.eventID = eventID
        self.eventType = eventType
        self.ticketID = ticketID
        self.recipient = recipient
        self.audience = audience
        self.channel = channel
        self.template = template
        self.attempts = attempts
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case recipient, audience, channel, template, attempts, reason
        case deliveryID = "delivery_id"
        case eventID = "event_id"
        case eventType = "event_type"
        case ticketID = "ticket_id"
    }
}

/// `notification.roster.gap`: the role asked for, every role passed on the way up with nobody
/// on duty (`role/department`), and the role finally reached (none: nobody at all).
public struct RosterGapPayload: Codable, Sendable, Equatable {
    public var eventType: String
    public var asked: String
    public var emptyRoles: [String]
    public var reachedAs: String?

    public init(eventType: String, asked: String, emptyRoles: [String], reachedAs: String?) {
        self.eventType = eventType
        self.asked = asked
        self.emptyRoles = emptyRoles
        self.reachedAs = reachedAs
    }

    enum CodingKeys: String, CodingKey {
        case asked
        case eventType = "event_type"
        case emptyRoles = "empty_roles"
        case reachedAs = "reached_as"
    }
}
