import AMQP
import ArgumentParser
import Contracts
import DepartmentWorker
import Desk
import Domain
import Foundation
import ServiceKit
import Logging

/// `propdesk-worker`: a department worker at the command line. `take` takes work orders from the
/// department's queue; the other commands are the steps on a work order the worker holds. Every
/// step goes through intake (same rules and validation as the desk).
///
/// Environment: `PROPDESK_AMQP_URL` or `PROPDESK_AMQP_URL_FILE` (for `take`: the workers' broker
/// user), `PROPDESK_INTAKE_URL` (default `http://127.0.0.1:8080`), `PROPDESK_TOKEN_FILE`.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propdesk-worker",
        abstract: "Take and work your department's work orders.",
        subcommands: [Login.self, Take.self, Show.self, OnSite.self, Note.self, Resolve.self, Release.self, Transfer.self])
}

/// Where the worker's token is kept: `--token-file`, else `PROPDESK_TOKEN_FILE`, else
/// `~/.propdesk/token`. `propdesk-worker login` writes it (mode 0600).
struct Identity: ParsableArguments {
    @Option(help: "The file holding your token (from propdesk-worker login).") var tokenFile: String?

    var path: String {
        tokenFile ?? ProcessInfo.processInfo.environment["PROPDESK_TOKEN_FILE"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".propdesk/token")
    }

    static func baseURL() throws -> URL {
        let raw = ProcessInfo.processInfo.environment["PROPDESK_INTAKE_URL"] ?? "http://127.0.0.1:8080"
        guard let url = URL(string: raw), url.scheme == "http" || url.scheme == "https" else {
            throw ValidationError("PROPDESK_INTAKE_URL is not an http(s) URL: \(raw)")
        }
        return url
    }

    func intake() throws -> IntakeClient {
        guard let data = FileManager.default.contents(atPath: path),
              let token = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw ValidationError("no token in \(path): sign in first with propdesk-worker login --login <you>")
        }
        return IntakeClient(baseURL: try Self.baseURL(), token: token)
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in and keep a token for the other commands (the password is read from standard input or a file).")
    @Option(help: "Your sign-in name.") var login: String
    @Option(help: "Read the password from this file instead of standard input.") var passwordFile: String?
    @Option(help: "The 6-digit code from your authenticator app, if your role needs one.") var code: String?
    @OptionGroup var identity: Identity

    func run() async throws {
        let password: String?
        if let passwordFile {
            password = FileManager.default.contents(atPath: passwordFile).flatMap { String(data: $0, encoding: .utf8) }?
                .split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)
        } else {
            print("password: ", terminator: "")
            fflush(nil)
            password = readLine(strippingNewline: true)
        }
        guard let password, !password.isEmpty else { throw ValidationError("no password given") }
        let (token, expires) = try await IntakeClient.signIn(baseURL: try Identity.baseURL(), login: login, password: password, code: code)
        let path = identity.path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(path)")
        }
        print("signed in as \(login); token in \(path) until \(expires.formatted(.iso8601))")
        fflush(nil)
    }
}

struct Take: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take work orders from your department's queue (competing with the other workers on it).")

    @Option(help: "Your department (\(WorkQueue.all.map(\.name).joined(separator: ", "))).") var department: String
    @Option(help: "The property code, e.g. sunrise-garden.") var property: String
    @OptionGroup var identity: Identity
    @Option(help: "Stop after taking this many (default 1); 0 keeps taking until interrupted.") var count: Int = 1
    @Flag(help: "Ask before taking each order: y takes it, n puts it back, q puts it back and quits.") var confirm = false

    func run() async throws {
        guard let queue = WorkQueue(name: department) else {
            throw ValidationError("--department must be one of \(WorkQueue.all.map(\.name).joined(separator: ", "))")
        }
        guard NewTicket.isPropertyCode(property) else { throw ValidationError("--property is a code like sunrise-garden") }
        // The token decides who is working: only for their own departments and properties.
        let intake = try identity.intake()
        let me = try await intake.me()
        guard me.properties.contains(property) else { throw ValidationError("\(me.login) does not serve \(property)") }
        if me.scope.departments != nil, !me.departments.contains(queue.department) {
            throw ValidationError("\(me.login) works for \(me.departments.map(\.rawValue).joined(separator: ", ")), not \(queue.department.rawValue)")
        }
        var reader = Reader(environment: ProcessInfo.processInfo.environment)
        guard let rawURL = reader.secret("PROPDESK_AMQP_URL", required: true) else {
            throw ValidationError(reader.problems.joined(separator: "; ") + " (amqp://user:pass@host:port/vhost)")
        }
        let configuration = try AMQPConfiguration(url: rawURL)
        // The queues are declared exactly as the services declare them.
        let queues = try Settings.queueArguments(environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "propdesk.worker")
        let amqp = AMQPConnection(configuration: configuration, logger: logger)
        try await amqp.connect()
        let worker = DepartmentWorker(property: property, queue: queue, amqp: amqp, intake: intake, logger: logger)
        let confirm = self.confirm
        let waiting = "waiting for work on \(worker.queueName) as \(me.name)"
        try await worker.take(count: count == 0 ? nil : count, queues: queues, waiting: { print(waiting); fflush(nil) }, decide: { order in
            Self.show(order)
            guard confirm else { return .accept }
            print("take it? [y/n/q] ", terminator: "")
            fflush(nil)
            switch readLine()?.lowercased() {
            case "y", "yes": return .accept
            case "n", "no": return .putBack
            default: return .stop
            }
        }, report: { outcome in
            switch outcome {
            case .accepted(let order):
                print("TAKEN \(order.id.uuidString.lowercased()) (\(order.ticket?.number ?? "")) — you own it now")
            case .alreadyTaken(let order, let by, let status):
                print("skipped \(order.ticketNumber): already \(status.rawValue)\(by.map { " by \($0)" } ?? "")")
            case .putBack(let order):
                print("put back \(order.ticketNumber)")
            case .unreadable(let reason):
                print("dead-lettered an unreadable message: \(reason)")
            }
            fflush(nil)
        })
        await amqp.close()
    }

    static func show(_ o: WorkOrderEventPayload) {
        print("""
            ── \(o.ticketNumber) · \(o.kind.rawValue)\(o.emergencyType.map { " (\($0.rawValue))" } ?? "") · priority \(o.priority.rawValue)
               where: \(o.place ?? "—")
               what:  \(o.summary)
               order: \(o.workOrderID.uuidString.lowercased()) for \(o.queue.name)\(o.ruleID.map { " (rule \($0))" } ?? "")
            """)
        fflush(nil)
    }
}

/// The steps on one work order.
struct WorkOrderArgument: ParsableArguments {
    @Argument(help: "The work order id.") var workOrder: String
    @OptionGroup var identity: Identity

    var id: UUID {
        get throws {
            guard let id = UUID(uuidString: workOrder) else { throw ValidationError("\(workOrder) is not a work order id") }
            return id
        }
    }

    func print(_ order: WorkOrderView) {
        Swift.print("\(order.id.uuidString.lowercased()) \(order.queue.name): \(order.status.rawValue)"
                    + (order.assignee.map { " (\($0))" } ?? "")
                    + (order.ticket.map { " — ticket \($0.number) \($0.status.rawValue)" } ?? ""))
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a work order and its ticket's timeline.")
    @OptionGroup var order: WorkOrderArgument

    func run() async throws {
        let view = try await order.identity.intake().workOrder(try order.id)
        order.print(view)
        for entry in view.ticket?.timeline ?? [] {
            Swift.print("  \(entry.sequence). \(entry.at.formatted(.iso8601)) \(entry.type) by \(entry.actor)"
                        + (entry.detail["note"].flatMap { if case .string(let s) = $0 { " — \(s)" } else { nil } } ?? ""))
        }
    }
}

struct OnSite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "on-site", abstract: "You have arrived.")
    @OptionGroup var order: WorkOrderArgument
    func run() async throws { order.print(try await order.identity.intake().step(.onSite, workOrder: try order.id)) }
}

struct Note: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add a progress note (R6: tell the customer what is happening).")
    @OptionGroup var order: WorkOrderArgument
    @Option(help: "The note.") var text: String
    func run() async throws { order.print(try await order.identity.intake().step(.note, workOrder: try order.id, note: text)) }
}

struct Resolve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The work is done; say what was done.")
    @OptionGroup var order: WorkOrderArgument
    @Option(help: "What was done.") var outcome: String
    func run() async throws { order.print(try await order.identity.intake().step(.resolve, workOrder: try order.id, outcome: outcome)) }
}

struct Release: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Give the order back to the department's queue.")
    @OptionGroup var order: WorkOrderArgument
    @Option(help: "Why.") var reason: String
    func run() async throws { order.print(try await order.identity.intake().step(.release, workOrder: try order.id, reason: reason)) }
}

struct Transfer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Hand the order to another department.")
    @OptionGroup var order: WorkOrderArgument
    @Option(help: "The department to hand it to.") var to: String
    @Option(help: "Why.") var reason: String
    func run() async throws {
        guard let queue = WorkQueue(name: to) else {
            throw ValidationError("--to must be one of \(WorkQueue.all.map(\.name).joined(separator: ", "))")
        }
        order.print(try await order.identity.intake().step(.transfer, workOrder: try order.id, reason: reason, to: queue))
    }
}
