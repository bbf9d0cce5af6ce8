import Foundation

/// The broker layout every PropDesk service shares.
///
/// - `propdesk.events` (topic): every domain event, routing key = event type. Unroutable events go
///   to its alternate exchange `propdesk.unrouted` (fanout) and wait in queue `propdesk.unrouted`,
///   so an event no queue was bound for is kept, not dropped.
/// - queue `propdesk.roster-gaps` (binding `notification.roster.gap.#`): the latest
///   ``rosterGapQueueLength`` roster gaps, for an operator to look at; older ones are dropped from
///   the head. Nothing consumes the event, and without this queue every gap (one per work order of
///   a property with an empty roster) would pile up in `propdesk.unrouted` for ever. The totals
///   are in the counter `propdesk_roster_gaps_total` and notification's log.
/// - `propdesk.dlx` (topic) → queue `propdesk.dead-letter` (binding `#`): poison messages, both
///   those a consumer rejects with a reason header and those over a queue's delivery limit.
/// - one queue per service, `propdesk.<service>`, durable (quorum by default), dead-lettering to
///   `propdesk.dlx`, with a delivery limit.
public enum PropDeskTopology {
    public static let eventsExchange = "propdesk.events"
    public static let unroutedExchange = "propdesk.unrouted"
    public static let unroutedQueue = "propdesk.unrouted"
    public static let rosterGapQueue = "propdesk.roster-gaps"
    public static let rosterGapQueueLength = 10_000
    public static let deadLetterExchange = "propdesk.dlx"
    public static let deadLetterQueue = "propdesk.dead-letter"

    /// Header a consumer sets when it dead-letters a message itself: why it was refused.
    public static let rejectionReasonHeader = "x-propdesk-rejection-reason"
    public static let rejectedByHeader = "x-propdesk-rejected-by"
    public static let originalExchangeHeader = "x-propdesk-original-exchange"
    public static let originalRoutingKeyHeader = "x-propdesk-original-routing-key"

    public static func queueName(service: String) -> String { "propdesk.\(service)" }
}
