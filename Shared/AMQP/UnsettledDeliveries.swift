import DequeModule

/// The deliveries of one consumer channel that have not been settled yet, so that a batch of
/// acks can go out as few frames as possible. Pure: no I/O.
///
/// When the acks in a batch complete a run from the oldest unsettled delivery, one
/// `basic.ack(multiple: true)` settles the whole run; acks for later deliveries (a gap before
/// them is still being handled) go out one by one. A multiple ack never covers a delivery the
/// application has not settled: it stops at the first one still outstanding.
public struct UnsettledDeliveries: Sendable {
    private var outstanding = Deque<UInt64>()
    /// Settled already (one by one) but still in `outstanding` behind an unsettled delivery.
    private var settledAhead: Set<UInt64> = []

    public init() {}

    public var count: Int { outstanding.count - settledAhead.count }

    public mutating func delivered(_ tag: UInt64) { outstanding.append(tag) }

    /// A nack or reject, written on its own.
    public mutating func settledSingly(_ tag: UInt64) {
        settledAhead.insert(tag)
        advance()
    }

    /// The ack frames to write for these acked tags: `(tag, multiple)`.
    public mutating func ack(_ tags: [UInt64]) -> [(tag: UInt64, multiple: Bool)] {
        var batch = Set(tags)
        var frames: [(tag: UInt64, multiple: Bool)] = []
        var last: UInt64?
        var run = 0
        while let tag = outstanding.first {
            if batch.remove(tag) != nil {
                last = tag
                run += 1
            } else if settledAhead.remove(tag) == nil {
                break
            }
            outstanding.removeFirst()
        }
        if let last { frames.append((last, run > 1)) }
        for tag in batch.sorted() {
            frames.append((tag, false))
            settledAhead.insert(tag)
        }
        return frames
    }

    private mutating func advance() {
        while let tag = outstanding.first, settledAhead.remove(tag) != nil { outstanding.removeFirst() }
    }
}
