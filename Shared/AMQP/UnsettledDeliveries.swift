/// The deliveries of one consumer channel that have not been settled yet, so that a batch of
/// acks can go out as few frames as possible. Pure: no I/O.
///
/// When the acks in a batch complete a run from the oldest unsettled delivery, one
/// `basic.ack(multiple: true)` settles the whole run; acks for later deliveries (a gap before
/// them is still being handled) go out one by one. A multiple ack never covers a delivery the
/// application has not settled: it stops at the first one still outstanding.
public struct UnsettledDeliveries: Sendable {
    private var outstanding: [UInt64] = []
    private var head = 0
    /// Settled already (one by one) but not yet passed by `head`.
    private var settledAhead: Set<UInt64> = []

    public init() {}

    public var count: Int { outstanding.count - head - settledAhead.count }

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
        while head < outstanding.count {
            let tag = outstanding[head]
            if batch.remove(tag) != nil {
                last = tag
                run += 1
            } else if settledAhead.remove(tag) == nil {
                break
            }
            head += 1
        }
        if let last { frames.append((last, run > 1)) }
        for tag in batch.sorted() {
            frames.append((tag, false))
            settledAhead.insert(tag)
        }
        compact()
        return frames
    }

    private mutating func advance() {
        while head < outstanding.count, settledAhead.remove(outstanding[head]) != nil { head += 1 }
        compact()
    }

    private mutating func compact() {
        if head == outstanding.count {
            outstanding.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024, head * 2 > outstanding.count {
            outstanding.removeFirst(head)
            head = 0
        }
    }
}
