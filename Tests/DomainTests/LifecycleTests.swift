import Testing
@testable import Domain

@Suite("Ticket and work-order lifecycles")
struct LifecycleTests {
    @Test func aTicketGoesFromOpenThroughOnSiteToResolvedAndClosed() throws {
        var status = TicketStatus.open
        for (action, expected) in [(TicketAction.acknowledge, TicketStatus.acknowledged), (.onSite, .onSite), (.note, .onSite),
                                   (.resolve, .resolved), (.close, .closed)] {
            status = try TicketLifecycle.apply(action, to: status)
            #expect(status == expected)
        }
    }

    @Test func resolvingACancelledTicketIsRefusedWithAReasonAPersonCanRead() {
        #expect(throws: IllegalTransition.self) { try TicketLifecycle.apply(.resolve, to: .cancelled) }
        do {
            _ = try TicketLifecycle.apply(.resolve, to: .cancelled)
        } catch {
            #expect(error.reason == "a ticket that is cancelled cannot be resolved")
        }
    }

    @Test(arguments: [
        (TicketAction.acknowledge, TicketStatus.resolved), (.onSite, .resolved), (.close, .open), (.reopen, .open),
        (.cancel, .resolved), (.cancel, .closed), (.note, .cancelled), (.acknowledge, .acknowledged),
    ])
    func illegalTicketMovesAreRefused(action: TicketAction, from: TicketStatus) {
        #expect(throws: IllegalTransition.self) { try TicketLifecycle.apply(action, to: from) }
    }

    @Test func reopeningAResolvedOrClosedTicketMakesItOpenAgain() throws {
        #expect(try TicketLifecycle.apply(.reopen, to: .resolved) == .open)
        #expect(try TicketLifecycle.apply(.reopen, to: .closed) == .open)
    }

    @Test func theFirstAcceptanceAcknowledgesTheTicketAndLaterOnesDoNot() {
        #expect(TicketLifecycle.ticketAction(after: .accept, ticket: .open, allOrdersDone: false) == .acknowledge)
        #expect(TicketLifecycle.ticketAction(after: .accept, ticket: .acknowledged, allOrdersDone: false) == nil)
        #expect(TicketLifecycle.ticketAction(after: .onSite, ticket: .acknowledged, allOrdersDone: false) == .onSite)
        #expect(TicketLifecycle.ticketAction(after: .onSite, ticket: .onSite, allOrdersDone: false) == nil)
    }

    @Test func theTicketIsResolvedOnlyWhenItsLastWorkOrderIsDone() {
        #expect(TicketLifecycle.ticketAction(after: .resolve, ticket: .onSite, allOrdersDone: false) == nil)
        #expect(TicketLifecycle.ticketAction(after: .resolve, ticket: .onSite, allOrdersDone: true) == .resolve)
        #expect(TicketLifecycle.ticketAction(after: .resolve, ticket: .cancelled, allOrdersDone: true) == nil)
    }

    @Test func aWorkOrderIsAcceptedWorkedAndDoneOrGivenBack() throws {
        #expect(try WorkOrderLifecycle.apply(.accept, to: .assigned) == .accepted)
        #expect(try WorkOrderLifecycle.apply(.onSite, to: .assigned) == .onSite)
        #expect(try WorkOrderLifecycle.apply(.release, to: .onSite) == .assigned)
        #expect(try WorkOrderLifecycle.apply(.resolve, to: .onSite) == .done)
        #expect(try WorkOrderLifecycle.apply(.transfer, to: .accepted) == .transferred)
        #expect(try WorkOrderLifecycle.apply(.reassign, to: .assigned) == .accepted)
        #expect(try WorkOrderLifecycle.apply(.reassign, to: .onSite) == .accepted)
        #expect(throws: IllegalTransition.self) { try WorkOrderLifecycle.apply(.reassign, to: .done) }
        #expect(TicketLifecycle.ticketAction(after: .reassign, ticket: .open, allOrdersDone: false) == .acknowledge)
    }

    @Test(arguments: [
        (WorkOrderAction.accept, WorkOrderStatus.accepted), (.resolve, .done), (.release, .assigned), (.note, .transferred),
        (.accept, .cancelled),
    ])
    func illegalWorkOrderMovesAreRefused(action: WorkOrderAction, from: WorkOrderStatus) {
        #expect(throws: IllegalTransition.self) { try WorkOrderLifecycle.apply(action, to: from) }
    }
}
