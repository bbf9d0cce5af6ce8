import Foundation
import Logging
import Messaging
import Metrics
import Notify
import Postgres
import ServiceLifecycle
import Synchronization

/// Sends deliveries, at most once each, and keeps the record.
///
/// A batch of due rows (urgent first) is claimed with `FOR UPDATE SKIP LOCKED`, marked `sending`
/// with a lease and an attempt row, and committed before anything is sent, so replicas never
/// send one row twice. Four lanes do this side by side, each with a quarter of
/// `PROPDESK_NOTIFY_CONCURRENCY`. The sends of a batch run at once and their outcomes are written:
/// - sent: done;
/// - failed, worth retrying, attempts left: pending again after an exponential, jittered wait;
/// - otherwise: the person's next contact gets a new delivery (`fell_back`), or, with none left,
///   the delivery `failed` and `notification.delivery.failed` is published.
/// A row still `sending` when its lease runs out belonged to a sender that died mid-send: it may
/// or may not have gone out, so it is not sent again (that could be a duplicate) but marked
/// `unknown`, and `notification.delivery.failed` says so.
///
/// Non-urgent rows respect each channel's limit, one budget for all replicas (``SharedLimits``);
/// urgent ones never wait for it.
final class DeliveryEngine: Service, Sendable {
    static let channel = "propdesk_deliveries"
    private static let decoder = JSONDecoder()

    private let postgres: PostgresClient
    private let channels: Channels
    private let settings: NotifySettings
    private let limits: SharedLimits
    private let logger: Logger
    private let lease: Duration
    private let sent = Counter(label: "propdesk_deliveries_sent_total")
    private let failures = Counter(label: "propdesk_delivery_failures_total")
    private let latency = Timer(label: "propdesk_delivery_latency")

    init(postgres: PostgresClient, channels: Channels, settings: NotifySettings, logger: Logger) {
        self.postgres = postgres
        self.channels = channels
        self.settings = settings
        self.limits = SharedLimits(limits: settings.limits)
        self.logger = logger
        self.lease = settings.httpTimeout * 2 + .seconds(5)
    }

    func run() async throws {
        let listener = PostgresListener(configuration: postgres.configuration, channels: [Self.channel], logger: logger)
        defer { listener.stop() }
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let forward = Task {
            for await _ in listener.events { wake.yield() }
        }
        let local = Task { [postgres] in
            for await _ in postgres.commitSignals(Self.channel) { wake.yield() }
        }
        defer {
            forward.cancel()
            local.cancel()
        }
        logger.info("delivery engine started")
        await WakeLoop.run(wakeups, wake: wake, logger: logger, what: "delivery engine") {
            try await self.recoverInDoubt()
            try await self.sendAllDue()
            return try await self.untilNextDue()
        }
        await channels.shutdown()
        logger.info("delivery engine stopped")
    }

    /// Until the next delivery is due (at most 5 s): rows held back by a full budget count from
    /// when the budget has room again, so a rate-limited backlog is not looked at in a busy loop.
    func untilNextDue() async throws -> Duration {
        let limits = limits
        let (due, room) = try await postgres.withConnection { c -> (DatabaseInstant, Date?) in
            let full = try limits.full(on: c)
            let row = try c.query("""
                SELECT min(not_before), clock_timestamp() FROM deliveries
                WHERE state = 'pending' AND (urgent OR \(SharedLimits.keySQL) <> ALL($1::text[]))
                """, [PostgresArray(full.keys)])[0]
            return (DatabaseInstant(instant: try row.decode(0, as: Date?.self), now: try row.decode(1, as: Date.self)), full.next)
        }
        let pause = due.pause(atMost: .seconds(5))
        guard let room else { return pause }
        return min(pause, .milliseconds(max(1, Int64((room.timeIntervalSince(due.now) * 1000).rounded(.up)))))
    }

    struct Claimed: Sendable {
        let id: Int64
        let attempt: Int
        let message: OutgoingMessage
        let fallbacks: Int
        let createdAt: Date
        let audience: String
    }

    /// Sends until nothing is due, in up to `lanes` batches side by side: each lane claims, sends and
    /// records its own batches, so one lane's database work overlaps the others' sends and a slow
    /// receiver holds up only its lane. A full batch means a backlog: the idle lanes join in. A
    /// lane that finds nothing stops.
    func sendAllDue(lanes: Int = 4) async throws {
        let lanes = min(lanes, settings.concurrency)
        let perLane = settings.concurrency / lanes
        try await withThrowingTaskGroup(of: Int.self) { group in
            var running = 0
            func start() {
                group.addTask { try await self.sendDue(limit: perLane) }
                running += 1
            }
            start()
            while let claimed = try await group.next() {
                running -= 1
                // Stopping: the batches in flight finish and are recorded; no new one is claimed.
                if Task.isShuttingDownGracefully { continue }
                if claimed > 0 { start() }
                if claimed == perLane { while running < lanes { start() } }
            }
        }
    }

    /// Claims, sends and records one batch of up to `limit`; returns how many were claimed.
    func sendDue(limit: Int) async throws -> Int {
        let limits = limits
        let leaseMs = Int(lease.components.seconds * 1000)
        let claimed = try await postgres.withTransaction { c -> [Claimed] in
            // Budgets full now are left out of the claim itself: a backlog on a slow robot at the
            // head of the queue never fills the batch and starves the channels behind it.
            let full = try limits.full(on: c)
            let candidates = try c.query("""
                SELECT id, channel, urgent, \(SharedLimits.keySQL) FROM deliveries
                WHERE state = 'pending' AND not_before <= (SELECT clock_timestamp()) AND (urgent OR \(SharedLimits.keySQL) <> ALL($2::text[]))
                ORDER BY urgent DESC, not_before, id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [limit, PostgresArray(full.keys)]).map { row in
                (id: try row.decode(0, as: Int64.self), channel: ChannelKind(rawValue: try row.decode(1)) ?? .console,
                 urgent: try row.decode(2, as: Bool.self), key: try row.decode(3, as: String.self))
            }
            let chosen = try limits.take(candidates, on: c)
            guard !chosen.isEmpty else { return [] }
            let rows = try c.query("""
                UPDATE deliveries SET state = 'sending', attempts = attempts + 1,
                       lease_until = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
                WHERE id = ANY($1::bigint[])
                RETURNING id, attempts, dedupe_key, event_id, event_type, ticket_id, recipient, channel, address, subject, body, urgent,
                          jsonb_array_length(fallbacks), created_at, audience, template, facts::text
                """, [PostgresArray(chosen), leaseMs])
            try c.executeLater("""
                INSERT INTO delivery_attempts (delivery_id, attempt, started_at)
                SELECT id, attempts, clock_timestamp() FROM deliveries WHERE id = ANY($1::bigint[])
                """, [PostgresArray(chosen)])
            return try rows.map { row in
                let facts = (try? Self.decoder.decode([String: String].self, from: Data(try row.decode(16, as: String.self).utf8))) ?? [:]
                return Claimed(id: try row.decode(0), attempt: try row.decode(1),
                               message: OutgoingMessage(
                                   dedupeKey: try row.decode(2), eventID: try row.decode(3), eventType: try row.decode(4),
                                   ticketID: try row.decode(5, as: UUID?.self), recipient: try row.decode(6),
                                   channel: ChannelKind(rawValue: try row.decode(7)) ?? .console, address: try row.decode(8),
                                   subject: try row.decode(9), body: try row.decode(10), urgent: try row.decode(11),
                                   template: try row.decode(15), facts: facts),
                               fallbacks: try row.decode(12), createdAt: try row.decode(13), audience: try row.decode(14))
            }
        }
        guard !claimed.isEmpty else { return 0 }
        let channels = channels
        let outcomes = await withTaskGroup(of: Outcome.self) { group in
            for d in claimed {
                group.addTask {
                    do throws(SendFailure) {
                        return Outcome(d, .success(try await channels.send(d.message)))
                    } catch {
                        return Outcome(d, .failure(error))
                    }
                }
            }
            var all: [Outcome] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        // A send cut off by cancellation (a stop past its grace period) may or may not have gone
        // out: its row stays `sending` and becomes `unknown` when the lease runs out, never retried.
        let finished = Task.isCancelled ? outcomes.filter { $0.failure == nil } : outcomes
        try await record(finished)
        return claimed.count
    }

    /// What one send came to: sent (with the provider's id for the message, if it gave one) or why not.
    struct Outcome: Sendable {
        let delivery: Claimed
        let result: Result<String?, SendFailure>

        init(_ delivery: Claimed, _ result: Result<String?, SendFailure>) {
            self.delivery = delivery
            self.result = result
        }

        var failure: SendFailure? {
            if case .failure(let f) = result { f } else { nil }
        }
    }

    /// Writes each send's outcome. Every change is guarded by the state and attempt it expects
    /// (`sending`, this attempt): a row the lease recovery already marked `unknown` (and
    /// reported) stays so, and is never put back to be sent again.
    private func record(_ outcomes: [Outcome]) async throws {
        let retry = settings.retry
        let now = Date()
        let stale = try await postgres.withTransaction { c -> [Int64] in
            // Which rows are still ours, in one statement: locked, so the lease recovery cannot
            // change them under us.
            let ours = Set(try c.query("""
                SELECT d.id FROM deliveries d JOIN unnest($1::bigint[], $2::int[]) AS o(id, attempt) ON d.id = o.id AND d.attempts = o.attempt
                WHERE d.state = 'sending' FOR UPDATE OF d
                """, [PostgresArray(outcomes.map(\.delivery.id)), PostgresArray(outcomes.map(\.delivery.attempt))]).map { try $0.decode(0, as: Int64.self) })
            var stale: [Int64] = []
            for outcome in outcomes {
                let d = outcome.delivery
                guard ours.contains(d.id) else {
                    stale.append(d.id)
                    continue
                }
                guard let failure = outcome.failure else {
                    let ref: String? = if case .success(let r) = outcome.result { r } else { nil }
                    try c.executeLater("""
                        UPDATE deliveries SET state = 'sent', sent_at = clock_timestamp(), lease_until = NULL, provider_ref = $2 WHERE id = $1
                        """, [d.id, ref])
                    try c.executeLater("""
                        UPDATE delivery_attempts SET finished_at = clock_timestamp(), outcome = 'sent' WHERE delivery_id = $1 AND attempt = $2
                        """, [d.id, d.attempt])
                    continue
                }
                try c.executeLater("""
                    UPDATE delivery_attempts SET finished_at = clock_timestamp(), outcome = 'failed', error = $3
                    WHERE delivery_id = $1 AND attempt = $2
                    """, [d.id, d.attempt, failure.reason])
                if !failure.permanent && d.attempt < retry.maxAttempts {
                    let wait = retry.delay(afterAttempt: d.attempt, jitter: .random(in: 0...1))
                    let ms = Int(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
                    try c.executeLater("""
                        UPDATE deliveries SET state = 'pending', lease_until = NULL, last_error = $2,
                               not_before = clock_timestamp() + make_interval(secs => $3::float8 / 1000)
                        WHERE id = $1
                        """, [d.id, failure.reason, ms])
                } else if d.fallbacks > 0 {
                    try Self.fallBack(d.id, reason: failure.reason, on: c)
                } else {
                    try c.executeLater("UPDATE deliveries SET state = 'failed', lease_until = NULL, last_error = $2 WHERE id = $1",
                                       [d.id, failure.reason])
                    try Self.reportFailure(d.id, reason: failure.reason, on: c)
                }
            }
            return stale
        }
        if !stale.isEmpty {
            logger.warning("send outcomes came after their lease: left as recorded (unknown), not sent again",
                           metadata: ["deliveries": "\(stale.map(String.init).joined(separator: ","))"])
        }
        for outcome in outcomes where !stale.contains(outcome.delivery.id) {
            let d = outcome.delivery
            var metadata: Logger.Metadata = [
                "delivery": "\(d.id)", "recipient": "\(d.message.recipient)", "channel": "\(d.message.channel.rawValue)",
                "attempt": "\(d.attempt)",
            ]
            if let failure = outcome.failure {
                failures.increment()
                metadata["error"] = "\(failure.reason)"
                logger.warning("delivery attempt failed", metadata: metadata)
            } else {
                sent.increment()
                latency.recordMilliseconds(Int64(now.timeIntervalSince(d.createdAt) * 1000))
                logger.debug("delivered", metadata: metadata)
            }
        }
    }

    /// The person's next contact, as a delivery of its own (its own dedupe key): this one has
    /// given up (`fell_back`). Also used when an SMS receipt says a sent message never arrived.
    static func fallBack(_ id: Int64, reason: String, on c: PostgresConnection) throws {
        try c.executeLater("UPDATE deliveries SET state = 'fell_back', lease_until = NULL, last_error = $2 WHERE id = $1", [id, reason])
        guard let next = try c.query("""
            SELECT fallbacks->0->>'channel', (SELECT count(*) FROM deliveries o WHERE o.event_id = d.event_id AND o.recipient = d.recipient),
                   event_id, recipient
            FROM deliveries d WHERE id = $1 AND jsonb_array_length(fallbacks) > 0
            """, [id]).first else { return }
        let channel = ChannelKind(rawValue: try next.decode(0, as: String.self)) ?? .console
        let key = DeliveryKey.make(event: try next.decode(2, as: UUID.self), recipient: try next.decode(3, as: String.self),
                                   channel: channel.rawValue, position: try next.decode(1, as: Int.self) + 1)
        try c.executeLater("""
            INSERT INTO deliveries (dedupe_key, event_id, event_type, property, ticket_id, audience, recipient, template, channel,
                                    address, fallbacks, subject, body, urgent, facts)
            SELECT $2, event_id, event_type, property, ticket_id, audience, recipient, template, fallbacks->0->>'channel',
                   fallbacks->0->>'address', fallbacks - 0, subject, body, urgent, facts
            FROM deliveries WHERE id = $1
            ON CONFLICT (dedupe_key) DO NOTHING
            """, [id, key])
        c.signalAfterCommit(Self.channel)
    }

    /// Rows whose sender died mid-send: not sent again; on the record as unknown.
    func recoverInDoubt() async throws {
        try await postgres.withTransaction { c in
            let rows = try c.query("""
                UPDATE deliveries SET state = 'unknown', lease_until = NULL,
                       last_error = 'the sender stopped while sending: it may or may not have arrived, and is not sent again'
                WHERE id IN (SELECT id FROM deliveries WHERE state = 'sending' AND lease_until < clock_timestamp()
                             FOR UPDATE SKIP LOCKED)
                RETURNING id, attempts
                """)
            for row in rows {
                let id: Int64 = try row.decode(0)
                try c.executeLater("""
                    UPDATE delivery_attempts SET finished_at = clock_timestamp(), outcome = 'unknown' WHERE delivery_id = $1 AND attempt = $2
                    """, [id, try row.decode(1, as: Int.self)])
                try Self.reportFailure(id, reason: "outcome unknown: the sender stopped while sending", on: c)
            }
            if !rows.isEmpty { self.logger.warning("deliveries in doubt after a stop", metadata: ["count": "\(rows.count)"]) }
        }
    }

    /// `notification.delivery.failed`: who was not reached, for which event, and why. The address
    /// is left out (a resident's is confidential).
    static func reportFailure(_ id: Int64, reason: String, on c: PostgresConnection) throws {
        try report(id, type: NotificationEvents.deliveryFailed, reason: reason, on: c)
    }

    /// `notification.delivery.delivered`: the SMS gateway's receipt says the phone has it.
    static func reportDelivered(_ id: Int64, on c: PostgresConnection) throws {
        try report(id, type: NotificationEvents.deliveryDelivered, reason: "the SMS gateway reports it delivered", on: c)
    }

    private static func report(_ id: Int64, type: String, reason: String, on c: PostgresConnection) throws {
        guard let row = try c.query("""
            SELECT event_id, event_type, property, ticket_id, recipient, channel, template, attempts, audience, state FROM deliveries WHERE id = $1
            """, [id]).first else { return }
        let eventID: UUID = try row.decode(0)
        let ticketID = try row.decode(3, as: UUID?.self)
        let payload = DeliveryFailedPayload(deliveryID: id, state: try row.decode(9), eventID: eventID, eventType: try row.decode(1),
                                            ticketID: ticketID, recipient: try row.decode(4), audience: try row.decode(8),
                                            channel: try row.decode(5), template: try row.decode(6), attempts: try row.decode(7), reason: reason)
        try Outbox.enqueue(EventEnvelope(type: type, property: try row.decode(2), ticketID: ticketID,
                                         correlationID: ticketID ?? eventID, causationID: eventID, payload: try JSONValue(encoding: payload)),
                           on: c)
    }
}

/// Each limited channel's allowance (`PROPDESK_NOTIFY_LIMITS`), one budget for every replica: a
/// row of `channel_budgets` per channel, or per robot for the group robots (each robot has its
/// own allowance), holding the times of its last sends (``SendWindow``). The claim takes what it
/// may send under the row's lock, on the database's clock. Urgent messages are never held back;
/// they use the allowance like any other.
struct SharedLimits: Sendable {
    let limits: [ChannelKind: ChannelLimit]

    /// A delivery's budget: the channel, or `channel:robot` for the group robots.
    static let keySQL = "(CASE WHEN channel IN ('wecom', 'dingtalk') THEN channel || ':' || address ELSE channel END)"

    private func limit(_ key: String) -> ChannelLimit? {
        ChannelKind(rawValue: String(key.prefix { $0 != ":" })).flatMap { limits[$0] }
    }

    private static let read = """
        SELECT key, array_to_string(recent, ','), extract(epoch FROM clock_timestamp())::float8
        FROM channel_budgets
        """

    private static func window(_ row: PostgresRow, _ limit: ChannelLimit) throws -> (SendWindow, Date) {
        let times = try row.decode(1, as: String.self).split(separator: ",").compactMap { Double($0) }.map { Date(timeIntervalSince1970: $0) }
        return (SendWindow(recent: times, limit: limit), Date(timeIntervalSince1970: try row.decode(2, as: Double.self)))
    }

    /// The budgets with nothing left now, and when the first of them has room again.
    func full(on c: PostgresConnection) throws -> (keys: [String], next: Date?) {
        guard !limits.isEmpty else { return ([], nil) }
        var keys: [String] = []
        var next: Date?
        for row in try c.query(Self.read) {
            let key: String = try row.decode(0)
            guard let limit = limit(key) else { continue }
            let (window, now) = try Self.window(row, limit)
            if let free = window.nextFree(after: now) {
                keys.append(key)
                next = min(next ?? free, free)
            }
        }
        return (keys, next)
    }

    /// Which candidates may go now: all urgent ones, and the others while their budget has room.
    func take(_ candidates: [(id: Int64, channel: ChannelKind, urgent: Bool, key: String)], on c: PostgresConnection) throws -> [Int64] {
        var chosen = candidates.filter { limits[$0.channel] == nil }.map(\.id)
        let limited = Dictionary(grouping: candidates.filter { limits[$0.channel] != nil }, by: \.key)
        // In key order, so two replicas never wait for each other's rows in a cycle.
        for key in limited.keys.sorted() {
            guard let rows = limited[key], let limit = limit(key) else { continue }
            // One statement makes the row if it is new, locks it and reads it.
            guard let row = try c.query("""
                INSERT INTO channel_budgets AS b (key) VALUES ($1) ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
                RETURNING b.key, array_to_string(b.recent, ','), extract(epoch FROM clock_timestamp())::float8
                """, [key]).first else { continue }
            var (window, now) = try Self.window(row, limit)
            let urgent = rows.filter(\.urgent)
            let others = rows.filter { !$0.urgent }
            let granted = window.take(others.count, at: now)
            window.record(urgent.count, at: now)
            chosen += urgent.map(\.id) + others.prefix(granted).map(\.id)
            try c.execute("UPDATE channel_budgets SET recent = $2::float8[] WHERE key = $1",
                          [key, PostgresArray(window.recent.map(\.timeIntervalSince1970))])
        }
        return chosen
    }
}
