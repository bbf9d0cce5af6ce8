import Console
import Desk
import Domain
import Foundation
import Testing

/// The console's pure parts: live fan-out, rows, words, countdown boundaries, charts. No I/O.
struct ConsoleTests {
    static func row(_ number: String, property: String = "p1", departments: [Department] = [.engineering], status: TicketStatus = .open,
                    summary: String = "lift", breached: Bool = false) -> BoardRow {
        BoardRow(id: UUID(), property: property, number: number, kind: .repair, status: status, category: nil, severity: nil,
                 emergencyType: nil, summary: summary, createdAt: Date(), updatedAt: Date(), departments: departments,
                 holding: departments, next: nil, breached: breached)
    }

    static let everyone = AccessScope(properties: ["p1"], departments: nil)
    static let engineering = AccessScope(properties: ["p1"], departments: [.engineering])

    static func hub() throws -> LiveHub {
        let pages = try ConsolePages.bundled()
        return LiveHub(replica: "r1", capacity: 3) { row, language in pages.boardRow(row, language) }
    }

    /// The frames a finished stream held, one event each.
    static func drain(_ subscription: LiveSubscription, count: Int) async -> [String] {
        var out: [String] = []
        while out.count < count, let text = await subscription.next() {
            out += text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { $0 + "\n\n" }
        }
        return out
    }

    @Test func everyStandardClockReadsInChineseOnChinesePagesAndAnOfficesOwnTitleAsItWasWritten() {
        let titles = StandardClocks.rules.map(\.title) + MoneyClocks.rules.map(\.title)
        let untranslated = titles.filter { ClockTitles.title($0, .zh) == $0 }
        #expect(untranslated.isEmpty, "\(untranslated)")
        #expect(titles.allSatisfy { ClockTitles.title($0, .en) == $0 })
        #expect(ClockTitles.title("Complaint reported to the supervisor and department manager within 5 min", .zh) == "投诉 5 分钟内报告主管和部门经理")
        #expect(ClockTitles.title("本处自定: 投诉 3 分钟内报主管", .zh) == "本处自定: 投诉 3 分钟内报主管")
    }

    @Test func aTechnicianGetsOnlyTheirDepartmentsTicketsAndTheDeskGetsAll() async throws {
        let hub = try Self.hub()
        let desk = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .board(BoardFilter())), after: nil)
        let technician = hub.subscribe(LiveAudience(scope: Self.engineering, language: .en, view: .board(BoardFilter())), after: nil)
        hub.publish([Self.row("C-1", departments: [.cleaning]), Self.row("E-1"), Self.row("X-1", property: "p2")])
        hub.finishAll()
        let deskFrames = await Self.drain(desk, count: 10)
        let technicianFrames = await Self.drain(technician, count: 10)
        #expect(deskFrames.count == 2)
        #expect(deskFrames.contains { $0.contains("C-1") } && deskFrames.contains { $0.contains("E-1") })
        #expect(technicianFrames.count == 1)
        #expect(technicianFrames[0].contains("E-1") && !technicianFrames[0].contains("C-1"))
    }

    @Test func aReconnectingPageGetsWhatItMissedOrIsToldToReload() async throws {
        let hub = try Self.hub()
        hub.publish([Self.row("A"), Self.row("B")])
        let seen = hub.position   // r1.2
        hub.publish([Self.row("C"), Self.row("D")])
        let resumed = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .board(BoardFilter())), after: seen)
        hub.publish([Self.row("E")])  // the ring keeps 3: C, D, E — and "after r1.2" needs C on: still there
        let fromOtherReplica = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .all), after: "r9.4")
        let tooOld = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .all), after: "r1.1")
        hub.finishAll()
        let frames = await Self.drain(resumed, count: 10)
        #expect(frames.map { $0.contains("\"number\":\"C\"") } == [true, false, false])
        #expect(frames.map { $0.split(separator: "\n")[0] } == ["id: r1.3", "id: r1.4", "id: r1.5"])
        #expect(await Self.drain(fromOtherReplica, count: 10).map { $0.contains("event: reload") } == [true])
        #expect(await Self.drain(tooOld, count: 10).map { $0.contains("event: reload") } == [true])
    }

    @Test func aPageThatFallsBehindGetsEachTicketsNewestRowOnceInOrder() async throws {
        let hub = try Self.hub()
        let board = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .board(BoardFilter())), after: nil)
        var a = Self.row("A"), b = Self.row("B")
        hub.publish([a, b])
        a.status = .acknowledged
        hub.publish([a])   // A's first row is still waiting: only this one goes out, after B's
        b.status = .onSite
        hub.publish([b])
        hub.finishAll()
        let frames = await Self.drain(board, count: 10)
        #expect(frames.count == 2)
        #expect(frames[0].contains("\"number\":\"A\"") && frames[0].contains("acknowledged") && frames[0].hasPrefix("id: r1.3"))
        #expect(frames[1].contains("\"number\":\"B\"") && frames[1].contains("on_site") && frames[1].hasPrefix("id: r1.4"))
    }

    @Test func aPageDrawnWhileUpdatesWentUnreadReloadsOnceWhenItConnects() async throws {
        let hub = try Self.hub()
        hub.publish([Self.row("A")])
        let drawnAt = hub.position   // r1.1
        hub.skip()                   // an update nobody was connected for
        let late = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .all), after: drawnAt)
        let current = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .all), after: hub.position)
        hub.finishAll()
        #expect(await Self.drain(late, count: 10).map { $0.contains("event: reload") } == [true])
        #expect(await Self.drain(current, count: 10).isEmpty)
    }

    @Test func aRowThatNoLongerPassesTheFiltersIsRemovedFromTheBoard() async throws {
        let hub = try Self.hub()
        let overdueOnly = hub.subscribe(LiveAudience(scope: Self.everyone, language: .zh, view: .board(BoardFilter(overdue: true))), after: nil)
        var row = Self.row("R")
        row.breached = true
        hub.publish([row])
        let shown = await overdueOnly.next() ?? ""   // the page wrote it before the next came
        row.status = .closed
        hub.publish([row])
        hub.finishAll()
        let frames = ([shown] + (await Self.drain(overdueOnly, count: 10))).map { frame -> LiveFrame in
            let data = frame.split(separator: "\n").first { $0.hasPrefix("data: ") }!.dropFirst(6)
            return try! JSONDecoder().decode(LiveFrame.self, from: Data(data.utf8))
        }
        #expect(frames.map(\.remove) == [false, true])
        #expect(frames[0].html?.contains("breached") == true)
        #expect(frames[1].html == nil)
    }

    @Test func scriptInATicketIsWrittenAsTextInTheRow() throws {
        let pages = try ConsolePages.bundled()
        let html = pages.boardRow(Self.row("S", summary: "<script>alert('x')</script>\"><img src=x onerror=alert(1)>"), .zh)
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<img"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img"))
    }

    @Test func aTechniciansRowShowsOnlyTheirOwnDepartmentsAsHolding() {
        let row = Self.row("H", departments: [.engineering, .security]).narrowed(to: Self.engineering)
        #expect(row.holding == [.engineering])
        #expect(row.visible(to: Self.engineering))
        #expect(!Self.row("H", departments: [.security]).visible(to: Self.engineering))
        #expect(!Self.row("H", property: "p2").visible(to: Self.everyone))
    }

    @Test func aCountdownTurnsAmberInItsLastFifthOrMinuteAndRedWhenDue() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        let due = start.addingTimeInterval(600)  // a 10-minute step: amber from 8 minutes
        #expect(Urgency.of(started: start, due: due, now: start.addingTimeInterval(479)) == .ok)
        #expect(Urgency.of(started: start, due: due, now: start.addingTimeInterval(480)) == .soon)
        #expect(Urgency.of(started: start, due: due, now: due) == .late)
        let short = start.addingTimeInterval(60)  // a 1-minute step is amber from the start
        #expect(Urgency.of(started: start, due: short, now: start) == .soon)
        #expect(ConsoleTime.duration(65) == "01:05")
        #expect(ConsoleTime.duration(-3725) == "-1:02:05")
        #expect(ConsoleTime.duration(90_061) == "1d 1:01:01")
    }

    @Test func timesAreWrittenInThePropertysOwnZone() {
        let instant = Date(timeIntervalSince1970: 1_764_633_600)  // 2025-12-02 00:00:00 UTC
        #expect(ConsoleTime.local(instant, zone: TimeZone(identifier: "Asia/Shanghai")!) == "2025-12-02 08:00:00")
        #expect(ConsoleTime.local(instant, zone: TimeZone(identifier: "America/New_York")!) == "2025-12-01 19:00:00")
        #expect(ConsoleTime.offset(TimeZone(identifier: "Asia/Shanghai")!) == "+08:00")
        #expect(ConsoleTime.offset(TimeZone(identifier: "America/St_Johns")!, at: instant) == "-03:30")
    }

    @Test func everyWordOfTheDomainHasAChineseAndAnEnglishLabel() {
        #expect(ConsoleText.missingLabels == [])
        #expect(ConsoleText.missingErrors == [])
        #expect(ConsoleText.label("lift_entrapment", .zh) == "电梯困人")
        #expect(ConsoleText.label("lift_entrapment", .en) == "lift entrapment")
        #expect(ConsoleLanguage(cookieHeader: []) == .zh)
        #expect(ConsoleLanguage(cookieHeader: ["a=b; propdesk_lang=en"]) == .en)
        #expect(ConsoleLanguage(cookieHeader: ["propdesk_lang=fr"]) == .zh)
    }

    @Test func everyTemplateKeyThePagesUseHasWordsInBothLanguages() throws {
        let pages = try ConsolePages.bundled()
        for language in ConsoleLanguage.allCases {
            let html = pages.render("login", ["t": ConsoleText.all(language), "lang": language.rawValue])
            #expect(html.contains(ConsoleText.get("sign_in", language)))
        }
        // Every {{t.key}} in the templates is in the table.
        let used = try ConsolePages.templateTextKeys()
        let known = Set(ConsoleText.all(.zh).keys)
        #expect(used.subtracting(known) == [])
        #expect(!used.isEmpty)
    }

    @Test func aChartsBarsAreProportionalAndItsLabelsEscaped() {
        let svg = Charts.stackedBars([
            .init(label: "C1 <b>", parts: [(value: 3, colour: "#1b7f3b", name: "met"), (value: 1, colour: "#b3261e", name: "breached")]),
            .init(label: "R2", parts: [(value: 2, colour: "#1b7f3b", name: "met")]),
        ], title: "deadlines", width: 640)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("C1 &lt;b&gt;"))
        #expect(!svg.contains("<b>"))
        // 640 - 180 - 40 = 420 px for the largest total (4): 3 → 315, 1 → 105, 2 → 210.
        #expect(svg.contains("width=\"315\"") && svg.contains("width=\"105\"") && svg.contains("width=\"210\""))
    }

    @Test func aServerSentEventSplitsLinesAndCarriesItsID() {
        #expect(LiveHub.event(id: "r.1", name: "row", data: "{}") == "id: r.1\nevent: row\ndata: {}\n\n")
        #expect(LiveHub.event(id: nil, name: "reload", data: "a\nb") == "event: reload\ndata: a\ndata: b\n\n")
    }
}
