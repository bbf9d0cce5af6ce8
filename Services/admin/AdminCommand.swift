import ArgumentParser
import Domain
import Foundation
import Identity
import Postgres
import ServiceKit

/// `propdesk-admin`: staff accounts from the command line — the first administrator, the demo
/// accounts, role changes and disabling, each an audit row. It connects with
/// `PROPDESK_DATABASE_URL` (or `PROPDESK_DATABASE_URL_FILE`) as a role that may write `staff`.
/// Passwords are read from a file or standard input, never from the command line.
@main
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propdesk-admin", abstract: "Manage PropDesk staff accounts.",
        subcommands: [CreateStaff.self, UpdateStaff.self, EnrolSecondFactor.self, SecondFactorCode.self])
}

struct Connection: ParsableArguments {
    @Option(help: "Who is doing this, for the audit log (default: $USER).")
    var actor: String = ProcessInfo.processInfo.environment["USER"] ?? "admin"

    func database() async throws -> PostgresClient {
        var reader = Reader(environment: ProcessInfo.processInfo.environment)
        let url = reader.secret("PROPDESK_DATABASE_URL", required: true)
        if !reader.problems.isEmpty { throw ValidationError(reader.problems.joined(separator: "; ")) }
        let client = PostgresClient(configuration: try PostgresConfiguration(url: url!, applicationName: "propdesk-admin"), size: 1)
        try await client.checkConnection()
        return client
    }
}

func parseRoles(_ raw: [String]) throws -> [StaffRole] {
    try raw.flatMap { $0.split(separator: ",") }.map { name in
        guard let role = StaffRole(rawValue: String(name)) else {
            throw ValidationError("unknown role \(name): one of \(StaffRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}

func parseDepartments(_ raw: [String]) throws -> [Department] {
    try raw.flatMap { $0.split(separator: ",") }.map { name in
        guard let d = Department(rawValue: String(name)) else {
            throw ValidationError("unknown department \(name): one of \(Department.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return d
    }
}

struct CreateStaff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a staff account. Prints the second-factor enrolment address when the roles need one.")

    @Option(help: "Sign-in name: 2–40 of a–z, 0–9, . _ -") var login: String
    @Option(help: "Full name, as timelines show it.") var name: String
    @Option(name: .customLong("role"), help: "A role (repeat, or comma-separate).") var roles: [String]
    @Option(name: .customLong("department"), help: "A department (repeat, or comma-separate); needed for department roles.")
    var departments: [String] = []
    @Option(name: .customLong("property"), help: "A property code the account serves (repeat, or comma-separate).") var properties: [String]
    @Option(help: "Read the password from this file (first line); - reads standard input.") var passwordFile: String
    @Option(help: "bcrypt cost (default PROPDESK_BCRYPT_COST or 12).") var cost: Int?
    @OptionGroup var connection: Connection

    func run() async throws {
        let new = StaffStore.NewStaff(login: login, name: name, roles: try parseRoles(roles), departments: try parseDepartments(departments),
                                      properties: properties.flatMap { $0.split(separator: ",").map(String.init) })
        if !new.problems.isEmpty { throw ValidationError(new.problems.joined(separator: "; ")) }
        let password = try readPassword(passwordFile)
        if let problem = Passwords.problem(password) { throw ValidationError(problem) }
        let cost = self.cost ?? Int(ProcessInfo.processInfo.environment["PROPDESK_BCRYPT_COST"] ?? "") ?? 12
        guard (4...16).contains(cost) else { throw ValidationError("--cost is from 4 to 16") }
        let hash = try await Passwords.hash(password, cost: cost)
        let secret = new.roles.contains(where: AccessPolicy.needsSecondFactor) ? SecondFactor.newSecret() : nil
        let db = try await connection.database()
        defer { db.shutdown() }
        let actor = connection.actor
        do {
            try await db.withTransaction { c in
                let unknown = try c.query("SELECT p FROM unnest($1::text[]) p WHERE p NOT IN (SELECT code FROM properties)",
                                          [PostgresArray(new.properties)]).map { try $0.decode(0, as: String.self) }
                if !unknown.isEmpty { throw ValidationError("unknown properties: \(unknown.joined(separator: ", "))") }
                try StaffStore.create(new, passwordHash: hash, totpSecret: secret, by: actor, on: c)
            }
        } catch let error as PostgresError where error.constraint == "staff_login_key" {
            throw ValidationError("the login \(login) is taken")
        }
        print("created \(login) (\(new.roles.map(\.rawValue).joined(separator: ", ")) at \(new.properties.joined(separator: ", ")))")
        if let secret {
            print("second factor: add this to an authenticator app (it is shown once):")
            print("  \(SecondFactor.enrolmentURL(secret: secret, login: login))")
        }
        fflush(nil)
    }
}

struct UpdateStaff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change an account's roles, departments or properties, or disable or enable it.")

    @Argument(help: "The login.") var login: String
    @Option(name: .customLong("role"), help: "The new roles (replacing the old).") var roles: [String] = []
    @Option(name: .customLong("department"), help: "The new departments.") var departments: [String] = []
    @Option(name: .customLong("property"), help: "The new properties.") var properties: [String] = []
    @Flag(help: "Disable the account; its sessions and tokens end at once.") var disable = false
    @Flag(help: "Enable a disabled account.") var enable = false
    @OptionGroup var connection: Connection

    func run() async throws {
        guard !(disable && enable) else { throw ValidationError("--disable or --enable, not both") }
        let roles = roles.isEmpty ? nil : try parseRoles(roles)
        let departments = departments.isEmpty ? nil : try parseDepartments(departments)
        let properties = properties.isEmpty ? nil : properties.flatMap { $0.split(separator: ",").map(String.init) }
        let active: Bool? = disable ? false : enable ? true : nil
        guard roles != nil || departments != nil || properties != nil || active != nil else { throw ValidationError("nothing to change") }
        let db = try await connection.database()
        defer { db.shutdown() }
        let (login, actor) = (self.login, connection.actor)
        let found = try await db.withTransaction { c in
            try StaffStore.update(login: login, roles: roles, departments: departments, properties: properties, active: active, by: actor, on: c)
        }
        guard found else { throw ValidationError("no account \(login)") }
        print("updated \(login)")
        if let roles, roles.contains(where: AccessPolicy.needsSecondFactor) {
            print("(if \(login) has no second factor yet: propdesk-admin enrol-second-factor \(login))")
        }
    }
}

struct EnrolSecondFactor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Give an account a new second-factor secret and print its enrolment address.")
    @Argument(help: "The login.") var login: String
    @OptionGroup var connection: Connection

    func run() async throws {
        let secret = SecondFactor.newSecret()
        let db = try await connection.database()
        defer { db.shutdown() }
        let (login, actor) = (self.login, connection.actor)
        let found = try await db.withTransaction { c -> Bool in
            guard try c.execute("UPDATE staff SET totp_secret = $2, updated_at = now() WHERE login = $1", [login, secret]) == 1 else { return false }
            try Audit.record(c, actor: actor, action: .rolesChanged, subject: "staff \(login)", reason: "second factor enrolled")
            return true
        }
        guard found else { throw ValidationError("no account \(login)") }
        print(SecondFactor.enrolmentURL(secret: secret, login: login))
    }
}

/// For the demo accounts of a local run: what the authenticator app would show now. It reads the
/// secret from the database, so it needs the owner's credentials; no service has such a command.
struct SecondFactorCode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo-code",
                                                    abstract: "Print an account's current second-factor code (local demo stacks only).")
    @Argument(help: "The login.") var login: String
    @OptionGroup var connection: Connection

    func run() async throws {
        let db = try await connection.database()
        defer { db.shutdown() }
        let login = self.login
        guard let secret = try await db.query("SELECT totp_secret FROM staff WHERE login = $1", [login]).first?.decode(0, as: String?.self) else {
            throw ValidationError("\(login) has no second factor")
        }
        print(SecondFactor.code(secret: secret))
    }
}

func readPassword(_ path: String) throws -> String {
    let text: String?
    if path == "-" {
        text = readLine(strippingNewline: true)
    } else {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        text = String(data: data, encoding: .utf8)?.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)
    }
    guard let text, !text.isEmpty else { throw ValidationError("the password is empty") }
    return text
}
