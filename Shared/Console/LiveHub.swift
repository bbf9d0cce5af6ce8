import DequeModule
import Desk
import Domain
import Foundation
import Synchronization

/// Who a live stream is for and what it shows: the reader's scope and language, and the page.
public struct LiveAudience: Sendable {
    public enum View: Sendable, Equatable {
        /// The board with these filters: rows that no longer pass them are removed.
        case board(BoardFilter)
        /// One ticket's page: changes of that ticket only.
        case ticket(UUID)
        /// A page over every ticket in scope (a department's work, the supervisor's view).
        case all
    }

    public var scope: AccessScope
    public var language: ConsoleLanguage
    public var view: View

    public init(scope: AccessScope, language: ConsoleLanguage, view: View) {
        self.scope = scope
        self.language = language
        self.view = view
    }
}

/// What one live update says to a page: the ticket, whether the page keeps it, and for a board
/// the row as HTML, rendered (and escaped) by the same template as the first render.
public struct LiveFrame: Codable, Sendable, Equatable {
    /// The ticket's id as the pages write it (lower case: rows carry it in `data-id`).
    public var id: String
    public var number: String
    public var status: TicketStatus
    public var breached: Bool
    /// The page drops the ticket (closed, cancelled, or filtered out).
    public var remove: Bool
    public var html: String?
}

/// Fans live updates out to the pages connected to this replica. Every replica gets every event
/// (an exclusive queue of its own), reads the ticket's board row once, and hands it here; each
/// page's stream gets the rows its reader may see (scope checked per event, per reader) as its
/// view shows them. Updates are numbered `<replica>.<n>`; a page that reconnects with the last
/// number it saw gets what it missed from the last ``capacity`` updates, or `reload` when they are
/// gone or it was connected to another replica.
///
/// A stream that falls behind (a burst of events, a slow connection) is not sent every update it
/// missed: its waiting frames are kept per ticket, newest only (``LiveSubscription``), and written
/// together. A row is a ticket's whole state, so the page ends up the same, sooner.
public final class LiveHub: Sendable {
    public typealias Render = @Sendable (BoardRow, ConsoleLanguage) -> String

    public let replica: String
    public let capacity: Int
    private let render: Render

    private struct Subscriber {
        var audience: LiveAudience
        var subscription: LiveSubscription
    }

    private struct State {
        var sequence = 0
        var recent = Deque<(sequence: Int, row: BoardRow)>()
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriber = 0
        var finished = false
    }

    private let state = Mutex(State())

    public init(replica: String = String(UUID().uuidString.lowercased().prefix(8)), capacity: Int = 2000, render: @escaping Render) {
        self.replica = replica
        self.capacity = capacity
        self.render = render
    }

    /// The id of the latest update: a page rendered now resumes after it.
    public var position: String { state.withLock { "\(replica).\($0.sequence)" } }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// The SSE frames for `audience`, starting with what it missed after `after` (an update id),
    /// or with `reload` when that cannot be told. End it with ``LiveSubscription/finish()``.
    public func subscribe(_ audience: LiveAudience, after: String?) -> LiveSubscription {
        let subscription = LiveSubscription()
        let id: Int? = state.withLock { state in
            guard !state.finished else { return nil }
            if let after {
                if let missed = Self.missed(after: after, replica: replica, current: state.sequence, state.recent) {
                    for (sequence, row) in missed {
                        var cache: [String: String] = [:]
                        if let frame = frame(row, sequence, audience, cache: &cache) { subscription.put(frame, ticket: row.id) }
                    }
                } else {
                    subscription.put(Self.event(id: "\(replica).\(state.sequence)", name: "reload", data: "{}"))
                }
            }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = Subscriber(audience: audience, subscription: subscription)
            return id
        }
        guard let id else {
            subscription.finish()
            return subscription
        }
        subscription.onFinish { [weak self] in _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) } }
        return subscription
    }

    /// The updates after `after`, if this replica still holds all of them up to `current`; nil
    /// when it cannot say (another replica's id, too old, or updates passed while no page was
    /// connected: see ``skip()``).
    static func missed(after: String, replica: String, current: Int, _ recent: Deque<(sequence: Int, row: BoardRow)>) -> [(Int, BoardRow)]? {
        let parts = after.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, parts[0] == replica, let seen = Int(parts[1]), seen <= current else { return nil }
        if seen == current { return [] }
        guard let oldest = recent.first?.sequence, oldest <= seen + 1, recent.last?.sequence == current else { return nil }
        return recent.filter { $0.sequence > seen }.map { ($0.sequence, $0.row) }
    }

    /// Whether any page is connected: with none, the feed need not read rows at all (``skip()``).
    public var hasSubscribers: Bool { state.withLock { !$0.subscribers.isEmpty } }

    /// An update that no connected page needed, not read: it is counted, and what came before it
    /// can no longer be replayed, so a page drawn before it and connecting after it reloads once.
    public func skip() {
        state.withLock { state in
            state.sequence += 1
            state.recent.removeAll()
        }
    }

    /// One update of each ticket, to every page that may see it.
    public func publish(_ rows: [BoardRow]) {
        state.withLock { state in
            for row in rows {
                state.sequence += 1
                let sequence = state.sequence
                state.recent.append((sequence, row))
                if state.recent.count > capacity { state.recent.removeFirst() }
                var cache: [String: String] = [:]
                for subscriber in state.subscribers.values {
                    guard let frame = frame(row, sequence, subscriber.audience, cache: &cache) else { continue }
                    subscriber.subscription.put(frame, ticket: row.id)
                }
            }
        }
    }

    /// Ends every stream (the replica is stopping); later subscriptions end at once.
    public func finishAll() {
        let ended = state.withLock { state -> [Subscriber] in
            state.finished = true
            return Array(state.subscribers.values)
        }
        for subscriber in ended { subscriber.subscription.finish() }
    }

    /// The frame `audience` gets for `row`, or nil if the row is not for it. Frames are the same
    /// for every reader with the same language, departments and verdict: rendered once per update.
    private func frame(_ row: BoardRow, _ sequence: Int, _ audience: LiveAudience, cache: inout [String: String]) -> String? {
        guard row.visible(to: audience.scope) else { return nil }
        let keep: Bool
        let withHTML: Bool
        switch audience.view {
        case .board(let filter): keep = filter.admits(row); withHTML = true
        case .ticket(let id): guard id == row.id else { return nil }; keep = true; withHTML = false
        case .all: keep = true; withHTML = false
        }
        let key = "\(audience.language.rawValue)|\(audience.scope.departments.map { $0.map(\.rawValue).sorted().joined(separator: ",") } ?? "*")|\(keep)|\(withHTML)"
        if let cached = cache[key] { return cached }
        let shown = row.narrowed(to: audience.scope)
        let data = LiveFrame(id: row.id.uuidString.lowercased(), number: row.number, status: row.status, breached: row.breached, remove: !keep,
                             html: keep && withHTML ? render(shown, audience.language) : nil)
        let json = (try? Self.encoder.encode(data)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let text = Self.event(id: "\(replica).\(sequence)", name: "row", data: json)
        cache[key] = text
        return text
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// One Server-Sent Event. `data` is one line (JSON has no raw newlines); any newline in it is
    /// split into `data:` lines as the format asks.
    public static func event(id: String?, name: String, data: String) -> String {
        var text = ""
        if let id { text += "id: \(id)\n" }
        text += "event: \(name)\n"
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        return text + "\n"
    }

    /// A comment line: keeps proxies and the browser from timing the stream out.
    public static let heartbeat = ": ping\n\n"
}

/// One page's stream: the frames waiting to be written, at most one per ticket (a newer row of
/// a ticket replaces the waiting one, and goes to the end so ids stay in order), taken all at
/// once by the writer.
public final class LiveSubscription: Sendable {
    private struct State {
        var frames: [String?] = []
        var latest: [UUID: Int] = [:]
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
        var onFinish: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    /// Adds a frame; `ticket`: it replaces that ticket's frame still waiting.
    public func put(_ frame: String, ticket: UUID? = nil) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            if let ticket {
                if let earlier = state.latest[ticket] { state.frames[earlier] = nil }
                state.latest[ticket] = state.frames.count
            }
            state.frames.append(frame)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Everything waiting, as one piece of text; waits while nothing is. Nil once finished.
    public func next() async -> String? {
        while true {
            var taken: String?
            var ended = false
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if !state.frames.isEmpty {
                        taken = state.frames.compactMap { $0 }.joined()
                        state.frames = []
                        state.latest = [:]
                        return true
                    }
                    if state.finished { ended = true; return true }
                    state.waiter = c
                    return false
                }
                if ready { c.resume() }
            }
            if let taken { return taken }
            if ended { return nil }
        }
    }

    /// Ends the stream: ``next()`` returns what is left, then nil.
    public func finish() {
        let (waiter, onFinish) = state.withLock { state -> (CheckedContinuation<Void, Never>?, (@Sendable () -> Void)?) in
            guard !state.finished else { return (nil, nil) }
            state.finished = true
            defer { state.waiter = nil; state.onFinish = nil }
            return (state.waiter, state.onFinish)
        }
        waiter?.resume()
        onFinish?()
    }

    func onFinish(_ action: @escaping @Sendable () -> Void) {
        let already = state.withLock { state -> Bool in
            if state.finished { return true }
            state.onFinish = action
            return false
        }
        if already { action() }
    }
}
