import CLibPQ
import Foundation
import Logging
import Synchronization

/// LISTEN on one or more channels with a dedicated connection and thread.
///
/// Yields ``Event/notification(_:)`` for each NOTIFY, and ``Event/connected`` each time the
/// connection is (re)established: notifications sent while it was down are lost, so a consumer
/// should sweep for missed work whenever it sees `.connected`. Reconnects with backoff (100 ms
/// doubling to 5 s) until stopped.
public final class PostgresListener: Sendable {
    public enum Event: Sendable, Equatable {
        case connected
        case notification(PostgresNotification)
    }

    public let events: AsyncStream<Event>
    private let stopped = StopFlag()

    public init(configuration: PostgresConfiguration, channels: [String], logger: Logger = Logger(label: "propdesk.postgres.listen")) {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        events = stream
        let stopped = self.stopped
        let thread = Thread { [stopped] in
            let connection = PostgresConnection(configuration: configuration)
            var backoffMs = 100
            while !stopped.isSet {
                do {
                    try connection.open()
                    for channel in channels {
                        try connection.execute("LISTEN \"\(channel.replacingOccurrences(of: "\"", with: "\"\""))\"")
                    }
                    backoffMs = 100
                    continuation.yield(.connected)
                    while !stopped.isSet {
                        var fd = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
                        _ = poll(&fd, 1, 250)
                        for n in try connection.drainNotifications() { continuation.yield(.notification(n)) }
                    }
                } catch {
                    if stopped.isSet { break }
                    logger.warning("LISTEN connection lost; reconnecting", metadata: ["error": "\(error)"])
                    connection.close()
                    Thread.sleep(forTimeInterval: Double(backoffMs) / 1000)
                    backoffMs = min(backoffMs * 2, 5000)
                }
            }
            connection.close()
            continuation.finish()
        }
        thread.name = "postgres-listen"
        thread.start()
    }

    /// Stops listening; the event stream ends within a quarter of a second.
    public func stop() { stopped.set() }

    deinit { stop() }
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
