import Testing
@testable import AMQP

@Suite("Publisher confirms")
struct ConfirmTrackerTests {
    @Test func tagsStartAtOneAndCountUp() {
        var t = ConfirmTracker<String>()
        #expect(t.published(messageID: "a", waiter: "a") == 1)
        #expect(t.published(messageID: "b", waiter: "b") == 2)
        #expect(t.pendingCount == 2)
    }

    @Test func aStallIsMeasuredFromTheOldestPublishStillWaitingForItsConfirm() {
        var t = ConfirmTracker<String>()
        #expect(t.oldestSentAt == nil)
        _ = t.published(messageID: "a", waiter: "a", sentAt: 10)
        _ = t.published(messageID: "b", waiter: "b", sentAt: 20)
        _ = t.published(messageID: "c", waiter: "c", sentAt: 30)
        _ = t.acked(tag: 2, multiple: false)
        #expect(t.oldestSentAt == 10)
        _ = t.acked(tag: 1, multiple: false)
        #expect(t.oldestSentAt == 30)
        _ = t.nacked(tag: 3, multiple: false)
        #expect(t.oldestSentAt == nil)
    }

    @Test func aSingleAckConfirmsOnlyItsMessage() {
        var t = ConfirmTracker<String>()
        for id in ["a", "b", "c"] { _ = t.published(messageID: id, waiter: id) }
        let settled = t.acked(tag: 2, multiple: false)
        #expect(settled.map(\.0) == ["b"])
        #expect(settled.map(\.1) == [.confirmed])
        #expect(t.pendingCount == 2)
        #expect(t.acked(tag: 1, multiple: false).map(\.0) == ["a"])
        #expect(t.acked(tag: 3, multiple: false).map(\.0) == ["c"])
        #expect(t.pendingCount == 0)
    }

    @Test func aMultipleAckConfirmsEveryMessageUpToItsTag() {
        var t = ConfirmTracker<Int>()
        for i in 1...5 { _ = t.published(messageID: "\(i)", waiter: i) }
        #expect(t.acked(tag: 3, multiple: true).map(\.0) == [1, 2, 3])
        #expect(t.pendingCount == 2)
        #expect(t.acked(tag: 5, multiple: true).map(\.0) == [4, 5])
    }

    @Test func aNackRejectsTheMessagesItCovers() {
        var t = ConfirmTracker<Int>()
        for i in 1...3 { _ = t.published(messageID: nil, waiter: i) }
        let settled = t.nacked(tag: 2, multiple: true)
        #expect(settled.map(\.0) == [1, 2])
        #expect(settled.allSatisfy { $0.1 == .rejected })
        #expect(t.acked(tag: 3, multiple: false).map(\.1) == [.confirmed])
    }

    @Test func aReturnedMandatoryMessageFailsWhenItsAckArrives() {
        var t = ConfirmTracker<String>()
        _ = t.published(messageID: "routed", waiter: "routed")
        _ = t.published(messageID: "lost", waiter: "lost")
        t.returned(messageID: "lost", code: 312, text: "NO_ROUTE")
        let settled = t.acked(tag: 2, multiple: true)
        #expect(settled.map(\.1) == [.confirmed, .returned(code: 312, text: "NO_ROUTE")])
    }

    @Test func aLostChannelReportsEveryUnconfirmedMessageAndRestartsTags() {
        var t = ConfirmTracker<Int>()
        for i in 1...4 { _ = t.published(messageID: nil, waiter: i) }
        _ = t.acked(tag: 1, multiple: false)
        #expect(t.reset() == [2, 3, 4])
        #expect(t.pendingCount == 0)
        #expect(t.published(messageID: nil, waiter: 9) == 1)
    }

    @Test func acksForUnknownTagsChangeNothing() {
        var t = ConfirmTracker<Int>()
        _ = t.published(messageID: nil, waiter: 1)
        #expect(t.acked(tag: 7, multiple: false).isEmpty)
        #expect(t.pendingCount == 1)
    }

    @Test func twentyThousandConfirmsInOverlappingBatchesAreEachReportedOnceInOrder() {
        var t = ConfirmTracker<Int>()
        var confirmed: [Int] = []
        for i in 1...20_000 {
            _ = t.published(messageID: nil, waiter: i)
            if i % 7 == 0 { confirmed += t.acked(tag: UInt64(i - 3), multiple: true).map(\.0) }
        }
        confirmed += t.acked(tag: 20_000, multiple: true).map(\.0)
        #expect(confirmed == Array(1...20_000))
    }
}
