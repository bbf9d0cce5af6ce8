import Dispatch
import DequeModule

/// Publisher-confirm bookkeeping for one channel in confirm mode. Pure: no I/O.
///
/// Each publish gets the next delivery tag (starting at 1 on a fresh channel). The broker answers
/// with `basic.ack` or `basic.nack`, either for one tag or, with `multiple`, for every tag up to and
/// including it. A mandatory message the broker cannot route comes back as `basic.return` *before*
/// its ack; returns arrive in publish order, so a return settles the oldest unsettled message
/// with that message id.
public struct ConfirmTracker<Waiter> {
    public enum Outcome: Equatable, Sendable {
        case confirmed
        case rejected
        case returned(code: UInt16, text: String)
    }

    private struct Entry {
        let tag: UInt64
        let messageID: String?
        let waiter: Waiter
        /// When it was published: `DispatchTime` uptime, in nanoseconds (monotonic).
        let sentAt: UInt64
        var returned: (code: UInt16, text: String)?
    }

    // Tags are handed out in order, so a deque of entries sorted by tag is enough.
    private var entries = Deque<Entry>()
    public private(set) var nextTag: UInt64 = 1

    public init() {}

    public var pendingCount: Int { entries.count }

    /// When the longest-waiting unsettled publish was sent (`DispatchTime` uptime nanoseconds); nil if none waits.
    public var oldestSentAt: UInt64? { entries.first?.sentAt }

    /// Records a publish sent at `sentAt` (uptime nanoseconds); returns its delivery tag.
    public mutating func published(messageID: String?, waiter: Waiter, sentAt: UInt64 = DispatchTime.now().uptimeNanoseconds) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        entries.append(Entry(tag: tag, messageID: messageID, waiter: waiter, sentAt: sentAt, returned: nil))
        return tag
    }

    /// A `basic.return` for a mandatory message: remembered until its ack settles it.
    public mutating func returned(messageID: String?, code: UInt16, text: String) {
        for i in entries.indices where entries[i].returned == nil && entries[i].messageID == messageID {
            entries[i].returned = (code, text)
            return
        }
    }

    /// `basic.ack`: settles the tag, or every tag up to it with `multiple`.
    public mutating func acked(tag: UInt64, multiple: Bool) -> [(Waiter, Outcome)] {
        settle(tag: tag, multiple: multiple) { entry in
            entry.returned.map { .returned(code: $0.code, text: $0.text) } ?? .confirmed
        }
    }

    /// `basic.nack`: the broker could not take responsibility for the message(s).
    public mutating func nacked(tag: UInt64, multiple: Bool) -> [(Waiter, Outcome)] {
        settle(tag: tag, multiple: multiple) { _ in .rejected }
    }

    /// The channel or connection is gone: every unsettled publish is unconfirmed. Tags restart at 1.
    public mutating func reset() -> [Waiter] {
        let pending = entries.map(\.waiter)
        entries.removeAll(keepingCapacity: true)
        nextTag = 1
        return pending
    }

    private mutating func settle(tag: UInt64, multiple: Bool, outcome: (Entry) -> Outcome) -> [(Waiter, Outcome)] {
        var settled: [(Waiter, Outcome)] = []
        if multiple {
            while let first = entries.first, first.tag <= tag {
                settled.append((first.waiter, outcome(first)))
                entries.removeFirst()
            }
        } else if let i = entries.firstIndex(where: { $0.tag == tag }) {
            // Single acks usually settle the oldest entry, so the search ends at once.
            settled.append((entries[i].waiter, outcome(entries[i])))
            entries.remove(at: i)
        }
        return settled
    }
}
