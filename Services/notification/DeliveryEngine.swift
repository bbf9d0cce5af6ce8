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
/// Non-urgent rows respect each channel's rate (a token bucket per channel and process); urgent
/// ones never wait for it.
final class DeliveryEngine: Service, Sendable {
    static let channel = "propdesk_deliveries"

    private let postgres: PostgresClient
    private let channels: Channels
    private let settings: NotifySettings
    private let limiter: RateLimiter
    private let logger: Logger
    private let lease: Duration
    private let sent = Counter(label: "propdesk_deliveries_sent_total")
    private let failures = Counter(label: "propdesk_delivery_failures_total")
    private let latency = Timer(label: "propdesk_delivery_latency")

    init(postgres: PostgresClient, channels: Channels, settings: NotifySettings, logger: Logger) {
        self.postgres = postgres
        self.channels = channels
        self.settings = settings
        self.limiter = RateLimiter(rates: settings.rates)
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
            let pause = try await self.untilNextDue().pause(atMost: .seconds(5))
            return self.limiter.nextToken().map { min(pause, $0) } ?? pause
        }
        await channels.shutdown()
        logger.info("delivery engine stopped")
    }

    func untilNextDue() async throws -> DatabaseInstant {
        try await postgres.nextInstant("SELECT min(not_before), clock_timestamp() FROM deliveries WHERE state = 'pending'")
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
        let limiter = limiter
        let leaseMs = Int(lease.components.seconds * 1000)
        // Channels out of tokens are left out of the claim itself: a backlog on a slow robot at
        // the head of the queue never fills the batch and starves the channels behind it.
        let exhausted = limiter.exhausted().map(\.rawValue)
        let claimed = try await postgres.withTransaction { c -> [Claimed] in
            let candidates = try c.query("""
                SELECT id, channel, urgent FROM deliveries
                WHERE state = 'pending' AND not_before <= (SELECT clock_timestamp()) AND (urgent OR channel <> ALL($2::text[]))
                ORDER BY urgent DESC, not_before, id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [limit, PostgresArray(exhausted)])
            var chosen: [Int64] = []
            for row in candidates {
                let urgent: Bool = try row.decode(2)
                let channel = ChannelKind(rawValue: try row.decode(1)) ?? .console
                if urgent || limiter.take(channel) { chosen.append(try row.decode(0)) }
            }
            guard !chosen.isEmpty else { return [] }
            let rows = try c.query("""
                UPDATE deliveries SET state = 'sending', attempts = attempts + 1,
                       lease_until = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
                WHERE id = ANY($1::bigint[])
                RETURNING id, attempts, dedupe_key, event_id, event_type, ticket_id, recipient, channel, address, subject, body, urgent,
                          jsonb_array_length(fallbacks), created_at, audience
                """, [PostgresArray(chosen), leaseMs])
            try c.executeLater("""
                INSERT INTO delivery_attempts (delivery_id, attempt, started_at)
                SELECT id, attempts, clock_timestamp() FROM deliveries WHERE id = ANY($1::bigint[])
                """, [PostgresArray(chosen)])
            return try rows.map { row in
                Claimed(id: try row.decode(0), attempt: try row.decode(1),
                        message: OutgoingMessage(
                            dedupeKey: try row.decode(2), eventID: try row.decode(3), eventType: try row.decode(4),
                            ticketID: try row.decode(5, as: UUID?.self), recipient: try row.decode(6),
                            channel: ChannelKind(rawValue: try row.decode(7)) ?? .console, address: try row.decode(8),
                            subject: try row.decode(9), body: try row.decode(10), urgent: try row.decode(11)),
                        fallbacks: try row.decode(12), createdAt: try row.decode(13), audience: try row.decode(14))
            }
        }
        guard !claimed.isEmpty else { return 0 }
        let channels = channels
        let outcomes = await withTaskGroup(of: (Claimed, SendFailure?).self) { group in
            for d in claimed {
                group.addTask {
                    do throws(SendFailure) {
                        try await channels.send(d.message)
                        return (d, nil)
                    } catch {
                        return (d, error)
                    }
                }
            }
            var all: [(Claimed, SendFailure?)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        // A send cut off by cancellation (a stop past its grace period) may or may not have gone
        // out: its row stays `sending` and becomes `unknown` when the lease runs out, never retried.
        let finished = Task.isCancelled ? outcomes.filter { $0.1 == nil } : outcomes
        try await record(finished)
        return claimed.count
    }

    /// Writes each send's outcome. Every change is guarded by the state and attempt it expects
    /// (`sending`, this attempt): a row the lease recovery already marked `unknown` (and
    /// reported) stays so, and is never put back to be sent again.
    private func record(_ outcomes: [(Claimed, SendFailure?)]) async throws {
        let retry = settings.retry
        let now = Date()
        let stale = try await postgres.withTransaction { c -> [Int64] in
            // Which rows are still ours, in one statement: locked, so the lease recovery cannot
            // change them under us.
            let ours = Set(try c.query("""
                SELECT d.id FROM deliveries d JOIN unnest($1::bigint[], $2::int[]) AS o(id, attempt) ON d.id = o.id AND d.attempts = o.attempt
                WHERE d.state = 'sending' FOR UPDATE OF d
                """, [PostgresArray(outcomes.map(\.0.id)), PostgresArray(outcomes.map(\.0.attempt))]).map { try $0.decode(0, as: Int64.self) })
            var stale: [Int64] = []
            for (d, failure) in outcomes {
                guard ours.contains(d.id) else {
                    stale.append(d.id)
                    continue
                }
                guard let failure else {
                    try c.executeLater("UPDATE deliveries SET state = 'sent', sent_at = clock_timestamp(), lease_until = NULL WHERE id = $1", [d.id])
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
                    // The person's next contact, as a delivery of its own (its own dedupe key).
                    try c.executeLater("""
                        UPDATE deliveries SET state = 'fell_back', lease_until = NULL, last_error = $2 WHERE id = $1
                        """, [d.id, failure.reason])
                    let next = try c.query("""
                        SELECT fallbacks->0->>'channel', (SELECT count(*) FROM deliveries o WHERE o.event_id = d.event_id AND o.recipient = d.recipient)
                        FROM deliveries d WHERE id = $1
                        """, [d.id])[0]
                    let channel = ChannelKind(rawValue: try next.decode(0, as: String.self)) ?? .console
                    let key = DeliveryKey.make(event: d.message.eventID, recipient: d.message.recipient, channel: channel.rawValue,
                                               position: try next.decode(1, as: Int.self) + 1)
                    try c.executeLater("""
                        INSERT INTO deliveries (dedupe_key, event_id, event_type, property, ticket_id, audience, recipient, template, channel,
                                                address, fallbacks, subject, body, urgent)
                        SELECT $2, event_id, event_type, property, ticket_id, audience, recipient, template, fallbacks->0->>'channel',
                               fallbacks->0->>'address', fallbacks - 0, subject, body, urgent
                        FROM deliveries WHERE id = $1
                        ON CONFLICT (dedupe_key) DO NOTHING
                        """, [d.id, key])
                    c.signalAfterCommit(Self.channel)
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
        for (d, failure) in outcomes where !stale.contains(d.id) {
            var metadata: Logger.Metadata = [
                "delivery": "\(d.id)", "recipient": "\(d.message.recipient)", "channel": "\(d.message.channel.rawValue)",
                "attempt": "\(d.attempt)",
            ]
            if let failure {
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
        guard let row = try c.query("""
            SELECT event_id, event_type, property, ticket_id, recipient, channel, template, attempts, audience FROM deliveries WHERE id = $1
            """, [id]).first else { return }
        let eventID: UUID = try row.decode(0)
        let ticketID = try row.decode(3, as: UUID?.self)
        let payload = DeliveryFailedPayload(deliveryID: id, eventID: eventID, eventType: try row.decode(1), ticketID: ticketID,
                                            recipient: try row.decode(4), audience: try row.decode(8), channel: try row.decode(5),
                                            template: try row.decode(6), attempts: try row.decode(7), reason: reason)
        try Outbox.enqueue(EventEnvelope(type: NotificationEvents.deliveryFailed, property: try row.decode(2), ticketID: ticketID,
                                         correlationID: ticketID ?? eventID, causationID: eventID, payload: try JSONValue(encoding: payload)),
                           on: c)
    }
}

/// A token bucket per channel: `rate` messages per second, bursts up to one second's worth (at
/// least one message).
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant
        /// A message was held back: the engine should look again when a token is back.
        var waiting = false
    }
    private let rates: [ChannelKind: Double]
    private let buckets: Mutex<[ChannelKind: Bucket]>

    init(rates: [ChannelKind: Double]) {
        self.rates = rates
        buckets = Mutex(rates.mapValues { Bucket(tokens: max(1, $0), at: .now) })
    }

    /// Takes a token if the channel has one (always true for a channel without a limit).
    func take(_ channel: ChannelKind) -> Bool {
        guard rates[channel] != nil else { return true }
        return refilled(channel) { b in
            guard b.tokens >= 1 else { return false }
            b.tokens -= 1
            return true
        }
    }

    /// The limited channels with no token now: the claim leaves their rows for later (and the
    /// engine looks again when a token is back, ``nextToken()``).
    func exhausted() -> [ChannelKind] {
        rates.keys.sorted { $0.rawValue < $1.rawValue }.filter { channel in refilled(channel) { $0.tokens < 1 } }
    }

    /// Runs `body` on the channel's bucket after adding the tokens earned since it was last
    /// looked at; a bucket found empty is marked as holding a message back.
    private func refilled(_ channel: ChannelKind, _ body: (inout Bucket) -> Bool) -> Bool {
        let rate = rates[channel]!
        return buckets.withLock { all in
            var b = all[channel]!
            let now = ContinuousClock.now
            let elapsed = b.at.duration(to: now)
            b.tokens = min(max(1, rate), b.tokens + rate * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            b.at = now
            b.waiting = b.tokens < 1
            let result = body(&b)
            all[channel] = b
            return result
        }
    }

    /// How long until a channel that held a message back has a token again; nil if none did.
    func nextToken() -> Duration? {
        buckets.withLock { all in
            all.compactMap { channel, b -> Double? in
                b.waiting ? max(0, 1 - b.tokens) / rates[channel]! : nil
            }.max().map { .milliseconds(Int64($0 * 1000) + 1) }
        }
    }
}
