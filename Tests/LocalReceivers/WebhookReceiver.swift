import Foundation
import Hummingbird
import Logging
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real HTTP receiver on loopback for the notification channels' requests (webhooks, robots,
/// the SMS gateway). It records every request, answers 200 with the robots' `{"errcode":0}`, and
/// can be told to fail the next N requests to a path with HTTP 500, or to hold its answer to a
/// path's requests (a receiver that hangs).
public final class WebhookReceiver: Sendable {
    public struct Received: Sendable {
        public let path: String
        /// By lower-cased name.
        public let headers: [String: String]
        public let body: String
        public let at: Date
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    public let port: Int
    private let received = Mutex<[Received]>([])
    private let failing = Mutex<[String: Int]>([:])
    private let stalling = Mutex<[String: Duration]>([:])
    private let task = Mutex<Task<Void, Error>?>(nil)
    /// Called on every successful request, off the recording lock (for benchmarks).
    private let onReceive: (@Sendable (Received) -> Void)?

    public init(port: Int, onReceive: (@Sendable (Received) -> Void)? = nil) {
        self.port = port
        self.onReceive = onReceive
    }

    public func start() async throws {
        let router = Router()
        router.post("**") { [self] request, _ -> Response in
            let path = request.uri.path
            if failing.withLock({ f in
                guard let n = f[path], n > 0 else { return false }
                f[path] = n - 1
                return true
            }) {
                return Response(status: .internalServerError)
            }
            let buffer = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let r = Received(path: path, headers: headers, body: String(buffer: buffer), at: Date())
            received.withLock { $0.append(r) }
            onReceive?(r)
            if let stall = stalling.withLock({ $0[path] }) { try await Task.sleep(for: stall) }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"errcode":0,"errmsg":"ok"}"#)))
        }
        var logger = Logger(label: "receiver")
        logger.logLevel = .error
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        task.withLock { $0 = Task { try await app.run() } }
        // Ready when it answers.
        for _ in 0..<100 {
            if (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/")!)) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CancellationError()
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    /// The next `count` requests to `path` get HTTP 500.
    public func fail(_ path: String, times count: Int) {
        failing.withLock { $0[path] = count }
    }

    /// Requests to `path` are recorded at once but answered only after `duration`.
    public func stall(_ path: String, for duration: Duration) {
        stalling.withLock { $0[path] = duration }
    }

    public func requests(_ path: String? = nil) -> [Received] {
        received.withLock { all in path.map { p in all.filter { $0.path == p } } ?? all }
    }

    /// Waits until `done` holds for the requests so far (or `timeout`), and returns them.
    public func wait(timeout: Duration = .seconds(20), until done: ([Received]) -> Bool) async throws -> [Received] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let now = requests()
            if done(now) { return now }
            try await Task.sleep(for: .milliseconds(50))
        }
        return requests()
    }
}
