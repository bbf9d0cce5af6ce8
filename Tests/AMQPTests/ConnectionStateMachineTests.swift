import Testing
@testable import AMQP

@Suite("Connection recovery")
struct ConnectionStateMachineTests {
    @Test func theFirstConnectDeclaresWithoutCallingItARecovery() {
        var m = ConnectionStateMachine()
        #expect(m.start() == .connect)
        #expect(m.connectSucceeded() == .declareAndResume(generation: 1, recovered: false))
        #expect(m.isConnected)
    }

    @Test func aWrongAddressFailsAfterTheInitialAttempts() {
        var m = ConnectionStateMachine(initialAttempts: 3)
        _ = m.start()
        #expect(m.connectFailed(jitter: 0) == .wait(milliseconds: 50))
        #expect(m.retryTimerFired() == .connect)
        #expect(m.connectFailed(jitter: 0) == .wait(milliseconds: 100))
        #expect(m.retryTimerFired() == .connect)
        #expect(m.connectFailed(jitter: 0) == .fail)
        #expect(m.state == .closed)
    }

    @Test func aLostConnectionSaysToFailWhatIsInFlightThenReconnectsAndResumes() {
        var m = ConnectionStateMachine()
        _ = m.start()
        _ = m.connectSucceeded()
        #expect(m.connectionLost(jitter: 1) == .failInFlightThenWait(milliseconds: 100))
        #expect(!m.isConnected)
        #expect(m.retryTimerFired() == .connect)
        #expect(m.connectSucceeded() == .declareAndResume(generation: 2, recovered: true))
    }

    @Test func afterTheFirstConnectItNeverGivesUp() {
        var m = ConnectionStateMachine(initialAttempts: 1)
        _ = m.start()
        _ = m.connectSucceeded()
        _ = m.connectionLost(jitter: 0)
        for _ in 0..<100 {
            #expect(m.retryTimerFired() == .connect)
            guard case .wait = m.connectFailed(jitter: 0.5) else {
                Issue.record("gave up on a connection that had worked")
                return
            }
        }
    }

    @Test func backoffDoublesUpToItsCapWithinTheJitterBounds() {
        let b = ConnectionStateMachine.Backoff(initialMilliseconds: 100, maximumMilliseconds: 5_000)
        #expect(b.delay(attempt: 0, jitter: 0) == 50)
        #expect(b.delay(attempt: 0, jitter: 1) == 100)
        #expect(b.delay(attempt: 3, jitter: 1) == 800)
        #expect(b.delay(attempt: 30, jitter: 1) == 5_000)
        #expect(b.delay(attempt: 30, jitter: 0) == 2_500)
    }

    @Test func closingStopsEverything() {
        var m = ConnectionStateMachine()
        _ = m.start()
        _ = m.connectSucceeded()
        _ = m.close()
        #expect(m.connectionLost(jitter: 0) == .none)
        #expect(m.retryTimerFired() == .none)
    }
}
