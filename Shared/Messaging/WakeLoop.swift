import Logging
import ServiceLifecycle

/// The loop of a service that works in passes: a pass runs at start and on every wake-up, and
/// says how long to sleep before the next one if nothing wakes it sooner. The sleep is a timer
/// yielding into the same stream as the wake-ups, so a wake-up and the timer coalesce into one
/// pass. A failing pass is logged and retried after 100 ms, doubling to 5 s. On graceful shutdown
/// it starts no new pass, and a pass under way finishes (a send in flight is not cut off; the
/// service group's grace period bounds it). (The timer engine and the delivery engine run on it.)
public enum WakeLoop {
    public static func run(_ wakeups: AsyncStream<Void>, wake: AsyncStream<Void>.Continuation, logger: Logger, what: String,
                           pass: @escaping @Sendable () async throws -> Duration) async {
        await withGracefulShutdownHandler {
            var timer: Task<Void, Never>?
            var failures = 0
            wake.yield()
            for await _ in wakeups {
                timer?.cancel()
                let pause: Duration
                do {
                    pause = try await pass()
                    failures = 0
                } catch {
                    failures += 1
                    logger.warning("\(what) failed; retrying", metadata: ["error": "\(error)"])
                    pause = .milliseconds(min(5_000, 100 << min(failures, 6)))
                }
                timer = Task {
                    do {
                        try await Task.sleep(for: pause)
                        wake.yield()
                    } catch {}  // cancelled: an earlier wake-up came first
                }
            }
            timer?.cancel()
        } onGracefulShutdown: {
            wake.finish()
        }
    }
}
