import AMQP
import Domain
import Foundation
import Messaging

/// The names of every event intake and dispatch publish. The AsyncAPI document
/// (`docs/asyncapi.yaml`) describes the same set; a test holds the two together.
///
/// - `ticket.<kind>.<event>`: `created`, then one per ``TicketAction`` (`acknowledged`,
///   `on_site`, `noted`, `resolved`, `closed`, `reopened`, `cancelled`), and a follow-up call's
///   outcome (`followed_up`, `follow_up_missed`), and a customer-agreed extension (`extended`).
/// - `workorder.<queue>.<event>`: `assigned`, then one per ``WorkOrderAction``; `<queue>` is a
///   department or `triage`.
///
/// On the wire the routing key adds the property: `ticket.complaint.created.sunrise-garden`.
public enum DeskEvents {
    public static let ticketEvents = ["created"] + TicketAction.allCases.map(\.eventName) + [followedUp, followUpMissed, extended]
    /// A follow-up call reached the resident (the note says satisfied or not), or did not.
    public static let followedUp = "followed_up"
    public static let followUpMissed = "follow_up_missed"
    /// The customer agreed to a later time: the ticket's resolution clocks move to it.
    public static let extended = "extended"
    public static let workOrderEvents = ["assigned"] + WorkOrderAction.allCases.map(\.eventName)

    public static func ticket(_ kind: TicketKind, _ event: String) -> String { "ticket.\(kind.rawValue).\(event)" }
    public static func workOrder(_ queue: WorkQueue, _ event: String) -> String { "workorder.\(queue.name).\(event)" }

    /// Every event type this module can publish.
    public static var allTypes: [String] {
        TicketKind.allCases.flatMap { kind in ticketEvents.map { ticket(kind, $0) } }
            + WorkQueue.all.flatMap { queue in workOrderEvents.map { workOrder(queue, $0) } }
    }

    /// The bindings of a department's work queue: new work, and work a worker gave back.
    public static func workQueueBindings(_ queue: WorkQueue, property: String) -> [String] {
        ["assigned", WorkOrderAction.release.eventName].map { workOrder(queue, $0) + "." + property }
    }

    /// `propdesk.work.<property>.<queue>`: where one property's department takes its work orders.
    public static func workQueueName(_ queue: WorkQueue, property: String) -> String {
        "propdesk.work.\(property).\(queue.name)"
    }
}

extension DeskEvents {
    /// Every work queue of one property (each department and triage), bound to its work-order
    /// events, dead-lettering like the service queues.
    public static func workQueues(property: String, _ arguments: QueueArguments) -> AMQPTopology {
        WorkQueue.all.reduce(into: AMQPTopology()) { topology, queue in
            let t = PropDeskTopology.serviceQueue(workQueueName(queue, property: property),
                                                 bindings: workQueueBindings(queue, property: property), arguments)
            topology.queues += t.queues
            topology.bindings += t.bindings
        }
    }
}
