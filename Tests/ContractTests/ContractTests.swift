import ContractSupport
@testable import Desk
import Domain
import Foundation
import Messaging
import Notify
import Testing
@testable import PropDeskIntake
@testable import PropDeskBilling
@testable import PropDeskNotification

@Suite("The API and the events match their documents")
struct ContractTests {
    static let healthRoutes = ["GET /health/live", "GET /health/ready", "GET /metrics"]

    @Test func everyRouteIntakeServesIsInTheOpenAPIDocumentAndNothingElseIs() throws {
        let document = try OpenAPIDocument()
        #expect(document.version == "3.1.0")
        let served = Set(IntakeAPI.routes.map { "\($0.method.rawValue) \($0.path)" } + SignIn.routes.map { "\($0.method.rawValue) \($0.path)" }
                         + ConsoleRoutes.signedIn.map { "GET \($0.path)" } + ConsoleRoutes.open.map { "GET \($0)" } + Self.healthRoutes)
        #expect(served.subtracting(document.operations).isEmpty, "served but not documented")
        #expect(document.operations.subtracting(served).isEmpty, "documented but not served")
    }

    /// Every route names the permission it checks, needs the cookie session or a bearer token
    /// unless it is a health endpoint or the sign-in itself, and documents 401 and 403 (and 404
    /// when it takes an id: an id outside the caller's scope).
    @Test func everyRouteNamesItsPermissionAndDocumentsTheRefusalsOfSigningIn() throws {
        let document = try OpenAPIDocument()
        #expect(Set(document.securitySchemes.keys) == ["session", "bearer"])
        #expect(document.security.flatMap(\.keys).sorted() == ["bearer", "session"])
        let declared = IntakeAPI.routes.map { ("\($0.method.rawValue) \($0.path)", $0.permission.rawValue) }
            + SignIn.routes.compactMap { r in r.permission.map { ("\(r.method.rawValue) \(r.path)", $0.rawValue) } }
        for (operation, permission) in declared {
            let op = try #require(document.operationObjects[operation], "\(operation) documented")
            #expect(op["x-propdesk-permission"] as? String == permission, "\(operation) names \(permission)")
            #expect(op["security"] == nil, "\(operation) takes the document's security")
            let responses = Set((op["responses"] as? [String: Any] ?? [:]).keys)
            #expect(responses.isSuperset(of: ["401", "403"]), "\(operation): \(responses.sorted())")
            if operation.contains("{id}") { #expect(responses.contains("404"), "\(operation)") }
        }
        for open in Self.healthRoutes + ["POST /auth/login"] {
            #expect((document.operationObjects[open]?["security"] as? [Any])?.isEmpty == true, "\(open) is open")
        }
        // The console's pages name theirs too; the sign-in page, its files and the language switch
        // are open.
        for page in ConsoleRoutes.signedIn {
            let op = try #require(document.operationObjects["GET \(page.path)"], "GET \(page.path) documented")
            #expect(op["x-propdesk-permission"] as? String == page.permission.rawValue, "GET \(page.path) names \(page.permission.rawValue)")
            #expect(op["security"] == nil, "GET \(page.path) takes the document's security")
        }
        for open in ConsoleRoutes.open {
            #expect((document.operationObjects["GET \(open)"]?["security"] as? [Any])?.isEmpty == true, "\(open) is open")
        }
        let login = try #require(document.operationObjects["POST /auth/login"]?["responses"] as? [String: Any])
        #expect(login["429"] != nil)
    }

    /// Billing's routes are the document's billing path items, each naming its server, its
    /// permission and the refusals of signing in; the public price list is the one open route.
    @Test func everyRouteBillingServesIsInTheOpenAPIDocumentOnItsServerAndNamesItsPermission() throws {
        let document = try OpenAPIDocument()
        let served = Set(BillingAPI.routes.map { "\($0.method.rawValue) \($0.path)" } + Self.healthRoutes)
        let documented = document.operations(port: BillingService.definition.defaultHTTPPort)
        #expect(served.subtracting(Self.healthRoutes).subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented))")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served))")
        for route in BillingAPI.routes {
            let op = try #require(document.operationObjects["\(route.method.rawValue) \(route.path)"])
            #expect(op["x-propdesk-permission"] as? String == route.permission.rawValue, "\(route.path)")
            let responses = Set((op["responses"] as? [String: Any] ?? [:]).keys)
            #expect(responses.isSuperset(of: ["401", "403"]), "\(route.method) \(route.path): \(responses.sorted())")
            if route.path.contains("{") { #expect(responses.contains("404"), "\(route.path)") }
            #expect((op["security"] != nil) == route.openWhenPublic, "\(route.path): only the public price list states its own security")
        }
    }

    /// Notification's own route (the SMS gateways' receipts) is the document's one path item on its
    /// server, open to the gateways (its key is in the URL) and refusing a wrong key with 401.
    @Test func theSMSReceiptRouteNotificationServesIsInTheOpenAPIDocumentOnItsServer() throws {
        let document = try OpenAPIDocument()
        #expect(document.operations(port: NotificationService.definition.defaultHTTPPort) == [SMSReceipts.route])
        let op = try #require(document.operationObjects[SMSReceipts.route])
        #expect((op["security"] as? [Any])?.isEmpty == true)
        #expect(Set((op["responses"] as? [String: Any] ?? [:]).keys).isSuperset(of: ["200", "401", "415", "422"]))
    }

    /// README's "Who may do what" table, row by row, is the policy.
    @Test func theREADMEsWhoMayDoWhatTableIsThePolicy() throws {
        let readme = try String(contentsOf: Contracts.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `") || $0.hasPrefix("| scope") || $0.hasPrefix("| second factor") }
            .map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        let header = try #require(readme.split(separator: "\n").first { $0.hasPrefix("| permission |") })
            .split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(Array(header.dropFirst(2)) == StaffRole.allCases.map(\.rawValue))
        for permission in Permission.allCases {
            let row = try #require(rows.first { $0.first == "`\(permission.rawValue)`" }, "a row for \(permission.rawValue)")
            let expected = StaffRole.allCases.map { role -> String in
                guard AccessPolicy.roles(permission).contains(role) else { return "—" }
                return permission == .residentsRead && AccessPolicy.needsApprovalToRead(role) ? "approval" : "✓"
            }
            #expect(Array(row.dropFirst(2)) == expected, "\(permission.rawValue)")
        }
        let scope = try #require(rows.first { $0.first == "scope" })
        #expect(Array(scope.dropFirst(2)) == StaffRole.allCases.map { AccessPolicy.departmentBound.contains($0) ? "departments" : "property" })
        let factor = try #require(rows.first { $0.first == "second factor" })
        #expect(Array(factor.dropFirst(2)) == StaffRole.allCases.map { AccessPolicy.needsSecondFactor($0) ? "required" : "—" })
    }

    /// Every refusal and failure is typed with `ErrorCode` (`APIError`, `Problem`, `ErrorBody`
    /// take nothing else), so its cases are the codes the services can send.
    @Test func everyErrorCodeTheAPICanGiveIsDocumentedAndNoOther() throws {
        #expect(try OpenAPIDocument().errorCodes == Set(ErrorCode.allCases.map(\.rawValue)))
    }

    @Test func theDocumentedEnumerationsAreTheOnesTheCodeAccepts() throws {
        let d = try OpenAPIDocument()
        #expect(d.enumeration("TicketKind") == TicketKind.allCases.map(\.rawValue))
        #expect(d.enumeration("IntakeChannel") == IntakeChannel.allCases.map(\.rawValue))
        #expect(d.enumeration("Department") == Department.allCases.map(\.rawValue))
        #expect(d.enumeration("WorkQueue") == WorkQueue.all.map(\.name))
        #expect(d.enumeration("StaffRole") == StaffRole.allCases.map(\.rawValue))
        #expect(d.enumeration("TicketStatus") == TicketStatus.allCases.map(\.rawValue))
        #expect(d.enumeration("WorkOrderStatus") == WorkOrderStatus.allCases.map(\.rawValue))
        #expect(d.enumeration("EmergencyType") == EmergencyType.allCases.map(\.rawValue))
    }

    @Test func aTicketAsTheAPIWritesItHasExactlyTheDocumentedFields() throws {
        let d = try OpenAPIDocument()
        let ticket = try Self.keys(Samples.ticket)
        let fields = d.fields(of: "Ticket")
        #expect(ticket.subtracting(fields.properties).isEmpty, "undocumented: \(ticket.subtracting(fields.properties))")
        #expect(fields.required.subtracting(ticket).isEmpty)
        let order = try Self.keys(Samples.order)
        #expect(order.subtracting(d.fields(of: "WorkOrder").properties).isEmpty)
        let form = try Self.keys(Samples.form)
        #expect(form == d.fields(of: "TicketForm").properties)
        #expect(try Self.keys(StepForm(actor: "a", note: "n", outcome: "o", reason: "r", to: "triage", assignee: "w")) == d.fields(of: "StepForm").properties)
    }

    @Test func everyEventTypeTheCodeCanPublishIsInTheAsyncAPIDocumentAndNoOthers() throws {
        let document = try AsyncAPIDocument()
        #expect(document.version == "3.0.0")
        let published = Set((DeskEvents.allTypes + EscalationEvents.allTypes + NotificationEvents.allTypes + BillingEvents.allTypes + ReportEvents.allTypes + ["system.ping"]).map { "\($0).sunrise-garden" })
        let undocumented = published.filter { !document.describes(routingKey: $0) }
        #expect(undocumented.isEmpty, "not in docs/asyncapi.yaml: \(undocumented.sorted())")
        let documented = Set(["ticketEvents", "workOrderEvents", "escalationBreaches", "clockChanges", "followUpsDue", "deliveryFailures", "deliveriesDelivered", "rosterGaps", "systemPing", "reportsReady"].flatMap {
            document.channel($0)?.addresses(property: "sunrise-garden") ?? []
        })
        #expect(documented.subtracting(published).isEmpty, "documented but never published: \(documented.subtracting(published))")
        // Billing's channel names its entities and events; together they are exactly the code's.
        let billing = try #require(document.channels.first { $0.name == "billingEvents" })
        #expect(Set(billing.parameters["entity"].flatMap { $0 } ?? []) == Set(BillingEvents.events.keys))
        #expect(Set(billing.parameters["event"].flatMap { $0 } ?? []) == Set(BillingEvents.events.values.flatMap { $0 }))
        let text = try Contracts.text("asyncapi.yaml")
        for type in BillingEvents.allTypes { #expect(text.contains("`\(type.dropFirst("billing.".count))`"), "\(type) is listed in billingEvents") }
    }

    @Test func billingsPayloadsHaveExactlyTheDocumentedFields() throws {
        let document = try AsyncAPIDocument()
        let full = BillingEventPayload(subject: "bill", subjectID: UUID(), reference: "r", amountFen: 1, ticketID: UUID(), recipients: [Recipient(.finance)],
                                       clockFrom: Date(), stage: "reminded", channel: "sms", trackingNumber: "t", residentID: UUID(), place: "p",
                                       action: "review", decision: "approved", actor: "a", note: "n")
        #expect(try Self.keys(full) == document.fields(of: "BillingEventPayload").properties)
        #expect(try Self.keys(BillingEventPayload(subject: "s", subjectID: UUID(), reference: "r", actor: "a")) == document.fields(of: "BillingEventPayload").required)
        let money = try Self.keys(MoneyDeadlinePayload(subject: "bill", subjectID: UUID(), reference: "r", ruleID: "B6-overdue", standard: "B6", title: "t",
                                                       step: 1, steps: 1, startedAt: Date(), dueAt: Date(), firedAt: Date(), tell: []))
        #expect(money == document.fields(of: "MoneyDeadlinePayload").properties)
        #expect(money == document.fields(of: "MoneyDeadlinePayload").required)
    }

    @Test func eventPayloadsHaveExactlyTheDocumentedFields() throws {
        let document = try AsyncAPIDocument()
        let ticket = try Self.keys(TicketEventPayload(ticket: Samples.ticket, sequence: 1, actor: Actor(name: "Li", role: .operator_), note: "n"))
        let t = document.fields(of: "TicketEventPayload")
        #expect(ticket == t.properties)
        let order = try Self.keys(WorkOrderEventPayload(order: Samples.order, ticket: Samples.ticket, sequence: 2,
                                                        actor: .dispatch, note: "n"))
        let o = document.fields(of: "WorkOrderEventPayload")
        #expect(order.subtracting(o.properties).isEmpty, "undocumented: \(order.subtracting(o.properties))")
        #expect(o.required.subtracting(order).isEmpty)
        let deadline = try Self.keys(DeadlineEventPayload(
            ticketID: Samples.ticket.id, ticketNumber: "SG-261123-0001", kind: .complaint, round: 1, ruleID: "C1", standard: "C1",
            title: "t", step: 1, steps: 2, startedAt: Date(), dueAt: Date(), firedAt: Date(), tell: [Recipient(.supervisor)]))
        #expect(deadline == document.fields(of: "DeadlineEventPayload").properties)
        let clocks = try Self.keys(ClocksChangedPayload(ticketID: Samples.ticket.id, round: 1, cause: "ticket.repair.created", started: ["R1"],
                                                        met: [], cancelled: false, moved: false))
        #expect(clocks == document.fields(of: "ClocksChangedPayload").properties)
        #expect(clocks == document.fields(of: "ClocksChangedPayload").required)
        #expect(document.fields(of: "DeadlineEventPayload").required == deadline)
        let failed = try Self.keys(DeliveryFailedPayload(deliveryID: 1, state: "failed", eventID: UUID(), eventType: "escalation.c1.breached", ticketID: UUID(),
                                                         recipient: "Zhao", audience: "staff", channel: "sms", template: "escalation",
                                                         attempts: 5, reason: "r"))
        #expect(failed == document.fields(of: "DeliveryFailedPayload").properties)
        #expect(document.fields(of: "DeliveryFailedPayload").required == failed.subtracting(["ticket_id"]))
        let report = try Self.keys(ReportReadyPayload(report: ReportEvents.weeklyComplaints, fileID: UUID(), from: "2026-11-23", to: "2026-11-30",
                                                      total: 4, previousTotal: 1, withinTime: 4, vitalFew: ["parking"], carriedOver: 0))
        #expect(report == document.fields(of: "ReportReadyPayload").properties)
        #expect(report == document.fields(of: "ReportReadyPayload").required)
        let gap = try Self.keys(RosterGapPayload(eventType: "t", asked: "technician/engineering", emptyRoles: ["technician/engineering"],
                                                 reachedAs: "supervisor"))
        #expect(gap == document.fields(of: "RosterGapPayload").properties)
        #expect(document.fields(of: "RosterGapPayload").required == gap.subtracting(["reached_as"]))
    }

    @Test func escalationBindsTheEventsOfEveryMoneyClockAndTheDocumentSaysSo() throws {
        let document = try Contracts.text("asyncapi.yaml")
        for binding in BillingEvents.clockBindings { #expect(document.contains("`\(binding)`"), "\(binding) is not in asyncapi.yaml") }
        #expect(!BillingEvents.clockBindings.contains("billing.payment.received.#"), "a payment moves no clock")
    }

    @Test func theNotificationServiceBindsEveryEventItsPlanAnswersAndTheDocumentSaysSo() throws {
        let document = try Contracts.text("asyncapi.yaml")
        for binding in NotificationPlan.bindings { #expect(document.contains("`\(binding)`"), "\(binding) is not in asyncapi.yaml") }
    }

    @Test func theConsolesLiveQueueIsBoundAsTheDocumentSays() throws {
        let document = try Contracts.text("asyncapi.yaml")
        let operation = try #require(document.range(of: "consoleReceivesLiveUpdates:"), "the console's live queue is documented")
        let section = document[operation.upperBound...].prefix(900)
        for binding in LiveFeed.bindings { #expect(section.contains("`\(binding)`"), "\(binding) is not in asyncapi.yaml") }
    }

    @Test func theDepartmentQueuesAreNamedAndBoundAsDocumented() throws {
        let queue = try #require(try AsyncAPIDocument().channel("departmentQueue"))
        #expect(queue.matches(DeskEvents.workQueueName(.department(.engineering), property: "sunrise-garden")))
        #expect(queue.matches(DeskEvents.workQueueName(.triage, property: "harbour-tower")))
        #expect(DeskEvents.workQueueBindings(.department(.security), property: "sunrise-garden")
            == ["workorder.security.assigned.sunrise-garden", "workorder.security.released.sunrise-garden"])
    }

    static func keys(_ value: some Encodable) throws -> Set<String> {
        let object = try JSONSerialization.jsonObject(with: DeskJSON.encoder.encode(value)) as? [String: Any]
        return Set(object?.keys.map { $0 } ?? [])
    }
}

/// A ticket and work order with every optional field set, so every key is written.
enum Samples {
    static let ticketID = UUID()
    static let ticket = TicketView(
        id: ticketID, property: "sunrise-garden", number: "SG-261123-0001", kind: .complaint, channel: .phone, building: "3号楼",
        unit: "2单元1202", callerName: "王丽", callerPhone: "13812345678", content: "噪音", category: "noise", severity: .major,
        emergencyType: .stoppedLift, requestedAt: Date(), takenBy: "Li", status: .resolved, outcome: "ok", round: 1, sequence: 3,
        createdAt: Date(), updatedAt: Date(), resolvedAt: Date(), workOrders: [order],
        timeline: [TimelineEntry(sequence: 1, eventID: UUID(), type: "ticket.complaint.created", actor: "Li", role: "operator",
                                 at: Date(), workOrderID: nil, detail: .object([:]))])
    static let order = WorkOrderView(
        id: UUID(), ticketID: ticketID, property: "sunrise-garden", round: 1, queue: .department(.security), department: .security,
        priority: .high, status: .done, assignee: "Zhao", ruleID: "complaint-security", transferredFrom: UUID(), outcome: "ok",
        createdAt: Date(), updatedAt: Date(), ticket: nil)
    static let form = TicketForm(property: "p", kind: "complaint", channel: "phone", building: "b", unit: "u", callerName: "n",
                                 callerPhone: "1", content: "c", category: "c", severity: "minor", emergencyType: "fire_alarm",
                                 requestedAt: Date(), takenBy: "t")
}
