import Foundation

/// Every event PropDesk publishes travels in this envelope, as JSON:
///
/// ```json
/// {"id": "…uuid…", "type": "ticket.complaint.created", "occurred_at": "2026-11-22T09:30:00.123Z",
///  "property": "sunrise-garden", "ticket_id": "…uuid…|null", "correlation_id": "…uuid…",
///  "causation_id": "…uuid…|null", "schema_version": 1, "payload": {…}}
/// ```
/// `id` is also the AMQP message id and the inbox key; the routing key is `<type>.<property>`
/// (``Outbox/routingKey(for:)``), so `property` is a code of `a–z`, `0–9` and `-`.
public struct EventEnvelope: Sendable, Equatable, Codable {
    public var id: UUID
    public var type: String
    public var occurredAt: Date
    public var property: String
    public var ticketID: UUID?
    public var correlationID: UUID
    public var causationID: UUID?
    public var schemaVersion: Int
    public var payload: JSONValue

    enum CodingKeys: String, CodingKey {
        case id, type, property, payload
        case occurredAt = "occurred_at"
        case ticketID = "ticket_id"
        case correlationID = "correlation_id"
        case causationID = "causation_id"
        case schemaVersion = "schema_version"
    }

    public init(id: UUID = UUID(), type: String, occurredAt: Date = Date(), property: String, ticketID: UUID? = nil,
                correlationID: UUID? = nil, causationID: UUID? = nil, schemaVersion: Int = 1, payload: JSONValue = .object([:])) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.property = property
        self.ticketID = ticketID
        self.correlationID = correlationID ?? id
        self.causationID = causationID
        self.schemaVersion = schemaVersion
        self.payload = payload
    }

    /// An event caused by this one: same correlation, this event as the cause.
    public func caused(type: String, payload: JSONValue, occurredAt: Date = Date()) -> EventEnvelope {
        EventEnvelope(type: type, occurredAt: occurredAt, property: property, ticketID: ticketID,
                      correlationID: correlationID, causationID: id, payload: payload)
    }

    public init<P: Encodable>(type: String, property: String, ticketID: UUID? = nil, payload: P) throws {
        self.init(type: type, property: property, ticketID: ticketID, payload: try JSONValue(encoding: payload))
    }

    /// The payload as `P`, read the way it was written (times in ISO 8601).
    public func decodePayload<P: Decodable>(_ type: P.Type) throws -> P {
        do {
            return try Self.decoder.decode(P.self, from: Self.encoder.encode(payload))
        } catch {
            throw EnvelopeError.invalid(field: "payload", reason: "not a valid \(P.self): \(error)")
        }
    }

    // MARK: - Wire format

    public func encoded() -> Data {
        // Encoding plain values cannot fail.
        try! Self.encoder.encode(self)
    }

    /// Decodes and validates an envelope; every problem is an ``EnvelopeError`` naming the field.
    public static func decode(_ data: Data) throws(EnvelopeError) -> EventEnvelope {
        guard data.count <= maximumSize else {
            throw .invalid(field: "body", reason: "\(data.count) bytes is over the \(maximumSize)-byte limit")
        }
        let envelope: EventEnvelope
        do {
            envelope = try decoder.decode(EventEnvelope.self, from: data)
        } catch let error as DecodingError {
            throw .malformed(Self.describe(error))
        } catch {
            throw .malformed("\(error)")
        }
        try envelope.validate()
        return envelope
    }

    public static let maximumSize = 256 * 1024

    public func validate() throws(EnvelopeError) {
        guard Self.isValidType(type) else {
            throw .invalid(field: "type", reason: "\"\(type.prefix(80))\" is not a dotted lower-case event name like ticket.complaint.created")
        }
        guard schemaVersion >= 1 else { throw .invalid(field: "schema_version", reason: "must be 1 or more") }
        guard !property.isEmpty, property.utf8.count <= 64,
              property.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }) else {
            throw .invalid(field: "property", reason: "must be 1–64 characters of a–z, 0–9 and -")
        }
        guard case .object = payload else { throw .invalid(field: "payload", reason: "must be a JSON object") }
    }

    /// `segment(.segment)+`, each segment `[a-z0-9_]+`, at most 255 bytes (an AMQP routing key).
    public static func isValidType(_ type: String) -> Bool {
        guard type.utf8.count <= 255 else { return false }
        let segments = type.split(separator: ".", omittingEmptySubsequences: false)
        return segments.count >= 2 && segments.allSatisfy { segment in
            !segment.isEmpty && segment.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(date.formatted(Self.timeFormat))
        }
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            if let date = try? Self.timeFormat.parse(text) { return date }
            if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(text)\" is not an ISO 8601 time")
        }
        return d
    }()

    static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map(\.stringValue).joined(separator: ".")
            return p.isEmpty ? "" : "\(p): "
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context))missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let context): return "\(path(context))\(context.debugDescription)"
        case .valueNotFound(_, let context): return "\(path(context))missing value"
        case .dataCorrupted(let context): return "\(path(context))\(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

extension EventEnvelope {
    /// The envelope as PostgreSQL builds it, for events written server-side in one statement (the
    /// timer engine's firings): SQL expressions in, a `jsonb` expression out, with the keys and
    /// formats ``encoded()`` writes. The escalation tests hold a fired deadline's outbox row to
    /// this type. The schema version is 1, and the cause is absent (a first event).
    public static func sql(id: String, type: String, occurredAt: String, property: String, ticketID: String,
                           correlationID: String, payload: String) -> String {
        """
        jsonb_build_object('id', \(id), 'type', \(type), 'occurred_at', \(sqlTime(occurredAt)), 'property', \(property), \
        'ticket_id', \(ticketID), 'correlation_id', \(correlationID), 'schema_version', 1, 'payload', \(payload))
        """
    }

    /// A `timestamptz` expression as the envelope writes times: ISO 8601 in UTC, milliseconds
    /// truncated (as ``timeFormat`` formats them).
    public static func sqlTime(_ expression: String) -> String {
        "to_char((\(expression)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    }
}

public enum EnvelopeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not JSON, or not shaped like an envelope.
    case malformed(String)
    /// A field that is present but not acceptable.
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed envelope: \(why)"
        case .invalid(let field, let reason): "invalid envelope field \(field): \(reason)"
        }
    }
}

extension JSONValue {
    /// `value` as a payload, encoded in the envelope's wire format (times in ISO 8601 with
    /// fractional seconds), so ``EventEnvelope/decodePayload(_:)`` reads it back.
    public init<T: Encodable>(encoding value: T) throws {
        self = try EventEnvelope.decoder.decode(JSONValue.self, from: EventEnvelope.encoder.encode(value))
    }
}
