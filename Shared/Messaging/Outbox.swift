import Foundation
import Postgres

/// The transactional outbox: an event is a row written in the same transaction as the state
/// change it describes. If the transaction rolls back there is no event; if it commits, the
/// ``OutboxRelay`` publishes it with publisher confirms.
public enum Outbox {
    /// The channel that wakes relays: NOTIFY from writers in other processes, and
    /// ``PostgresClient/commitSignals(_:)`` in this one.
    public static let channel = "propdesk_outbox"

    /// Writes `envelope` to the outbox on `connection`, inside the caller's transaction. The
    /// routing key is ``routingKey(for:)`` unless given. The insert goes to the server with the
    /// transaction's next statement or its commit (``PostgresConnection/executeLater(_:_:)``), and
    /// the commit wakes this process's relay.
    public static func enqueue(
        _ envelope: EventEnvelope, on connection: PostgresConnection,
        exchange: String = PropDeskTopology.eventsExchange, routingKey: String? = nil
    ) throws {
        try envelope.validate()
        try connection.executeLater(
            "INSERT INTO outbox (message_id, exchange, routing_key, envelope) VALUES ($1, $2, $3, $4::jsonb)",
            [envelope.id, exchange, routingKey ?? Self.routingKey(for: envelope),
             PostgresJSON(text: String(decoding: envelope.encoded(), as: UTF8.self))])
        connection.signalAfterCommit(channel)
    }

    /// `<type>.<property>`, e.g. `ticket.complaint.created.sunrise-garden`: consumers bind by what
    /// happened (`ticket.complaint.*.#`) and, where they serve one property, by where
    /// (`workorder.engineering.assigned.sunrise-garden`).
    public static func routingKey(for envelope: EventEnvelope) -> String {
        envelope.type + "." + envelope.property
    }
}

/// The inbox: a consumer handles a message id at most once. Call ``claim(_:consumer:on:)`` first in
/// the transaction that applies the messages' effects; a message whose id it does not return was
/// already handled, and its effects must be skipped. Commit, then ack.
public enum Inbox {
    /// Records the messages; returns the ids not handled before (each once).
    public static func claim(_ messageIDs: [UUID], consumer: String, on connection: PostgresConnection) throws -> [UUID] {
        try connection.query("""
            INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING message_id
            """, [consumer, PostgresArray(messageIDs)]).map { try $0.decode(0) }
    }
}
