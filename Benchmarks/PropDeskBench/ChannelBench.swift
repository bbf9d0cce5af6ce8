import ArgumentParser
import Foundation
import LocalReceivers
import Postgres
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The channels of issue 19, each beside a baseline measured in the same run:
/// - e-mail over STARTTLS with AUTH to a local aiosmtpd server (Tests/Receivers/smtp_tls_server.py),
///   sessions reused, beside Python's smtplib sending as fast as it can over one TLS connection to
///   the same server;
/// - the shared limiter's cost: webhook deliveries with no limit, and limited to 1000/s (the
///   largest window, so the costliest claim), the notification process's CPU per message.
/// Deliveries are written straight into `deliveries` (the sender's work only, not the handler's).
struct ChannelBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channels",
        abstract: "E-mail over TLS with connection reuse, and the cost of the limits shared across replicas.",
        discussion: "Needs PROPDESK_DATABASE_URL / PROPDESK_AMQP_URL, python3 with aiosmtpd, openssl, and no notification service on 8083.")

    @Option(help: "E-mails for the TLS run.") var mails = 2_000
    @Option(help: "Webhook deliveries for each limiter run.") var webhooks = 3_000
    @Option(help: "pgbench transactions per client, for the baseline.") var pgbenchTransactions = 5_000

    static let smtpPort = 28_391
    static let receiverPort = 28_395
    static let servicePort = 28_396

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let db = try await benchDatabase(pg, size: 2, property: true, logger: quietLogger())
        let pgbench = try await pgbenchInsertOnly(pg, on: db, clients: 4, transactions: pgbenchTransactions)
        print(String(format: "pgbench insert-only, 4 clients: %.0f tps (the machine's speed this run)", pgbench))
        try await tls(db)
        try await limiter(db)
        db.shutdown()
    }

    // MARK: e-mail over TLS

    func tls(_ db: PostgresClient) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-bench-tls-\(UUID().uuidString.prefix(8))")
        let receivers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Tests/Receivers")
        try shell("sh \(receivers.appendingPathComponent("make-test-certificates").path) \(dir.path)")
        let script = receivers.appendingPathComponent("smtp_tls_server.py").path
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", script, "\(Self.smtpPort)", dir.appendingPathComponent("mail").path, "starttls",
                            dir.appendingPathComponent("server.pem").path, dir.appendingPathComponent("server.key").path,
                            "--user", "bench", "--password", "bench"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }
        try await Task.sleep(for: .seconds(2))

        // Baseline: smtplib, one TLS connection, one message after another.
        let python = """
            import smtplib, ssl, time
            ctx = ssl.create_default_context(cafile="\(dir.path)/ca.pem")
            s = smtplib.SMTP("127.0.0.1", \(Self.smtpPort)); s.starttls(context=ctx); s.login("bench", "bench")
            t = time.time()
            for i in range(\(mails)):
                s.sendmail("desk@example.com", "zhou@example.com", "Subject: bench\\r\\n\\r\\nbody %d" % i)
            print(\(mails) / (time.time() - t))
            s.quit()
            """
        let baseline = Double(try shell("python3 -c '\(python.replacingOccurrences(of: "'", with: "'\\''"))'").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        print(String(format: "smtplib over one STARTTLS connection to the same server: %.0f messages/s (the baseline)", baseline))

        try await clear(db)
        try await insert(db, count: mails, channel: "email", address: "zhou@example.com")
        let cpu = CPUUsage.now()
        let (rate, cores) = try await drain(db, count: mails, environment: [
            "PROPDESK_SMTP_URL": "smtp+starttls://bench:bench@127.0.0.1:\(Self.smtpPort)",
            "PROPDESK_SMTP_CA_FILE": dir.appendingPathComponent("ca.pem").path, "PROPDESK_NOTIFY_LIMITS": "email=none",
        ], since: cpu)
        let events = (try? String(contentsOf: dir.appendingPathComponent("mail/events.log"), encoding: .utf8)) ?? ""
        let connections = Set(events.split(separator: "\n").filter { $0.hasPrefix("DATA ") }.compactMap { $0.split(separator: "peer=").last }).count
        print(String(format: "PropDesk, %d e-mails over STARTTLS with AUTH: %.0f messages/s (%.2f of smtplib), over %d connections; notification %.2f cores",
                     mails, rate, rate / max(baseline, 1), connections, cores))
    }

    // MARK: the shared limiter

    func limiter(_ db: PostgresClient) async throws {
        let receiver = WebhookReceiver(port: Self.receiverPort)
        try await receiver.start()
        defer { receiver.stop() }
        var results: [(String, Double, Double)] = []
        for (name, limits) in [("no limit", "webhook=none"), ("limited to 1000/s (the limit binds)", "webhook=1000/s"),
                               ("no limit, again", "webhook=none"), ("limited, again", "webhook=1000/s")] {
            try await clear(db)
            try await db.execute("DELETE FROM channel_budgets")
            try await insert(db, count: webhooks, channel: "webhook", address: "bench")
            let cpu = CPUUsage.now()
            let started = ContinuousClock.now
            let (rate, cores) = try await drain(db, count: webhooks, environment: [
                "PROPDESK_WEBHOOKS": "bench=http://127.0.0.1:\(Self.receiverPort)/bench", "PROPDESK_NOTIFY_LIMITS": limits,
            ], since: cpu)
            let seconds = Double((ContinuousClock.now - started).components.seconds)
            let msPerMessage = cores * seconds * 1000 / Double(webhooks)
            results.append((name, rate, msPerMessage))
            print(String(format: "webhooks, %@: %.0f/s, notification %.3f ms CPU per message", name, rate, msPerMessage))
        }
        let plain = (results[0].2 + results[2].2) / 2
        let limited = (results[1].2 + results[3].2) / 2
        print(String(format: "the shared limiter costs %.3f ms CPU per message in the notification process (%.0f%% more)", limited - plain,
                     (limited / plain - 1) * 100))
    }

    // MARK: helpers

    func clear(_ db: PostgresClient) async throws {
        try await db.execute("DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE property = $1)", [benchProperty])
        try await db.execute("DELETE FROM deliveries WHERE property = $1", [benchProperty])
    }

    func insert(_ db: PostgresClient, count: Int, channel: String, address: String) async throws {
        try await db.execute("""
            INSERT INTO deliveries (dedupe_key, event_id, event_type, property, audience, recipient, template, channel, address, subject, body)
            SELECT 'bench/' || gen_random_uuid(), gen_random_uuid(), 'escalation.bench.breached', $1, 'staff', 'Bench', 'escalation', $2, $3,
                   'bench', 'body ' || n
            FROM generate_series(1, $4) AS n
            """, [benchProperty, channel, address, count])
    }

    /// Starts a notification process, waits until every bench delivery is sent, stops it.
    /// Returns messages per second from its start to the last send, and its cores over that time.
    func drain(_ db: PostgresClient, count: Int, environment extra: [String: String], since cpu: CPUUsage) async throws -> (Double, Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("notification")
        process.arguments = ["serve"]
        var env = ProcessInfo.processInfo.environment
        env["PROPDESK_HTTP_PORT"] = "\(Self.servicePort)"
        env["PROPDESK_LOG_LEVEL"] = "error"
        env["PROPDESK_NOTIFY_CONCURRENCY"] = "32"
        env["PROPDESK_QUIET_HOURS"] = "00:00-00:00"
        env.merge(extra) { $1 }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let deadline = ContinuousClock.now + .seconds(600)
        while ContinuousClock.now < deadline {
            let settled = try await db.query("""
                SELECT count(*) FILTER (WHERE state NOT IN ('pending', 'sending')), count(*) FILTER (WHERE state = 'sent')
                FROM deliveries WHERE property = $1
                """, [benchProperty]).first
            let done = try settled?.decode(0, as: Int.self) ?? 0
            if done >= count {
                let sent = try settled?.decode(1, as: Int.self) ?? 0
                if sent < count { print("warning: \(count - sent) of \(count) deliveries were not sent") }
                let elapsed = Double((ContinuousClock.now - started).components.seconds) + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
                let cores = CPUUsage.now().cores(since: cpu).parts.first { $0.0 == "notification" }?.1 ?? 0
                return (Double(count) / elapsed, cores)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("the deliveries were not all sent within 10 minutes")
    }

    @discardableResult
    func shell(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("failed: \(command)") }
        return String(decoding: data, as: UTF8.self)
    }
}
