import Crypto
import Foundation
import Hummingbird
import Logging
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real HTTP receiver on loopback for the notification channels' requests (webhooks, robots,
/// the SMS gateway, WeChat's API). It records every request, answers 200 with the robots'
/// `{"errcode":0}`, and can be told to fail the next N requests to a path with HTTP 500, or to
/// hold its answer to a path's requests (a receiver that hangs). It checks what the providers
/// check:
/// - a signed DingTalk robot's path (``signedDingTalk(_:secret:)``): `timestamp` within an hour
///   and `sign` = Base64(HMAC-SHA256(secret, timestamp + "\n" + secret)), else errcode 310000;
/// - `/wechat/cgi-bin/stable_token` issues an access token (normal mode: the same one until it
///   expires); `/wechat/cgi-bin/message/template/send` refuses any other token with errcode 42001
///   (``expireWeChatToken()`` makes the current one expire);
/// - `/sms` answers like Aliyun SMS, with a `BizId` of its own for each message.
public final class WebhookReceiver: Sendable {
    public struct Received: Sendable {
        public let path: String
        /// By lower-cased name.
        public let headers: [String: String]
        public let body: String
        public let at: Date
        /// The query string's parameters.
        public let query: [String: String]
        /// The id this receiver gave the message in its answer (the SMS gateway's `BizId`).
        public let replyID: String?
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    public let port: Int
    private let received = Mutex<[Received]>([])
    private let failing = Mutex<[String: Int]>([:])
    private let stalling = Mutex<[String: Duration]>([:])
    private let task = Mutex<Task<Void, Error>?>(nil)
    private let dingTalkSecrets = Mutex<[String: String]>([:])
    private let wechat = Mutex<(token: String, issued: Int, fetches: Int)>(("", 0, 0))
    private let ids = Mutex(0)
    /// Ids this receiver gives differ from any earlier receiver's, as a gateway's do.
    private let instance = UUID().uuidString.prefix(8).lowercased()
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
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            let (answer, id) = answer(path, query)
            let r = Received(path: path, headers: headers, body: String(buffer: buffer), at: Date(), query: query, replyID: id)
            received.withLock { $0.append(r) }
            onReceive?(r)
            if let stall = stalling.withLock({ $0[path] }) { try await Task.sleep(for: stall) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
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

    /// What a provider would answer this request, and the id it gave the message.
    private func answer(_ path: String, _ query: [String: String]) -> (String, String?) {
        if let secret = dingTalkSecrets.withLock({ $0[path] }) {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            guard let text = query["timestamp"], let timestamp = Int64(text), abs(now - timestamp) < 3_600_000, let sign = query["sign"] else {
                return (#"{"errcode":310000,"errmsg":"sign not match, timestamp missing or more than an hour off"}"#, nil)
            }
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(text)\n\(secret)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
            // The query parser has undone the URL encoding already.
            guard Data(mac).base64EncodedString() == sign else { return (#"{"errcode":310000,"errmsg":"sign not match"}"#, nil) }
        }
        switch path {
        case "/wechat/cgi-bin/stable_token":
            let token = wechat.withLock { w in
                if w.token.isEmpty {
                    w.issued += 1
                    w.token = "token-\(w.issued)-\(UUID().uuidString.prefix(8))"
                }
                w.fetches += 1
                return w.token
            }
            return (#"{"access_token":"\#(token)","expires_in":7200}"#, nil)
        case "/wechat/cgi-bin/message/template/send":
            let valid = wechat.withLock { !$0.token.isEmpty && query["access_token"] == $0.token }
            guard valid else { return (#"{"errcode":42001,"errmsg":"access_token expired"}"#, nil) }
            let id = ids.withLock { n in n += 1; return n }
            return (#"{"errcode":0,"errmsg":"ok","msgid":\#(id)}"#, "\(id)")
        case "/sms":
            let id = "biz-\(instance)-\(ids.withLock { n in n += 1; return n })"
            return (#"{"errcode":0,"Code":"OK","Message":"OK","BizId":"\#(id)"}"#, id)
        default:
            return (#"{"errcode":0,"errmsg":"ok"}"#, nil)
        }
    }

    /// Requests to `path` must be signed with `secret` the way DingTalk checks a signed robot's.
    public func signedDingTalk(_ path: String, secret: String) {
        dingTalkSecrets.withLock { $0[path] = secret }
    }

    /// The WeChat access token expires now: sends with it are refused, and the next token fetch
    /// issues a new one.
    public func expireWeChatToken() {
        wechat.withLock { $0.token = "" }
    }

    /// How many access tokens were fetched, and how many different ones issued.
    public var weChatTokenFetches: (fetches: Int, issued: Int) {
        wechat.withLock { ($0.fetches, $0.issued) }
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
