import Testing
@testable import AMQP

@Suite("Ack batching")
struct UnsettledDeliveriesTests {
    func framesEqual(_ a: [(tag: UInt64, multiple: Bool)], _ b: [(UInt64, Bool)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.tag == $1.0 && $0.multiple == $1.1 }
    }

    @Test func acksForTheOldestDeliveriesGoOutAsOneMultipleAck() {
        var u = UnsettledDeliveries()
        for t in 1...5 { u.delivered(UInt64(t)) }
        #expect(framesEqual(u.ack([1, 2, 3]), [(3, true)]))
        #expect(u.count == 2)
    }

    @Test func aSingleAckIsNotMultiple() {
        var u = UnsettledDeliveries()
        for t in 1...3 { u.delivered(UInt64(t)) }
        #expect(framesEqual(u.ack([1]), [(1, false)]))
    }

    @Test func aMultipleAckNeverCoversADeliveryStillBeingHandled() {
        var u = UnsettledDeliveries()
        for t in 1...6 { u.delivered(UInt64(t)) }
        // 3 is still being handled: 1–2 go as one frame, 4 and 5 one by one.
        #expect(framesEqual(u.ack([1, 2, 4, 5]), [(2, true), (4, false), (5, false)]))
        // When 3 is acked, the run continues over 4 and 5 (already settled) and stops before 6.
        #expect(framesEqual(u.ack([3]), [(3, false)]))
        #expect(u.count == 1)
        #expect(framesEqual(u.ack([6]), [(6, false)]))
        #expect(u.count == 0)
    }

    @Test func aNackedDeliveryInTheMiddleDoesNotBreakTheRun() {
        var u = UnsettledDeliveries()
        for t in 1...4 { u.delivered(UInt64(t)) }
        u.settledSingly(2)
        #expect(framesEqual(u.ack([1, 3, 4]), [(4, true)]))
        #expect(u.count == 0)
    }

    @Test func manyInOrderAcksStayCheapAndCorrect() {
        var u = UnsettledDeliveries()
        var frames = 0
        for t in 1...10_000 {
            u.delivered(UInt64(t))
            if t % 50 == 0 { frames += u.ack(Array(UInt64(t - 49)...UInt64(t))).count }
        }
        #expect(frames == 200)
        #expect(u.count == 0)
    }
}
