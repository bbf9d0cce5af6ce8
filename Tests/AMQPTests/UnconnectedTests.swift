import Foundation
import Testing
@testable import AMQP

@Suite("A connection that never connected")
struct UnconnectedTests {
    @Test(.timeLimit(.minutes(1)))
    func closingItFailsWhatWasAskedOfItInsteadOfLeavingTheCallerWaiting() async throws {
        for _ in 0..<20 {
            // Port 1 on loopback: nothing is there, and nothing is tried before connect().
            let connection = AMQPConnection(configuration: try AMQPConfiguration(url: "amqp://u:p@127.0.0.1:1/v"))
            let asked = Task { try await connection.declare(AMQPTopology(queues: [.init(name: "q", type: .classic)])) }
            await Task.yield()
            // Whichever comes first, the declare ends with an error: queued and then failed by
            // the close, or refused by the closed mailbox. Before the fix a queued one waited for ever.
            await connection.close()
            let result = await asked.result
            #expect(throws: AMQPError.self) { try result.get() }
        }
    }
}
