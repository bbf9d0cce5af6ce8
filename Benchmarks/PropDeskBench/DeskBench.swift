import AMQP
import ArgumentParser
import Desk
import Domain
import Foundation
import Histogram
import Messaging
import Postgres
import Schema
#if canImport(Glibc)
import Glibc
#endif

/// End to end through the running suite: a ticket created over HTTP at intake, routed by
/// dispatch, its work order arriving on the department's queue. Offered load is open-loop (each
/// request has a scheduled send time; latency counts from then, so a stalled server cannot hide
/// its queueing), one rate after another, with pgbench insert-only measured in the same run.
struct DeskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "desk",
        abstract: "HTTP create → work order on the department queue: latency at offered rates, against pgbench insert-only.",
        discussion: "Needs the suite running (deploy/local/run) and PROPDESK_AMQP_URL / PROPDESK_DATABASE_URL set.")

    @Option(help: "Intake's address, or several (comma-separated: replicas), the HTTP connections spread over them.") var intake = "127.0.0.1:8080"
    @Option(help: "Offered rates, tickets per second, in order.") var rates = "100,250,500,750,1000,1250"
    @Option(help: "Seconds each rate is offered.") var seconds = 10
    @Option(help: "HTTP connections (a thread each).") var connections = 32
    @Option(help: "pgbench clients.") var clients = 4
    @Option(help: "pgbench transactions per client.") var pgbenchTransactions = 10_000
    @Option(help: "Stop stepping up once p99 passes this many milliseconds.") var p99Limit = 100.0

    func run() async throws {
        let pg = try PostgresConfiguration(url: try environment("PROPDESK_DATABASE_URL"))
        let logger = quietLogger()
        let db = try await benchDatabase(pg, size: 2, property: true, logger: logger)
        let property = benchProperty
        let amqp = AMQPConnection(configuration: try AMQPConfiguration(url: try environment("PROPDESK_AMQP_URL"), connectionName: "bench-desk"),
                                  logger: logger)
        try await amqp.connect()
        try await amqp.declare(PropDeskTopology.shared(.standard) + DeskEvents.workQueues(property: property, .standard))
        let queue = DeskEvents.workQueueName(.department(.engineering), property: property)
        let addresses = try intake.split(separator: ",").map { try parseAddress(String($0)) }
        // Every request is signed in, as the desk's are: a bench operator's bearer token.
        let token = try await benchToken(db, intake: String(intake.split(separator: ",")[0]), roles: [.operator_])

        let pgbench = try await pgbenchInsertOnly(pg, on: db, clients: clients, transactions: pgbenchTransactions)
        print(String(format: "pgbench insert-only, %d clients: %.0f tps (the database's ceiling for one-row transactions)", clients, pgbench))
        print("rate/s offered  achieved  p50 ms  p99 ms  max ms  errors  missing")

        var best: Int?
        for offered in rates.split(separator: ",").compactMap({ Int($0) }) {
            // Letters only: a run of digits in the content would be masked as a phone number (P1).
            let run = String((0..<8).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement()! })
            let total = offered * seconds
            let before = CPUUsage.now()
            let result = try await measure(run: String(run), offered: offered, total: total, addresses: addresses,
                                           property: property, queue: queue, amqp: amqp, token: token)
            let cpu = CPUUsage.now().cores(since: before)
            print(String(format: "%14d  %8.0f  %6.1f  %6.1f  %6.1f  %6d  %7d", offered, result.achieved, result.p50, result.p99, result.max,
                         result.errors, result.missing))
            print(String(format: "                cpu: machine %.2f cores, %.1f ms per ticket; ", cpu.machine,
                         cpu.busySeconds * 1000 / Double(total))
                  + cpu.parts.map { String(format: "%@ %.2f", $0.0, $0.1) }.joined(separator: ", "))
            if result.p99 > p99Limit || result.errors > 0 || result.missing > 0 || result.achieved < Double(offered) * 0.95 { break }
            best = offered
        }
        if let best {
            print(String(format: "highest offered rate sustained with p99 ≤ %.0f ms: %d tickets/s (%.2f of pgbench insert-only)", p99Limit, best,
                         Double(best) / pgbench))
        } else {
            print("no rate sustained with p99 ≤ \(p99Limit) ms")
        }
        await amqp.close()
        db.shutdown()
    }

    struct Result {
        var achieved: Double
        var p50: Double
        var p99: Double
        var max: Double
        var errors: Int
        var missing: Int
    }

    func measure(run: String, offered: Int, total: Int, addresses: [(String, Int)], property: String, queue: String,
                 amqp: AMQPConnection, token: String) async throws -> Result {
        let state = LoadState(total: total)
        let consumer = try await amqp.consume(queue: queue, prefetch: 2000)
        let marker = "bench \(run) #"
        let reader = Task {
            for await delivery in consumer {
                let arrived = DispatchTime.now().uptimeNanoseconds
                delivery.ack()
                guard let payload = try? EventEnvelope.decode(delivery.body).decodePayload(WorkOrderEventPayload.self),
                      let range = payload.summary.range(of: marker), let i = Int(payload.summary[range.upperBound...]) else { continue }
                if state.arrived(i, at: arrived) { break }
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds + 200_000_000
        let interval = 1_000_000_000 / UInt64(offered)
        let threads = (0..<connections).map { k in
            let (host, port) = addresses[k % addresses.count]
            return Thread {
                var connection: HTTPConnection?
                while let i = state.next() {
                    let due = start + UInt64(i) * interval
                    let now = DispatchTime.now().uptimeNanoseconds
                    if due > now { usleep(UInt32((due - now) / 1000)) }
                    state.scheduled(i, at: due)
                    let body = #"{"property":"\#(property)","kind":"repair","category":"plumbing","building":"1号楼","unit":"101","#
                        + #""caller_phone":"13800000000","content":"\#(marker)\#(i)","taken_by":"bench"}"#
                    do {
                        if connection == nil { connection = try HTTPConnection(host: host, port: port, token: token) }
                        let status = try connection!.post("/tickets", body: body)
                        if status != 201 { state.failed() }
                    } catch {
                        connection = nil
                        state.failed()
                    }
                }
            }
        }
        threads.forEach { $0.start() }
        let deadline = ContinuousClock.now + .seconds(seconds + 60)
        while ContinuousClock.now < deadline, !state.complete { try await Task.sleep(for: .milliseconds(100)) }
        await consumer.cancel()
        reader.cancel()
        _ = await reader.result
        return state.result(start: start)
    }

    func parseAddress(_ s: String) throws -> (String, Int) {
        let parts = s.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw BenchError("--intake is host:port") }
        return (String(parts[0]), port)
    }
}

/// Shared between the sending threads and the queue reader.
final class LoadState: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private var issued = 0
    private var scheduledAt: [UInt64]
    private var arrivedAt: [UInt64]
    private var arrivals = 0
    private var errors = 0

    init(total: Int) {
        self.total = total
        scheduledAt = Array(repeating: 0, count: total)
        arrivedAt = Array(repeating: 0, count: total)
    }

    func next() -> Int? {
        lock.withLock {
            guard issued < total else { return nil }
            issued += 1
            return issued - 1
        }
    }

    func scheduled(_ i: Int, at t: UInt64) { lock.withLock { scheduledAt[i] = t } }
    func failed() { lock.withLock { errors += 1 } }

    /// Records an arrival; true once every ticket has arrived.
    func arrived(_ i: Int, at t: UInt64) -> Bool {
        lock.withLock {
            guard i < total, arrivedAt[i] == 0 else { return arrivals == total }
            arrivedAt[i] = t
            arrivals += 1
            return arrivals == total
        }
    }

    var complete: Bool { lock.withLock { arrivals + errors >= total } }

    func result(start: UInt64) -> DeskBench.Result {
        lock.withLock {
            var h = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
            var last = start
            for i in 0..<total where arrivedAt[i] > 0 && scheduledAt[i] > 0 {
                _ = h.record((arrivedAt[i] &- scheduledAt[i]) / 1000)
                last = Swift.max(last, arrivedAt[i])
            }
            let seconds = Double(last - start) / 1e9
            return DeskBench.Result(achieved: seconds > 0 ? Double(arrivals) / seconds : 0,
                                    p50: Double(h.valueAtPercentile(50)) / 1000, p99: Double(h.valueAtPercentile(99)) / 1000,
                                    max: Double(h.max) / 1000, errors: errors, missing: total - arrivals - errors)
        }
    }
}

/// A blocking HTTP/1.1 keep-alive connection: enough to post JSON and read the status.
final class HTTPConnection {
    private let fd: Int32
    private let host: String
    /// `Authorization: Bearer …`, or nothing.
    private let authorization: String
    private var buffer = [UInt8]()

    init(host: String, port: Int, token: String?) throws {
        self.host = host
        authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            // deinit closes fd.
            throw BenchError("cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Sends the request and returns the response status (the body is read and dropped).
    func post(_ path: String, body: String) throws -> Int {
        let bodyBytes = Array(body.utf8)
        return try send(Array("POST \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\n\(authorization)Content-Length: \(bodyBytes.count)\r\n\r\n".utf8) + bodyBytes)
    }

    func get(_ path: String) throws -> Int {
        try send(Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(authorization)\r\n".utf8))
    }

    private func send(_ request: [UInt8]) throws -> Int {
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw BenchError("write failed") }
            sent += n
        }
        // Headers, then Content-Length bytes of body.
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = find([13, 10, 13, 10])
            if headerEnd == nil { try fill() }
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let needed = headerEnd! + 4 + length
        while buffer.count < needed { try fill() }
        buffer.removeFirst(needed)
        return status
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw BenchError("connection closed") }
        buffer += chunk[..<n]
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for i in 0...(buffer.count - pattern.count) where buffer[i] == pattern[0] && Array(buffer[i..<i + pattern.count]) == pattern {
            return i
        }
        return nil
    }
}
