import ArgumentParser
import Contracts
import Desk
import Domain
import Foundation
import Logging
import Messaging
import Postgres
import ServiceKit

/// Billing — the office's money desk (B1–B8): the price list, quotes and disputes, charges,
/// payments with gap-free receipt numbers, voids and refunds, the double-entry ledger, repair-cost
/// approvals, management-fee bills and the dunning ladder, and deposits. HTTP routes in
/// ``BillingAPI``; it consumes a paid-service ticket's resolution (the charge) and the money
/// clocks' firings (the dunning ladder, a loaned item not returned).
enum BillingService: PropDeskService {
    static let definition = ServiceDefinition(
        name: "billing",
        summary: "Billing — price lists, quotes, charges, receipts, approvals, fees, dunning and deposits, to the fen.",
        defaultHTTPPort: 8084,
        bindings: DiagnosticsHandler.bindings + [DeskEvents.ticket(.paidService, "resolved") + ".#"] + BillingEvents.firingsBound,
        handler: { _ in
            EventRouter([("system.", DiagnosticsHandler()), ("ticket.", ChargeHandler()), ("escalation.", FiringHandler())])
        },
        routes: { router, context in BillingAPI(postgres: context.postgres, logger: context.logger).register(on: router) })
}

/// B2: paid work that is done is charged once, at the price the resident accepted. The charge is
/// keyed to the quote (unique), under the quote's row lock and the inbox: a redelivered or
/// repeated resolution charges nothing twice.
struct ChargeHandler: EventHandler {
    func handle(_ event: ReceivedEvent, on c: PostgresConnection) throws {
        guard let ticketID = event.envelope.ticketID else { throw PoisonMessage("\(event.envelope.type) without ticket_id") }
        guard let q = try c.query("""
            SELECT q.id, q.property, q.amount_fen, q.description, t.number,
                   (SELECT u.id FROM units u WHERE u.property = t.property AND u.building = t.building AND u.unit = t.unit)
            FROM quotes q JOIN tickets t ON t.id = q.ticket_id WHERE q.ticket_id = $1 AND q.state = 'accepted' FOR UPDATE OF q
            """, [ticketID]).first else {
            event.logger.warning("paid work resolved without an accepted price: nothing charged", metadata: ["ticket_id": "\(ticketID)"])
            return
        }
        let quote: UUID = try q.decode(0)
        guard try c.query("SELECT 1 FROM charges WHERE quote_id = $1", [quote]).isEmpty else { return }
        let property: String = try q.decode(1), amount = Money(fen: try q.decode(2)), number: String = try q.decode(4)
        let unit = try q.decode(5, as: UUID?.self)
        let party = (unit ?? ticketID).uuidString.lowercased()
        let entry = try Ledger.post(.transfer(amount, debit: .receivable, party, credit: .revenuePaidService), property: property,
                                    kind: "charge", reference: number, on: c)
        let id = UUID()
        try c.executeLater("""
            INSERT INTO charges (id, property, kind, quote_id, ticket_id, unit_id, description, amount_fen, entry_id)
            VALUES ($1, $2, 'paid_service', $3, $4, $5, $6, $7, $8)
            """, [id, property, quote, ticketID, unit, try q.decode(3, as: String.self), amount.fen, entry])
        try Ledger.publish("charge", "posted", property: property,
                           BillingEventPayload(subject: "charge", subjectID: id, reference: number, amountFen: amount.fen, ticketID: ticketID, actor: "PropDesk"),
                           causedBy: event.envelope, on: c)
        event.logger.info("charged", metadata: ["ticket_id": "\(ticketID)", "amount": "\(amount)"])
    }
}

/// The money clocks' firings billing acts on: the dunning ladder's rungs (B6) and a loaned item
/// not back by the last step (B7: the deposit is forfeited by rule). The others (an approval
/// waiting, a dispute) are for people, through notification.
struct FiringHandler: EventHandler {
    func handle(_ event: ReceivedEvent, on c: PostgresConnection) throws {
        let fired: MoneyDeadlinePayload
        do {
            fired = try event.envelope.decodePayload(MoneyDeadlinePayload.self)
        } catch {
            throw PoisonMessage("\(event.envelope.type): not a money clock's firing: \(error)")
        }
        if fired.ruleID == MoneyClocks.itemReturn {
            guard fired.step == fired.steps,
                  try !c.query("SELECT 1 FROM deposits WHERE id = $1 AND state = 'held'", [fired.subjectID]).isEmpty else { return }
            try Deposits.close(fired.subjectID, refund: false, condition: "not_returned", note: "not returned by \(fired.dueAt)", by: "PropDesk", on: c)
        } else {
            try Dunning.clockFired(fired, on: c)
        }
    }
}

/// `billing [serve]`, `migrate`, `ping`, and `verify`: the books checked (``Verify``).
struct BillingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing", abstract: BillingService.definition.summary,
        discussion: "Configuration comes from PROPDESK_* environment variables; see README.md.",
        subcommands: [ServiceCommand<BillingService>.Serve.self, ServiceCommand<BillingService>.Migrate.self,
                      ServiceCommand<BillingService>.Ping.self, VerifyCommand.self],
        defaultSubcommand: ServiceCommand<BillingService>.Serve.self)

    struct VerifyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check the books: every entry and the ledger balance, every receipt, void and refund has its postings, receipt numbers have no gaps. Exit 1 on any finding.")

        func run() async throws {
            let postgres = try await ServiceRunner.databaseOnly(service: "billing", logger: Logger(label: "propdesk.verify"))
            defer { postgres.shutdown() }
            let report = try await postgres.withConnection { try Verify.run(on: $0) }
            print("ledger: \(report.entries) entries, \(report.postings) postings; \(report.receipts) receipts, \(report.reversals) voids and refunds")
            for finding in report.findings { print("FAIL \(finding)") }
            if report.findings.isEmpty {
                print("ok: the books balance and every receipt is accounted for")
            } else {
                throw ExitCode(1)
            }
        }
    }
}

@main
enum BillingMain {
    static func main() async { await BillingCommand.main() }
}
