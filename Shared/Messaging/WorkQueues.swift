import AMQP
import Contracts
import Domain

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
