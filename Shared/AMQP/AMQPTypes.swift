import Foundation

/// A value in an AMQP field table (message headers, queue arguments).
public indirect enum AMQPFieldValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case timestamp(UInt64)
    case bytes([UInt8])
    case table([String: AMQPFieldValue])
    case array([AMQPFieldValue])
    case void

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var intValue: Int64? { if case .int(let i) = self { i } else { nil } }
    public var tableValue: [String: AMQPFieldValue]? { if case .table(let t) = self { t } else { nil } }
    public var arrayValue: [AMQPFieldValue]? { if case .array(let a) = self { a } else { nil } }

    public var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .int(let i): "\(i)"
        case .bool(let b): "\(b)"
        case .double(let d): "\(d)"
        case .timestamp(let t): "@\(t)"
        case .bytes(let b): "<\(b.count) bytes>"
        case .table(let t): "{" + t.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .void: "void"
        }
    }
}

/// A message to publish. Always persistent (delivery mode 2).
public struct AMQPMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var body: Data
    public var messageID: String?
    public var correlationID: String?
    public var type: String?
    public var contentType: String
    public var headers: [String: AMQPFieldValue]
    public var timestamp: UInt64?
    /// Unroutable messages come back as `basic.return` and the publish fails with `.returned`.
    public var mandatory: Bool

    public init(
        exchange: String, routingKey: String, body: Data, messageID: String? = nil, correlationID: String? = nil,
        type: String? = nil, contentType: String = "application/json", headers: [String: AMQPFieldValue] = [:],
        timestamp: UInt64? = nil, mandatory: Bool = true
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.messageID = messageID
        self.correlationID = correlationID
        self.type = type
        self.contentType = contentType
        self.headers = headers
        self.timestamp = timestamp
        self.mandatory = mandatory
    }
}

/// Properties of a received message.
public struct AMQPProperties: Sendable {
    public var messageID: String?
    public var correlationID: String?
    public var type: String?
    public var contentType: String?
    public var headers: [String: AMQPFieldValue]
    public var timestamp: UInt64?
    public var persistent: Bool
    public init(messageID: String? = nil, correlationID: String? = nil, type: String? = nil, contentType: String? = nil,
                headers: [String: AMQPFieldValue] = [:], timestamp: UInt64? = nil, persistent: Bool = false) {
        self.messageID = messageID
        self.correlationID = correlationID
        self.type = type
        self.contentType = contentType
        self.headers = headers
        self.timestamp = timestamp
        self.persistent = persistent
    }
}

public enum AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first connection could not be made: `detail` says why, the URL is redacted.
    case connectFailed(url: String, detail: String)
    /// Not connected right now (recovering); nothing was sent.
    case notConnected
    /// Sent, but the connection or channel went away before the broker confirmed it. It may or
    /// may not have been stored: publish again and let the consumer's inbox absorb a duplicate.
    case notConfirmed(reason: String)
    /// The broker refused responsibility (`basic.nack`).
    case rejected
    /// A mandatory message no queue would take (`basic.return`).
    case returned(code: UInt16, text: String)
    /// A broker reply to a declare or consume: the reply code and text.
    case channelError(code: UInt16, text: String)
    case closed
    case protocolError(String)

    public var description: String {
        switch self {
        case .connectFailed(let url, let detail): "cannot connect to RabbitMQ at \(url): \(detail)"
        case .notConnected: "not connected to RabbitMQ (recovering)"
        case .notConfirmed(let reason): "publish not confirmed: \(reason)"
        case .rejected: "publish rejected by the broker (basic.nack)"
        case .returned(let code, let text): "message returned as unroutable: \(code) \(text)"
        case .channelError(let code, let text): "broker closed the channel: \(code) \(text)"
        case .closed: "connection closed"
        case .protocolError(let s): "AMQP error: \(s)"
        }
    }
}

/// Exchanges, queues and bindings a service needs. Declared on connect and again after every
/// recovery. Every exchange is durable, and every queue but a transient one (``Queue/transient(name:)``).
public struct AMQPTopology: Sendable, Equatable {
    /// This topology less a queue and the bindings to it.
    func without(queue: String) -> AMQPTopology {
        var t = self
        t.queues.removeAll { $0.name == queue }
        t.bindings.removeAll { $0.queue == queue }
        return t
    }

    public struct Exchange: Sendable, Equatable {
        public var name: String
        public var type: String
        public var arguments: [String: AMQPFieldValue]
        public init(name: String, type: String = "topic", arguments: [String: AMQPFieldValue] = [:]) {
            self.name = name
            self.type = type
            self.arguments = arguments
        }
    }

    public enum QueueType: String, Sendable, Equatable { case quorum, classic }

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var type: QueueType
        public var deadLetterExchange: String?
        public var deadLetterRoutingKey: String?
        /// Quorum queues only: after this many deliveries the message is dead-lettered.
        public var deliveryLimit: Int?
        public var extraArguments: [String: AMQPFieldValue]
        /// False only for a transient queue of one connection (``transient(name:)``).
        public var durable = true
        /// Used by this connection only, and deleted when it closes.
        public var exclusive = false
        public init(name: String, type: QueueType = .quorum, deadLetterExchange: String? = nil,
                    deadLetterRoutingKey: String? = nil, deliveryLimit: Int? = nil,
                    extraArguments: [String: AMQPFieldValue] = [:]) {
            self.name = name
            self.type = type
            self.deadLetterExchange = deadLetterExchange
            self.deadLetterRoutingKey = deadLetterRoutingKey
            self.deliveryLimit = deliveryLimit
            self.extraArguments = extraArguments
        }

        /// A classic, non-durable, exclusive queue: this connection's own copy of what it is bound
        /// to, gone when the connection closes and declared anew (empty) after a recovery. For
        /// broadcasts that only matter while the process runs (a console's live updates).
        public static func transient(name: String) -> Queue {
            var queue = Queue(name: name, type: .classic)
            queue.durable = false
            queue.exclusive = true
            return queue
        }

        public var arguments: [String: AMQPFieldValue] {
            var args = extraArguments
            args["x-queue-type"] = .string(type.rawValue)
            if let deadLetterExchange { args["x-dead-letter-exchange"] = .string(deadLetterExchange) }
            if let deadLetterRoutingKey { args["x-dead-letter-routing-key"] = .string(deadLetterRoutingKey) }
            if let deliveryLimit, type == .quorum { args["x-delivery-limit"] = .int(Int64(deliveryLimit)) }
            return args
        }
    }

    public struct Binding: Sendable, Equatable {
        public var queue: String
        public var exchange: String
        public var routingKey: String
        public init(queue: String, exchange: String, routingKey: String) {
            self.queue = queue
            self.exchange = exchange
            self.routingKey = routingKey
        }
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]

    public init(exchanges: [Exchange] = [], queues: [Queue] = [], bindings: [Binding] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }

    public static func + (a: AMQPTopology, b: AMQPTopology) -> AMQPTopology {
        AMQPTopology(exchanges: a.exchanges + b.exchanges, queues: a.queues + b.queues, bindings: a.bindings + b.bindings)
    }
}
