import Foundation

/// The broker layout every PropDesk service shares.
///
/// - `propdesk.events` (topic): every domain event, routing key = event type. Unroutable events go
///   to its alternate exchange `propdesk.unrouted` (fanout) and wait in queue `propdesk.unrouted`,
///   so an event no queue was bound for is kept, not dropped.
/// - `propdesk.dlx` (topic) → queue `propdesk.dead-letter` (binding `#`): poison messages, both
///   those a consumer rejects with a reason header and those over a queue's delivery limit.
/// - one queue per service, `propdesk.<service>`, durable (quorum by default), dead-lettering to
///   `propdesk.dlx`, with a delivery limit.
public enum PropDeskTopology {
    public static let eventsExchange = "propdesk.events"
    public static let unroutedExchange = "propdesk.unrouted"
    public static let unroutedQueue = "propdesk.unrouted"
    public static let deadLetterExchange = "propdesk.dlx"
    public static let deadLetterQueue = "propdesk.dead-letter"

    /// Header a consumer sets when it dead-letters a message itself: why it was refused.
    public static let rejectionReasonHeader = "x-propdesk-rejection-reason"
    public static let rejectedByHeader = "x-propdesk-rejected-by"
    public static let originalExchangeHeader = "x-propdesk-original-exchange"
    public static let originalRoutingKeyHeader = "x-propdesk-original-routing-key"

    public static func queueName(service: String) -> String { "propdesk.\(service)" }
}
