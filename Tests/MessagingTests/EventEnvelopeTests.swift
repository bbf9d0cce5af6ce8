import AMQP
import Foundation
import Testing
@testable import Messaging

@Suite("Event envelope")
struct EventEnvelopeTests {
    let sample = EventEnvelope(
        id: UUID(uuidString: "6f1c1c52-9d9c-4f0e-9a43-3f7f3f0c2a11")!, type: "ticket.complaint.created",
        occurredAt: Date(timeIntervalSince1970: 1_790_818_200.123), property: "sunrise-garden",
        ticketID: UUID(uuidString: "00000000-0000-4000-8000-000000000001")!,
        payload: .object(["severity": .string("major"), "floor": .number(12)]))

    @Test func anEnvelopeSurvivesEncodingAndDecoding() throws {
        let back = try EventEnvelope.decode(sample.encoded())
        #expect(back.id == sample.id)
        #expect(back.type == sample.type)
        #expect(abs(back.occurredAt.timeIntervalSince(sample.occurredAt)) < 0.001)
        #expect(back.ticketID == sample.ticketID)
        #expect(back.correlationID == sample.id)
        #expect(back.payload == sample.payload)
    }

    @Test func aPayloadKeepsEveryValuesTypeThroughTheWire() throws {
        let payload: JSONValue = .object([
            "flag": .bool(true), "off": .bool(false), "count": .number(1), "ratio": .number(0.5), "digits": .string("1"),
            "yes": .string("true"), "nothing": .null, "list": .array([.number(1), .string("a"), .object(["b": .bool(false)]), .array([])]),
            "empty": .object([:]),
        ])
        let wire = EventEnvelope(type: "ticket.repair.created", property: "sunrise-garden", payload: payload).encoded()
        #expect(try EventEnvelope.decode(wire).payload == payload)
        let values = try #require(payload.foundationValue as? [String: Any])
        #expect(values["count"] as? Int == 1 && values["ratio"] as? Double == 0.5 && values["flag"] as? Bool == true)
    }

    @Test func theWireFormUsesSnakeCaseFieldNames() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: sample.encoded()) as? [String: Any])
        #expect(Set(json.keys) == ["id", "type", "occurred_at", "property", "ticket_id", "correlation_id", "schema_version", "payload"])
    }

    @Test func aCausedEventKeepsTheCorrelationAndNamesItsCause() {
        let next = sample.caused(type: "workorder.engineering.assigned", payload: .object([:]))
        #expect(next.correlationID == sample.correlationID)
        #expect(next.causationID == sample.id)
        #expect(next.ticketID == sample.ticketID)
        #expect(next.id != sample.id)
    }

    @Test func somethingThatIsNotJSONIsMalformed() {
        #expect { try EventEnvelope.decode(Data("not json".utf8)) } throws: { error in
            guard case EnvelopeError.malformed = error else { return false }
            return true
        }
    }

    @Test func aMissingFieldIsNamed() {
        let body = Data(#"{"id":"6f1c1c52-9d9c-4f0e-9a43-3f7f3f0c2a11","type":"a.b","property":"p","correlation_id":"6f1c1c52-9d9c-4f0e-9a43-3f7f3f0c2a11","schema_version":1,"payload":{}}"#.utf8)
        #expect(throws: EnvelopeError.malformed(#"missing field "occurred_at""#)) { try EventEnvelope.decode(body) }
    }

    @Test(arguments: [
        ("type", "Ticket Created"),
        ("type", "ticket"),
        ("type", "ticket..created"),
        ("schema_version", "0"),
        ("property", ""),
        ("payload", "[]"),
    ])
    func anUnacceptableFieldIsRefusedByName(field: String, value: String) throws {
        var json = try #require(try JSONSerialization.jsonObject(with: sample.encoded()) as? [String: Any])
        switch field {
        case "schema_version": json[field] = Int(value)
        case "payload": json[field] = [Any]()
        default: json[field] = value
        }
        let body = try JSONSerialization.data(withJSONObject: json)
        #expect { try EventEnvelope.decode(body) } throws: { error in
            guard case EnvelopeError.invalid(let f, _) = error else { return false }
            return f == field
        }
    }

    @Test func anOversizedBodyIsRefusedBeforeParsing() {
        let body = Data(repeating: UInt8(ascii: " "), count: EventEnvelope.maximumSize + 1)
        #expect { try EventEnvelope.decode(body) } throws: { error in
            guard case EnvelopeError.invalid("body", _) = error else { return false }
            return true
        }
    }

    @Test func aPayloadDecodesIntoItsEventType() throws {
        struct Complaint: Codable, Equatable { let severity: String; let floor: Int }
        #expect(try sample.decodePayload(Complaint.self) == Complaint(severity: "major", floor: 12))
        #expect(throws: EnvelopeError.self) { try sample.decodePayload([String].self) }
    }
}

@Suite("Broker topology")
struct TopologyTests {
    @Test func aServiceQueueIsAQuorumQueueThatDeadLettersPastItsDeliveryLimit() throws {
        let t = PropDeskTopology.serviceQueue("propdesk.dispatch", bindings: ["ticket.#", "system.#"], .standard)
        let q = try #require(t.queues.first)
        #expect(q.arguments["x-queue-type"] == .string("quorum"))
        #expect(q.arguments["x-dead-letter-exchange"] == .string(PropDeskTopology.deadLetterExchange))
        #expect(q.arguments["x-delivery-limit"] == .int(5))
        #expect(t.bindings.map(\.routingKey) == ["ticket.#", "system.#"])
        #expect(t.bindings.allSatisfy { $0.exchange == PropDeskTopology.eventsExchange })
    }

    @Test func eventsNoQueueWantsAreKeptInTheUnroutedQueue() throws {
        let shared = PropDeskTopology.shared(.standard)
        let events = try #require(shared.exchanges.first { $0.name == PropDeskTopology.eventsExchange })
        #expect(events.arguments["alternate-exchange"] == .string(PropDeskTopology.unroutedExchange))
        #expect(shared.bindings.contains { $0.queue == PropDeskTopology.unroutedQueue && $0.exchange == PropDeskTopology.unroutedExchange })
        #expect(shared.bindings.contains { $0.queue == PropDeskTopology.deadLetterQueue && $0.routingKey == "#" })
    }

    @Test func rosterGapsAreKeptInABoundedQueueOfTheirOwn() throws {
        let shared = PropDeskTopology.shared(.standard)
        let gaps = try #require(shared.queues.first { $0.name == PropDeskTopology.rosterGapQueue })
        #expect(gaps.arguments["x-max-length"] == .int(10_000))
        #expect(gaps.arguments["x-overflow"] == .string("drop-head"))
        #expect(shared.bindings.contains { $0.queue == PropDeskTopology.rosterGapQueue && $0.exchange == PropDeskTopology.eventsExchange
            && $0.routingKey == "notification.roster.gap.#" })
    }

    @Test func classicQueuesCarryNoDeliveryLimit() throws {
        let q = try #require(PropDeskTopology.serviceQueue("q", bindings: [], QueueArguments(type: .classic, deliveryLimit: 5)).queues.first)
        #expect(q.arguments["x-delivery-limit"] == nil)
        #expect(q.arguments["x-queue-type"] == .string("classic"))
    }
}
