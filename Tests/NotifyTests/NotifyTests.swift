import Domain
import Foundation
import Testing
@testable import Notify

let shanghai = TimeZone(identifier: "Asia/Shanghai")!

/// `2025-11-10 22:30` (a Monday) in Shanghai.
func at(_ text: String) -> Date {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = shanghai
    f.dateFormat = "yyyy-MM-dd HH:mm"
    return f.date(from: text)!
}

func time(_ text: String) -> TimeOfDay { TimeOfDay(text)! }

@Suite("Who is on duty")
struct RosterTests {
    let day = RosterEntry(role: .supervisor, department: .customerService, person: "Zhao", contacts: [Contact(.wecom, "desk")],
                          weekdays: [1, 2, 3, 4, 5], starts: time("09:00"), ends: time("17:00"))
    let night = RosterEntry(role: .supervisor, department: .customerService, person: "Qian", contacts: [Contact(.sms, "13800000001")],
                            weekdays: [1, 2, 3, 4, 5], starts: time("17:00"), ends: time("09:00"))
    let manager = RosterEntry(role: .departmentManager, person: "Sun", contacts: [Contact(.email, "sun@example.com")])

    @Test func theDaySupervisorHearsOnAWeekdayAfternoonAndTheNightOneAfterFive() {
        let entries = [day, night, manager]
        #expect(DutyRoster.resolve(Recipient(.supervisor, .customerService), in: entries, at: at("2025-11-10 14:00"), zone: shanghai).people.map(\.person) == ["Zhao"])
        #expect(DutyRoster.resolve(Recipient(.supervisor, .customerService), in: entries, at: at("2025-11-10 22:30"), zone: shanghai).people.map(\.person) == ["Qian"])
        // Friday's night shift runs into Saturday morning.
        #expect(DutyRoster.resolve(Recipient(.supervisor, .customerService), in: entries, at: at("2025-11-15 03:00"), zone: shanghai).people.map(\.person) == ["Qian"])
    }

    @Test func nobodyOnDutyGoesToTheNextRoleUpAndTheGapIsReported() {
        // Saturday noon: no supervisor shift starts on a weekend.
        let r = DutyRoster.resolve(Recipient(.supervisor, .customerService), in: [day, night, manager], at: at("2025-11-15 12:00"), zone: shanghai)
        #expect(r.people.map(\.person) == ["Sun"])
        #expect(r.reachedAs == .departmentManager)
        #expect(r.gaps == [Recipient(.supervisor, .customerService)])
        let nobody = DutyRoster.resolve(Recipient(.technician, .engineering), in: [], at: at("2025-11-15 12:00"), zone: shanghai)
        #expect(nobody.people.isEmpty && nobody.gaps.map(\.role) == [.technician, .supervisor, .departmentManager, .viceGeneralManager, .generalManager])
    }

    @Test func aDepartmentsOwnHolderComesBeforeACompanyWideOne() {
        let own = RosterEntry(role: .departmentManager, department: .engineering, person: "Wu", contacts: [Contact(.sms, "1")])
        let r = DutyRoster.resolve(Recipient(.departmentManager, .engineering), in: [manager, own], at: at("2025-11-10 10:00"), zone: shanghai)
        #expect(r.people.map(\.person) == ["Wu"])
        let other = DutyRoster.resolve(Recipient(.departmentManager, .security), in: [manager, own], at: at("2025-11-10 10:00"), zone: shanghai)
        #expect(other.people.map(\.person) == ["Sun"])
    }

    @Test func aPropertyWithoutARosterWarnsOncePerRoleInTenMinutesAndTheNextLineCountsTheRest() {
        var log = GapLog(interval: 600)
        let t0 = at("2025-11-10 14:00")
        #expect(log.note(property: "bench", role: "supervisor/customer_service", at: t0) == (true, 0))
        for k in 1...4499 {
            #expect(log.note(property: "bench", role: "supervisor/customer_service", at: t0.addingTimeInterval(Double(k) / 10)) == (false, 0))
        }
        // Another role, another property: their own first line.
        #expect(log.note(property: "bench", role: "technician/engineering", at: t0.addingTimeInterval(1)) == (true, 0))
        #expect(log.note(property: "sunrise-garden", role: "supervisor/customer_service", at: t0.addingTimeInterval(1)) == (true, 0))
        // Ten minutes on: one line, with the 4,499 that were not written.
        #expect(log.note(property: "bench", role: "supervisor/customer_service", at: t0.addingTimeInterval(600)) == (true, 4499))
        #expect(log.note(property: "bench", role: "supervisor/customer_service", at: t0.addingTimeInterval(601)) == (false, 0))
    }
}

@Suite("Which messages an event calls for")
struct PlanTests {
    @Test func theMondayReportGoesToTheManagersItNamesAndToNobodyWithoutThem() {
        let managers = [Recipient(.departmentManager, .customerService), Recipient(.generalManager, .management)]
        #expect(NotificationPlan.intents(for: "report.weekly_complaints.ready", facts: EventFacts(tell: managers)) == [Intent(.staff(managers), .weeklyReport)])
        #expect(NotificationPlan.intents(for: "report.weekly_complaints.ready", facts: EventFacts()).isEmpty)
        #expect(NotificationPlan.bindings.contains("report.*.ready.#"))
    }

    @Test func aNewComplaintTellsTheCallerItsNumberAndAnEmergencyAlsoTheControlRoom() {
        #expect(NotificationPlan.intents(for: "ticket.complaint.created", facts: EventFacts(kind: .complaint)) == [Intent(.resident, .received)])
        let emergency = NotificationPlan.intents(for: "ticket.emergency.created", facts: EventFacts(kind: .emergency))
        #expect(emergency == [Intent(.resident, .received, urgent: true),
                              Intent(.staff([Recipient(.controlRoom, .security)]), .emergency, urgent: true)])
    }

    @Test func workOrdersGoToTheDepartmentsOnDutyTechnicianAndEmergenciesAreUrgent() {
        #expect(NotificationPlan.intents(for: "workorder.engineering.assigned", facts: EventFacts(kind: .repair))
            == [Intent(.staff([Recipient(.technician, .engineering)]), .newWorkOrder)])
        #expect(NotificationPlan.intents(for: "workorder.security.assigned", facts: EventFacts(kind: .emergency))
            == [Intent(.staff([Recipient(.technician, .security)]), .emergency, urgent: true)])
        #expect(NotificationPlan.intents(for: "workorder.triage.assigned", facts: EventFacts(kind: .inquiry))
            == [Intent(.staff([Recipient(.supervisor, .customerService)]), .newWorkOrder)])
    }

    @Test func anEscalationTellsEveryoneItsStepNamesAndIsUrgent() {
        let tell = [Recipient(.supervisor, .customerService), Recipient(.generalManager)]
        #expect(NotificationPlan.intents(for: "escalation.c3.breached", facts: EventFacts(kind: .complaint, tell: tell, step: 1, ruleID: "C3"))
            == [Intent(.staff(tell), .escalation, urgent: true)])
    }

    @Test func theResidentHearsOfTheFollowUpOnceNotOnEveryRetry() {
        let tell = [Recipient(.operator_, .customerService)]
        #expect(NotificationPlan.intents(for: "followup.complaint.due", facts: EventFacts(kind: .complaint, tell: tell, step: 1, ruleID: "F1"))
            == [Intent(.staff(tell), .followUpDue), Intent(.resident, .followUp)])
        #expect(NotificationPlan.intents(for: "followup.complaint.due", facts: EventFacts(kind: .complaint, tell: tell, step: 1, ruleID: "F-retry"))
            == [Intent(.staff(tell), .followUpDue)])
    }

    @Test func residentUpdatesFollowTheTicketAndNotesMoveNothing() {
        #expect(NotificationPlan.intents(for: "workorder.engineering.accepted", facts: EventFacts(kind: .repair)).map(\.template) == [.onTheWay])
        #expect(NotificationPlan.intents(for: "ticket.repair.on_site", facts: EventFacts(kind: .repair)).map(\.template) == [.onSite])
        #expect(NotificationPlan.intents(for: "ticket.repair.resolved", facts: EventFacts(kind: .repair)).map(\.template) == [.resolved])
        #expect(NotificationPlan.intents(for: "ticket.repair.extended", facts: EventFacts(kind: .repair)).map(\.template) == [.delayed])
        #expect(NotificationPlan.intents(for: "billing.payment.received", facts: EventFacts()).map(\.template) == [.paymentReceipt])
        #expect(NotificationPlan.intents(for: "ticket.repair.noted", facts: EventFacts(kind: .repair)).isEmpty)
    }

    /// B4: an approval step tells the approver its event names, not finance; a money clock's
    /// firing is the money-overdue message; an SMS reminder of a fee goes to the resident.
    @Test func billingsEventsTellTheApproverTheyNameAndTheResidentOfAnOverdueFee() {
        for approver in [Recipient(.departmentManager, .customerService), Recipient(.chiefEngineer, .engineering),
                         Recipient(.viceGeneralManager, .management), Recipient(.generalManager, .management), Recipient(.departmentManager, .audit)] {
            let intents = NotificationPlan.intents(for: "billing.approval.requested", facts: EventFacts(recipients: [approver]))
            #expect(intents == [Intent(.staff([approver]), .approvalNeeded)])
        }
        #expect(NotificationPlan.intents(for: "billing.approval.requested", facts: EventFacts()).isEmpty, "nobody named, nobody guessed")
        let money = NotificationPlan.intents(for: "escalation.b4.breached", facts: EventFacts(tell: [Recipient(.generalManager, .management)], subject: "approval_step"))
        #expect(money.map(\.template) == [.moneyOverdue])
        #expect(NotificationPlan.intents(for: "billing.dunning.stepped", facts: EventFacts(stage: "reminded", channel: "sms")).map(\.template) == [.feeReminder])
        #expect(NotificationPlan.intents(for: "billing.dunning.stepped", facts: EventFacts(stage: "letter_sent", channel: "express")).isEmpty)
        #expect(NotificationPlan.intents(for: "ticket.repair.noted", facts: EventFacts(kind: .repair)).isEmpty)
    }
}

@Suite("Quiet hours and retries")
struct TimingTests {
    @Test func aResidentMessageWrittenAt2amWaitsUntil8amAndOneAtNoonGoesNow() {
        let quiet = QuietHours.standard
        #expect(quiet.earliestSend(at: at("2025-11-11 02:00"), in: shanghai) == at("2025-11-11 08:00"))
        #expect(quiet.earliestSend(at: at("2025-11-10 22:30"), in: shanghai) == at("2025-11-11 08:00"))
        #expect(quiet.earliestSend(at: at("2025-11-10 12:00"), in: shanghai) == at("2025-11-10 12:00"))
        #expect(QuietHours("00:00-00:00")!.earliestSend(at: at("2025-11-11 02:00"), in: shanghai) == at("2025-11-11 02:00"))
        #expect(QuietHours("9pm-8am") == nil)
    }

    @Test func retriesWaitTwiceAsLongEachTimeWithJitterUpToTheCap() {
        let retry = RetryPolicy(base: .seconds(1), cap: .seconds(10), maxAttempts: 5)
        #expect(retry.delay(afterAttempt: 1, jitter: 1) == .seconds(1))
        #expect(retry.delay(afterAttempt: 1, jitter: 0) == .milliseconds(500))
        #expect(retry.delay(afterAttempt: 3, jitter: 1) == .seconds(4))
        #expect(retry.delay(afterAttempt: 9, jitter: 1) == .seconds(10))
    }
}

@Suite("Messages and the channels' formats")
struct FormatTests {
    let message = OutgoingMessage(dedupeKey: "e1/Zhao/wecom", eventID: UUID(), eventType: "escalation.c1.breached", ticketID: nil,
                                  recipient: "Zhao", channel: .wecom, address: "desk", subject: "【超时升级】C1", body: "请跟进", urgent: true)

    @Test func everyTemplateRendersInBothLanguagesWithTheTicketNumberAndNoPhone() throws {
        let templates = try MessageTemplates.bundled()
        let payload: [String: Any] = [
            "ticket_number": "SG-20251110-0007", "kind": "complaint", "department": "engineering", "place": "3号楼 ***",
            "summary": "电梯噪音 call 138****5678", "standard": "C1", "title": "Supervisor told within 5 minutes", "step": 1, "steps": 2,
            "due_at": "2025-11-10T02:05:00Z", "started_at": "2025-11-10T02:00:00Z", "requested_at": "2025-11-12T09:00:00Z",
            "amount_fen": 12050, "priority": "high",
        ]
        for name in TemplateName.allCases {
            for language in Language.allCases {
                let m = templates.render(name, language, MessageContext.make(payload: payload, language: language, zone: shanghai))
                #expect(!m.subject.isEmpty && !m.body.isEmpty, "\(name.rawValue).\(language.rawValue) is empty")
                // The Monday report is about a week, not a ticket (its own check is below).
                #expect(name == .weeklyReport || (m.subject + m.body).contains("SG-20251110-0007"), "\(name.rawValue).\(language.rawValue) lacks the number")
                #expect(!(m.subject + m.body).contains("{{"), "\(name.rawValue).\(language.rawValue) left a tag")
                #expect(!(m.subject + m.body).contains("13812345678"))
            }
        }
        let week: [String: Any] = ["from": "2026-11-23", "to": "2026-11-30", "total": 4, "previous_total": 1, "within_time": 3,
                                   "vital_few": ["parking", "noise"], "carried_over": 2, "path": "/reports/files/5b1e"]
        let monday = templates.render(.weeklyReport, .zhCN, MessageContext.make(payload: week, language: .zhCN, zone: shanghai))
        #expect(monday.subject == "【投诉处理周报】2026-11-23 起一周")
        #expect(monday.body.contains("本周投诉 4 件（上周 1 件），全部时限内处理 3 件。") && monday.body.contains("parking noise")
                && monday.body.contains("周末仍未结案：2 件。") && monday.body.contains("/reports/files/5b1e"), "\(monday.body)")
        let mondayEN = templates.render(.weeklyReport, .en, MessageContext.make(payload: week, language: .en, zone: shanghai))
        #expect(mondayEN.body.contains("Complaints this week: 4 (last week 1)") && mondayEN.body.contains("Report: /reports/files/5b1e"), "\(mondayEN.body)")
        let escalation = templates.render(.escalation, .zhCN, MessageContext.make(payload: payload, language: .zhCN, zone: shanghai))
        #expect(escalation.body.contains("2025-11-10 10:05"))   // due, in Shanghai time
        let receipt = templates.render(.paymentReceipt, .en, MessageContext.make(payload: payload, language: .en, zone: shanghai))
        #expect(receipt.body.contains("¥120.50"))
    }

    @Test func theRobotsGetTheirDocumentedTextMessageAndTheirErrcodeDecides() throws {
        let wecom = try JSONSerialization.jsonObject(with: ChannelFormats.wecom(message)) as? [String: Any]
        #expect(wecom?["msgtype"] as? String == "text")
        #expect((wecom?["text"] as? [String: Any])?["content"] as? String == "【超时升级】C1\n请跟进")
        let ding = try JSONSerialization.jsonObject(with: ChannelFormats.dingtalk(message)) as? [String: Any]
        #expect((ding?["text"] as? [String: Any])?["content"] as? String == "【超时升级】C1\n请跟进")
        #expect(ChannelFormats.robotError(Data(#"{"errcode":0,"errmsg":"ok"}"#.utf8)) == nil)
        #expect(ChannelFormats.robotError(Data(#"{"errcode":93000,"errmsg":"invalid webhook url"}"#.utf8)) == "errcode 93000: invalid webhook url")
    }

    @Test func theSMSTemplateEscapesWhatItFillsIn() {
        #expect(ChannelFormats.sms(template: #"{"to":"{{phone}}","text":"{{text}}"}"#, phone: "13800000001", text: "a \"b\"\nc")
            == #"{"to":"13800000001","text":"a \"b\"\nc"}"#)
        #expect(ChannelFormats.sms(template: "to={{phone}}&msg={{text}}", phone: "+86 138", text: "已受理 1&2") == "to=%2B86%20138&msg=%E5%B7%B2%E5%8F%97%E7%90%86%201%262")
    }

    @Test func anEmailCarriesItsDedupeKeyAsMessageIDAndAnEncodedSubject() {
        var m = message
        m.channel = .email
        m.address = "zhao@example.com"
        let text = ChannelFormats.email(m, from: "desk@example.com")
        #expect(text.contains("Message-ID: <e1.Zhao.wecom@propdesk>"))
        #expect(text.contains("Subject: =?UTF-8?B?\(Data("【超时升级】C1".utf8).base64EncodedString())?="))
        #expect(text.contains("\r\n\r\n\(Data("请跟进".utf8).base64EncodedString())"))
    }

    @Test func aSignedDingTalkRobotsSignatureIsTheHMACOfTimestampNewlineSecretAsDingTalkComputesIt() throws {
        // Computed independently with Python's hmac, as DingTalk's documentation shows it.
        #expect(DingTalkSigning.signature(secret: "SECthis-is-a-test-secret", timestampMs: 1_700_000_000_000)
            == "IRZT287QybIa2F/xrEkTcyuBS3Hp0ycAceupV5IhA5s=")
        let url = DingTalkSigning.signed(try #require(URL(string: "https://oapi.dingtalk.com/robot/send?access_token=abc&sign=old")),
                                         secret: "SECthis-is-a-test-secret", at: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(url.absoluteString
            == "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000&sign=IRZT287QybIa2F%2FxrEkTcyuBS3Hp0ycAceupV5IhA5s%3D")
    }

    @Test func aLimitOfTwentyAMinuteNeverLetsTwentyOneIntoAnyMinuteUnlikeATokenBucket() throws {
        let limit = try #require(ChannelLimit("20/min"))
        #expect(limit == ChannelLimit(count: 20, window: .seconds(60)))
        #expect(ChannelLimit("10/s")?.window == .seconds(1) && ChannelLimit("5/90s")?.window == .seconds(90))
        #expect(ChannelLimit("0/min") == nil && ChannelLimit("3") == nil && ChannelLimit("3/fortnight") == nil)
        var window = SendWindow(recent: [], limit: limit, margin: .zero)
        let start = Date(timeIntervalSince1970: 1_000_000)
        var sent: [Date] = []
        // Someone asks for 3 sends every 2 seconds for 10 minutes.
        for step in 0..<300 {
            let now = start.addingTimeInterval(Double(step) * 2)
            sent += Array(repeating: now, count: window.take(3, at: now))
        }
        for (i, first) in sent.enumerated() {
            let inMinute = sent[i...].prefix { $0.timeIntervalSince(first) < 60 }.count
            #expect(inMinute <= 20, "\(inMinute) sends in the minute from \(first)")
        }
        #expect(sent.count >= 10 * 20 - 20, "the allowance is used, not wasted: \(sent.count)")
        // Full: it says when the oldest send leaves the window.
        var full = SendWindow(recent: Array(repeating: start, count: 20), limit: limit, margin: .seconds(2))
        #expect(full.take(1, at: start.addingTimeInterval(30)) == 0)
        #expect(full.nextFree(after: start.addingTimeInterval(30)) == start.addingTimeInterval(62))
        full.record(1, at: start.addingTimeInterval(30))   // an urgent one went anyway
        #expect(full.recent.count == 20)
        // The margin is a tenth of a short window: 10 a second stays about 10 a second.
        var sms = SendWindow(recent: [], limit: try #require(ChannelLimit("10/s")))
        var count = 0
        for step in 0..<100 { count += sms.take(10, at: start.addingTimeInterval(Double(step) * 0.1)) }
        #expect((85...100).contains(count), "\(count) in 10 s")
    }

    @Test func aWeChatTemplateMessageFillsTheOfficesFieldsFromTheMessagesFactsWithinWeChatsLengths() throws {
        let (mappings, problems) = WeChatTemplates.parse("received=TPL-1:character_string1=number,thing2=kind,time3=time,phrase4=status,thing5=text")
        #expect(problems.isEmpty)
        let mapping = try #require(mappings["received"])
        let shanghai = try #require(TimeZone(identifier: "Asia/Shanghai"))
        let context = MessageContext.make(payload: ["number": "SG-261202-0007", "kind": "repair"], language: .zhCN, zone: shanghai)
        let facts = WeChatTemplates.facts(template: .received, context: context,
                                          message: .init(subject: "已受理", body: "您好，您反映的事项已受理，编号 SG-261202-0007。我们会尽快处理"),
                                          language: .zhCN, at: Date(timeIntervalSince1970: 1_796_198_400), zone: shanghai)
        let body = try #require(try JSONSerialization.jsonObject(with: WeChatTemplates.body(openID: "oUser_123456", mapping: mapping, facts: facts)) as? [String: Any])
        #expect(body["touser"] as? String == "oUser_123456" && body["template_id"] as? String == "TPL-1")
        let data = try #require(body["data"] as? [String: [String: String]])
        #expect(data["character_string1"]?["value"] == "SG-261202-0007")
        #expect(data["thing2"]?["value"] == "报修")
        #expect(data["time3"]?["value"] == "2026年12月2日 16:00", "the property's own time, in WeChat's time format")
        #expect(data["phrase4"]?["value"] == "已受理")
        #expect(data["thing5"]?["value"]?.count == 20 && data["thing5"]?["value"]?.hasSuffix("…") == true, "a thing field holds 20 characters")
        #expect(WeChatTemplates.parse("received=T:thing1=secret_phone").problems.count == 1, "only the listed facts, never an address")
        #expect(WeChatTemplates.parse("new-work-order=T:thing1=number").problems.count == 1, "staff messages do not go to WeChat")
    }

    @Test func weChatsRepliesSayWhetherToRenewTheTokenTryLaterOrGiveUp() {
        #expect(WeChatTemplates.outcome(Data(#"{"errcode":0,"errmsg":"ok","msgid":1}"#.utf8)) == .sent)
        #expect(WeChatTemplates.outcome(Data(#"{"errcode":42001,"errmsg":"access_token expired"}"#.utf8)) == .invalidToken("errcode 42001: access_token expired"))
        #expect(WeChatTemplates.outcome(Data(#"{"errcode":40001,"errmsg":"invalid credential"}"#.utf8)) == .invalidToken("errcode 40001: invalid credential"))
        #expect(WeChatTemplates.outcome(Data(#"{"errcode":45009,"errmsg":"reach max api daily quota limit"}"#.utf8)) == .busy("errcode 45009: reach max api daily quota limit"))
        #expect(WeChatTemplates.outcome(Data(#"{"errcode":43004,"errmsg":"require subscribe"}"#.utf8)) == .refused("errcode 43004: require subscribe"))
    }

    @Test func theSMSGatewaysIdForAMessageIsReadFromItsReplyByPath() {
        #expect(ChannelFormats.value(at: ["BizId"], in: Data(#"{"Code":"OK","BizId":"900619746936498440^0"}"#.utf8)) == "900619746936498440^0")
        let tencent = Data(#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","Code":"Ok"}]}}"#.utf8)
        #expect(ChannelFormats.value(at: ["Response", "SendStatusSet", "0", "SerialNo"], in: tencent) == "5000:1045710669157053657849499619")
        #expect(ChannelFormats.value(at: ["Response", "SendStatusSet", "3", "SerialNo"], in: tencent) == nil)
        #expect(ChannelFormats.value(at: ["BizId"], in: Data("not json".utf8)) == nil)
    }
}
