import Desk
import Domain
import Foundation
import Postgres
import Testing

/// Complaints written straight into the record at the times a week needs (time as data): the
/// report reads the record, whatever hour the suite runs at.
struct SeededComplaint {
    var number: String
    var category: String?
    var severity: String?
    /// Property-local wall time, `2026-10-11 23:59`.
    var at: String
    var kind = "complaint"
    var channel = "phone"
    /// Timeline events after the filing: (event word, property-local time).
    var events: [(String, String)] = [("resolved", "+1h")]
}

extension RealServers {
    @Suite("Reports: the weekly complaint report, from the record")
    struct ReportTests {
        /// The National Day week of 2026 on a Shanghai property: Monday 5 October to Sunday 11
        /// October, 5–7 October holidays and Saturday 10 October a make-up working day (seeded in
        /// the calendar). Ten complaints: parking 5, noise 3, hygiene 1, one without a category.
        /// By hand: parking 50%, noise 80% cumulative (both the few that make 80%), hygiene 90%, the
        /// last 100%. The week's edges in Shanghai time: 23:59 on Sunday 11 October is in it, 00:00 on
        /// Monday 12 October is not, 23:59 on Sunday 4 October is last week's.
        @Test func aWeekOfComplaintsAcrossNationalDayGivesTheParetoAPersonCountsByHandAndItsEdgesInShanghaiTime() async throws {
            try await DeskScenario.run { s async throws in
                let other = try await Servers.newProperty(s.db, prefix: "o")
                let week: [SeededComplaint] = [
                    .init(number: "W-01", category: "parking", severity: "major", at: "2026-10-05 09:10"),        // holiday
                    .init(number: "W-02", category: "parking", severity: "major", at: "2026-10-06 14:00"),        // holiday
                    .init(number: "W-03", category: "parking", severity: "minor", at: "2026-10-07 10:00", events: []),  // still open
                    .init(number: "W-04", category: "parking", severity: "minor", at: "2026-10-09 08:30"),
                    .init(number: "W-05", category: "parking", severity: "minor", at: "2026-10-11 23:59",          // Sunday, last minute
                          events: [("resolved", "2026-10-12 00:30")]),
                    .init(number: "W-06", category: "noise", severity: "important", at: "2026-10-06 22:00"),
                    .init(number: "W-07", category: "noise", severity: "minor", at: "2026-10-10 09:00",            // make-up Saturday
                          events: [("resolved", "2026-10-13 10:00")]),
                    .init(number: "W-08", category: "noise", severity: "minor", at: "2026-10-10 18:00"),
                    .init(number: "W-09", category: "hygiene", severity: "minor", at: "2026-10-08 11:00",
                          events: [("resolved", "2026-10-08 12:00"), ("reopened", "2026-10-09 09:00")]),
                    .init(number: "W-10", category: nil, severity: nil, at: "2026-10-09 16:00"),
                ]
                let around: [SeededComplaint] = [
                    .init(number: "P-01", category: "parking", severity: "minor", at: "2026-10-04 23:59", events: []),  // last week, open
                    .init(number: "P-02", category: "parking", severity: "minor", at: "2026-09-28 00:00"),              // last week's first minute
                    .init(number: "P-03", category: "noise", severity: "major", at: "2026-10-01 10:00"),
                    .init(number: "N-01", category: "parking", severity: "minor", at: "2026-10-12 00:00", events: []),  // next week
                    .init(number: "R-01", category: "parking", severity: nil, at: "2026-10-08 10:00", kind: "repair"),  // not a complaint
                ]
                var ids: [String: UUID] = [:]
                for complaint in week + around { ids[complaint.number] = try await Self.seed(complaint, property: s.property, db: s.db) }
                _ = try await Self.seed(.init(number: "X-01", category: "parking", severity: "major", at: "2026-10-07 10:00"), property: other, db: s.db)
                // W-01 broke C1 (supervisor told late) and met C2; W-02 met C1.
                try await Self.clock(ids["W-01"]!, "C1", state: "fired", due: "2026-10-05 09:15", met: "2026-10-05 09:20", property: s.property, db: s.db)
                try await Self.clock(ids["W-01"]!, "C2", state: "met", due: "2026-10-05 09:25", met: "2026-10-05 09:22", property: s.property, db: s.db)
                try await Self.clock(ids["W-02"]!, "C1", state: "met", due: "2026-10-06 14:05", met: "2026-10-06 14:02", property: s.property, db: s.db)

                let reply = try await s.request("GET", "/reports/complaints/weekly?property=\(s.property)&week=2026-10-08")
                #expect(reply.status == 200, "\(reply.json)")
                let r = reply.json
                #expect(r["from"] as? String == "2026-10-05" && r["to"] as? String == "2026-10-12" && r["time_zone"] as? String == "Asia/Shanghai")
                #expect(r["total"] as? Int == 10 && r["previous_total"] as? Int == 3 && r["within_time"] as? Int == 9, "\(r)")
                let categories = try #require(r["categories"] as? [[String: Any]])
                #expect(categories.map { $0["category"] as? String ?? "none" } == ["parking", "noise", "hygiene", "none"])
                #expect(categories.map { $0["count"] as? Int } == [5, 3, 1, 1])
                #expect(categories.map { $0["previous"] as? Int } == [2, 1, 0, 0])
                #expect(categories.map { $0["within_time"] as? Int } == [4, 3, 1, 1])
                #expect(categories.map { (($0["cumulative_share"] as? Double ?? -1) * 100).rounded() } == [50, 80, 90, 100])
                #expect(categories.map { $0["vital_few"] as? Bool } == [true, true, false, false])
                #expect(categories.last.map { $0.keys.contains("category") && $0["category"] is NSNull } == true, "null, not left out")
                let severities = try #require(r["severities"] as? [[String: Any]])
                #expect(severities.map { $0["severity"] as? String ?? "none" } == ["major", "important", "minor", "none"])
                #expect(severities.map { $0["count"] as? Int } == [2, 1, 6, 1])
                #expect(severities.map { $0["previous"] as? Int } == [1, 0, 2, 0])
                #expect(severities.map { $0["within_time"] as? Int } == [1, 1, 6, 1])
                let clauses = try #require(r["clauses"] as? [[String: Any]])
                #expect(clauses.map { "\($0["rule_id"]!) \($0["started"]!) \($0["met"]!) \($0["breached"]!)" } == ["C1 2 1 1", "C2 1 1 0"])
                // Open at the week's end: last week's P-01, W-03 (never resolved), W-09 (reopened), and
                // W-07 and W-05, resolved only after it. Oldest first; nothing about the resident.
                let carried = try #require(r["carried_over"] as? [String: Any])
                #expect(carried["count"] as? Int == 5)
                let open = try #require(carried["oldest"] as? [[String: Any]])
                #expect(open.map { $0["number"] as? String } == ["P-01", "W-03", "W-09", "W-07", "W-05"])
                #expect(open.allSatisfy { Set($0.keys) == ["number", "category", "severity", "created_at"] })

                // Any day of the week names it; last week's report counts last week.
                let sunday = try await s.request("GET", "/reports/complaints/weekly?property=\(s.property)&week=2026-10-11").json
                #expect(sunday["total"] as? Int == 10)
                let last = try await s.request("GET", "/reports/complaints/weekly?property=\(s.property)&week=2026-10-04").json
                #expect(last["from"] as? String == "2026-09-28" && last["total"] as? Int == 3)

                // The same table as CSV, for a spreadsheet.
                let csv = try await s.request("GET", "/reports/complaints/weekly?property=\(s.property)&week=2026-10-08&format=csv")
                #expect(csv.status == 200 && csv.headers["content-type"]?.hasPrefix("text/csv") == true)
                let lines = String(decoding: csv.data, as: UTF8.self).split(separator: "\r\n").map(String.init)
                #expect(lines == ["week,category,count,previous,within_time,share,cumulative_share,vital_few",
                                  "2026-10-05,parking,5,2,4,0.5000,0.5000,yes", "2026-10-05,noise,3,1,3,0.3000,0.8000,yes",
                                  "2026-10-05,hygiene,1,0,1,0.1000,0.9000,no", "2026-10-05,,1,0,1,0.1000,1.0000,no"])
            }
        }

        @Test func aWeeklyReportAskedForWronglyIsRefusedWithItsCodeAndAnotherPropertysReadsAsUnknown() async throws {
            try await DeskScenario.run { s async throws in
                let other = try await Servers.newProperty(s.db, prefix: "o")
                for (query, status, code) in [("week=2026-13-01", 400, "invalid_format"), ("week=1970-01-05", 400, "invalid_format"),
                                              ("week=2026-10-08&format=xml", 400, "unknown_value"), ("week=2026-10-08%00", 400, "invalid_format")] {
                    let reply = try await s.request("GET", "/reports/complaints/weekly?property=\(s.property)&\(query)")
                    #expect(reply.status == status && reply.code == code, "\(query): \(reply.status) \(reply.json)")
                }
                let missing = try await s.request("GET", "/reports/complaints/weekly")
                #expect(missing.status == 400 && missing.code == "required")
                // The caller's accounts cover this property and sunrise-garden only.
                let outside = try await s.request("GET", "/reports/complaints/weekly?property=\(other)")
                #expect(outside.status == 404)
                let technician = try await s.request("GET", "/reports/complaints/weekly?property=\(s.property)",
                                                     headers: [DeskScenario.asRole: StaffRole.technician.rawValue])
                #expect(technician.status == 403)
            }
        }

        /// Compliance per clause, from clocks a person can add up: five C1 clocks started on Monday
        /// 14 September, one met a minute early, three met 2, 10 and 30 minutes late, one breached
        /// and never met. Met 1 of 5 decided: 20%. Late: median 10 minutes, p90 26 minutes
        /// (interpolated: 10 + 0.8 × 20), the worst 30. A C2 clock still running counts nowhere.
        @Test func eachClausesComplianceShowsHowManyWereMetInTimeAndHowLateTheBreachesWere() async throws {
            try await DeskScenario.run { s async throws in
                var ids: [UUID] = []
                for n in 1...5 {
                    ids.append(try await Self.seed(.init(number: "S-0\(n)", category: "noise", severity: "minor", at: "2026-09-14 09:00"),
                                                   property: s.property, db: s.db))
                }
                let due = "2026-09-14 09:05"
                try await Self.clock(ids[0], "C1", state: "met", due: due, met: "2026-09-14 09:04", property: s.property, db: s.db)
                for (i, met) in ["09:07", "09:15", "09:35"].enumerated() {
                    try await Self.clock(ids[i + 1], "C1", state: "fired", due: due, met: "2026-09-14 " + met, property: s.property, db: s.db)
                }
                try await Self.clock(ids[4], "C1", state: "fired", due: due, met: nil, property: s.property, db: s.db)
                try await Self.clock(ids[0], "C2", state: "pending", due: "2099-01-01 00:00", met: nil, property: s.property, db: s.db)

                let asked = Date()
                let reply = try await s.request("GET", "/reports/deadlines?property=\(s.property)&from=2026-09-14&to=2026-09-21")
                #expect(reply.status == 200, "\(reply.json)")
                let rules = Dictionary(uniqueKeysWithValues: (reply.json["rules"] as? [[String: Any]] ?? []).map { ($0["rule_id"] as? String ?? "", $0) })
                let c1 = try #require(rules["C1"])
                #expect(c1["title"] as? String == "C1")
                #expect(c1["started"] as? Int == 5 && c1["met"] as? Int == 1 && c1["breached"] as? Int == 4 && c1["breached_then_met"] as? Int == 3)
                #expect(c1["compliance"] as? Double == 0.2)
                #expect(c1["mean_early_seconds"] as? Double == 60 && c1["mean_late_seconds"] as? Double == 840)
                #expect(c1["late_p50_seconds"] as? Double == 600 && c1["late_max_seconds"] as? Double == 1800, "\(c1)")
                #expect(abs((c1["late_p90_seconds"] as? Double ?? 0) - 1560) < 0.001, "\(c1)")
                // The one never met has been overdue since 09:05 that Monday, Shanghai time.
                let overdue = asked.timeIntervalSince(Date(timeIntervalSince1970: 1_789_347_900))
                #expect(c1["still_late"] as? Int == 1)
                #expect(abs((c1["still_late_max_seconds"] as? Double ?? 0) - overdue) < 120, "\(c1)")
                let c2 = try #require(rules["C2"])
                #expect(c2["running"] as? Int == 1 && c2["compliance"] is NSNull && c2["late_p50_seconds"] is NSNull && c2["still_late_max_seconds"] is NSNull,
                        "\(c2)")
            }
        }

        /// November 2026 on a Shanghai property, by hand. Seven tickets taken: three repairs (two
        /// plumbing, one without a trade), two complaints (one about decoration work, 装修), two
        /// decoration applications. The month's edges are Shanghai's: 00:00 on 1 November (still
        /// 31 October in UTC) is November's, 23:59 on 31 October is October's. Resolved in
        /// November: 1 h, 4 h, 1 h, 24 h, and the October ticket after 61 min, so the median is
        /// 61 min and p90 16 h (interpolated: 4 h + 0.6 × 20 h).
        @Test func aMonthsStatisticsCountTicketsByKindChannelDepartmentAndTradeInThePropertysOwnMonth() async throws {
            try await DeskScenario.run { s async throws in
                let tickets: [SeededComplaint] = [
                    .init(number: "M-01", category: "装修", severity: "minor", at: "2026-11-01 00:00"),
                    .init(number: "M-02", category: "parking", severity: "minor", at: "2026-11-15 10:00", events: [("resolved", "2026-11-15 14:00")]),
                    .init(number: "M-03", category: "plumbing", severity: nil, at: "2026-11-10 09:00", kind: "repair", channel: "wechat"),
                    .init(number: "M-04", category: "plumbing", severity: nil, at: "2026-11-20 09:00", kind: "repair", channel: "app",
                          events: [("resolved", "2026-11-21 09:00")]),
                    .init(number: "M-05", category: nil, severity: nil, at: "2026-11-30 23:59", kind: "repair", events: []),
                    .init(number: "M-06", category: nil, severity: nil, at: "2026-11-05 10:00", kind: "decoration", events: []),
                    .init(number: "M-07", category: nil, severity: nil, at: "2026-11-06 10:00", kind: "decoration", events: []),
                    .init(number: "O-01", category: "parking", severity: "minor", at: "2026-10-31 23:59", events: [("resolved", "2026-11-01 01:00")]),
                ]
                var ids: [String: UUID] = [:]
                for t in tickets { ids[t.number] = try await Self.seed(t, property: s.property, db: s.db) }
                // Work orders: M-03 went to engineering twice (two rounds), M-04 once, M-02 to customer service.
                for (number, round, department) in [("M-03", 1, "engineering"), ("M-03", 2, "engineering"), ("M-04", 1, "engineering"),
                                                    ("M-02", 1, "customer_service")] {
                    try await s.db.execute("""
                        INSERT INTO work_orders (id, ticket_id, property, round, queue, department, priority, status)
                        VALUES ($1, $2, $3, $4, $5, $5, 'normal', 'done')
                        """, [UUID(), ids[number]!, s.property, round, department])
                }

                let reply = try await s.request("GET", "/reports/statistics?property=\(s.property)&period=2026-11")
                #expect(reply.status == 200, "\(reply.json)")
                let r = reply.json
                func pairs(_ key: String) -> [String] {
                    (r[key] as? [[String: Any]] ?? []).map { "\($0["item"] as? String ?? "none") \($0["count"] as? Int ?? -1)" }
                }
                #expect(r["from"] as? String == "2026-11-01" && r["to"] as? String == "2026-12-01" && r["total"] as? Int == 7, "\(r)")
                #expect(pairs("by_kind") == ["repair 3", "complaint 2", "decoration 2"])
                #expect(pairs("by_channel") == ["phone 5", "app 1", "wechat 1"])
                #expect(pairs("by_department") == ["engineering 2", "customer_service 1"])
                #expect(pairs("repairs_by_trade") == ["plumbing 2", "none 1"])
                let decoration = try #require(r["decoration"] as? [String: Any])
                #expect(decoration["complaints"] as? Int == 1 && decoration["applications"] as? Int == 2 && decoration["rate"] as? Double == 0.5
                        && decoration["target"] as? Double == 0.005)
                let followUps = try #require(r["follow_ups"] as? [String: Any])
                #expect(followUps["due"] as? Int == 0 && followUps["rate"] is NSNull)
                let resolution = try #require(r["resolution"] as? [[String: Any]])
                #expect(resolution.map { "\($0["kind"] as? String ?? "all") \($0["resolved"] as? Int ?? -1)" } == ["all 5", "complaint 3", "repair 2"])
                for (row, p50, p90) in [(0, 3660.0, 57600.0), (1, 3660, 12252), (2, 45000, 78120)] where row < resolution.count {
                    #expect(abs((resolution[row]["p50_seconds"] as? Double ?? 0) - p50) < 0.01 && abs((resolution[row]["p90_seconds"] as? Double ?? 0) - p90) < 0.01,
                            "\(resolution[row])")
                }

                // October holds only the ticket taken at 23:59 on its last day; the quarter holds all eight.
                let october = try await s.request("GET", "/reports/statistics?property=\(s.property)&period=2026-10").json
                #expect(october["total"] as? Int == 1 && october["to"] as? String == "2026-11-01")
                let quarter = try await s.request("GET", "/reports/statistics?property=\(s.property)&period=2026-Q4").json
                #expect(quarter["from"] as? String == "2026-10-01" && quarter["to"] as? String == "2027-01-01" && quarter["total"] as? Int == 8)

                let csv = try await s.request("GET", "/reports/statistics?property=\(s.property)&period=2026-11&format=csv")
                #expect(csv.status == 200 && csv.headers["content-type"]?.hasPrefix("text/csv") == true)
                let lines = String(decoding: csv.data, as: UTF8.self).split(separator: "\r\n").map(String.init)
                #expect(lines.first == "from,to,section,item,value")
                for line in ["2026-11-01,2026-12-01,total,,7", "2026-11-01,2026-12-01,kind,repair,3", "2026-11-01,2026-12-01,department,engineering,2",
                             "2026-11-01,2026-12-01,decoration,rate,0.5000", "2026-11-01,2026-12-01,resolve_p50_seconds,all,3660"] {
                    #expect(lines.contains(line), "\(line) in \(lines)")
                }

                for (query, code) in [("period=2026-13", "invalid_format"), ("period=2026-Q5", "invalid_format"), ("period=1999-01", "invalid_format"),
                                      ("period=2026-11%00", "invalid_format"), ("period=26-11", "invalid_format"), ("format=xml", "unknown_value")] {
                    let refused = try await s.request("GET", "/reports/statistics?property=\(s.property)&\(query)")
                    #expect(refused.status == 400 && refused.code == code, "\(query): \(refused.status) \(refused.json)")
                }
                let technician = try await s.request("GET", "/reports/statistics?property=\(s.property)", headers: [DeskScenario.asRole: StaffRole.technician.rawValue])
                #expect(technician.status == 403)
            }
        }

        /// The Monday report with two escalation replicas running: two Mondays already due (the
        /// weeks of 16 and 23 November, as after a weekend with escalation down), each rendered
        /// into one file and announced once to each manager on the roster, and the next Monday
        /// 09:00 (property time) scheduled in their place. The file is last week's report,
        /// readable with the reports permission on the property, and nobody else's.
        @Test func theMondayReportIsSentOnceToEachManagerWithTwoReplicasRunningAndOpensAsLastWeeksFile() async throws {
            let s = try await ClockScenario(rules: [])
            let property = s.desk.property
            for (i, category) in ["parking", "parking", "parking", "noise"].enumerated() {
                _ = try await Self.seed(.init(number: "L-0\(i)", category: category, severity: "minor", at: "2026-11-2\(4 + i) 10:00"),
                                        property: property, db: s.desk.db)
            }
            _ = try await Self.seed(.init(number: "E-01", category: "hygiene", severity: "minor", at: "2026-11-17 10:00"), property: property, db: s.desk.db)
            for from in ["2026-11-16", "2026-11-23"] {
                try await s.desk.db.execute("""
                    INSERT INTO scheduled_reports (property, report, period_from, period_to, due_at)
                    VALUES ($1, 'weekly_complaints', $2::date, $2::date + 7, now() - interval '1 second')
                    """, [property, from])
            }
            let notify = try await NotifyScenario(roster: [
                ("department_manager", "customer_service", "Zhou", #"[{"channel":"webhook","address":"desk"}]"#),
                ("general_manager", "management", "Wu", #"[{"channel":"webhook","address":"desk"}]"#),
                ("supervisor", "customer_service", "Zhao", #"[{"channel":"webhook","address":"slow"}]"#),
            ], property: property)
            let replicas = [try await s.startEscalation(0), try await s.startEscalation(1)]

            let files = try await eventually("both Mondays sent") { () -> [(id: String, from: String)]? in
                let rows = try await s.desk.db.query("""
                    SELECT file_id::text, period_from::text FROM scheduled_reports WHERE property = $1 AND state = 'sent' ORDER BY period_from
                    """, [property]).map { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
                return rows.count == 2 ? rows.map { (id: $0.0, from: $0.1) } : nil
            }
            let messages = try await notify.receiver.wait { $0.filter { $0.path == "/desk" }.count >= 4 }.filter { $0.path == "/desk" }
            #expect(messages.count == 4)
            #expect(Set(messages.map { "\($0.json["recipient"] as? String ?? "") \($0.json["subject"] as? String ?? "")" })
                    == ["Zhou 【投诉处理周报】2026-11-16 起一周", "Wu 【投诉处理周报】2026-11-16 起一周",
                        "Zhou 【投诉处理周报】2026-11-23 起一周", "Wu 【投诉处理周报】2026-11-23 起一周"])
            let lastWeek = try #require(files.last)
            #expect(lastWeek.from == "2026-11-23")
            let text = messages.map { $0.json["body"] as? String ?? "" }.joined()
            #expect(text.contains("/reports/files/\(lastWeek.id)") && text.contains("本周投诉 4 件（上周 1 件）") && text.contains("parking"), "\(text)")
            // Once: one file and one event per Monday, whichever replica claimed it.
            let counts = try await s.desk.db.query("""
                SELECT (SELECT count(*) FROM report_files WHERE property = $1),
                       (SELECT count(*) FROM outbox WHERE routing_key = $2)
                """, [property, "report.weekly_complaints.ready.\(property)"])[0]
            #expect(try counts.decode(0, as: Int.self) == 2 && counts.decode(1, as: Int.self) == 2)
            #expect(notify.receiver.requests("/slow").isEmpty, "a supervisor is not sent the managers' report")
            // The next one: a Monday, 09:00 in Shanghai, after now, for the seven days before it.
            let next = try await s.desk.db.query("""
                SELECT to_char(s.due_at AT TIME ZONE p.time_zone, 'ID HH24:MI'), s.period_to - s.period_from, s.due_at > now(),
                       to_char(s.period_to, 'ID')
                FROM scheduled_reports s JOIN properties p ON p.code = s.property WHERE s.property = $1 AND s.state = 'pending'
                """, [property]).map { "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: Int.self)) \(try $0.decode(2, as: Bool.self)) \(try $0.decode(3, as: String.self))" }
            #expect(next == ["1 09:00 7 true 1"])

            // The file is last week's report; another property's staff, and a technician, cannot open it.
            let file = try await s.desk.request("GET", "/reports/files/\(lastWeek.id)")
            let html = String(decoding: file.data, as: UTF8.self)
            #expect(file.status == 200 && file.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(file.headers["content-security-policy"]?.contains("default-src 'none'") == true)
            #expect(html.contains("投诉处理周报") && html.contains("2026-11-23 – 2026-11-29") && html.contains("class=\"weekly-total\">4<") && html.contains("pareto-line"))
            let technician = try await s.desk.request("GET", "/reports/files/\(lastWeek.id)", headers: [DeskScenario.asRole: StaffRole.technician.rawValue])
            #expect(technician.status == 403)
            let unknown = try await s.desk.request("GET", "/reports/files/\(UUID().uuidString.lowercased())")
            #expect(unknown.status == 404)
            try await notify.stop()
            try await s.stop(replicas)
        }

        /// Writes `complaint` into the record: the ticket, and its timeline's events at their times.
        static func seed(_ complaint: SeededComplaint, property: String, db: PostgresClient) async throws -> UUID {
            let id = UUID()
            try await db.execute("""
                INSERT INTO tickets (id, property, number, kind, channel, content, category, severity, taken_by, created_at, updated_at)
                SELECT $1, $2, $3, $4, $8, 'seeded', $5, $6, 'Li Mei', t, t
                FROM (SELECT ($7::timestamp AT TIME ZONE p.time_zone) AS t FROM properties p WHERE p.code = $2) s
                """, [id, property, complaint.number, complaint.kind, complaint.category, complaint.severity, complaint.at, complaint.channel])
            for (i, (word, at)) in complaint.events.enumerated() {
                let status = word == "reopened" ? "open" : word
                try await db.execute("""
                    WITH at AS (SELECT ((CASE WHEN $7 = '+1h' THEN $8::timestamp + interval '1 hour' ELSE $7::timestamp END)
                                        AT TIME ZONE p.time_zone) AS t FROM properties p WHERE p.code = $2)
                    , e AS (INSERT INTO ticket_events (ticket_id, sequence, event_id, type, actor, at) SELECT $1, $3, $4, $5, 'Li Mei', t FROM at)
                    UPDATE tickets SET status = $6, updated_at = at.t, resolved_at = CASE WHEN $6 = 'resolved' THEN at.t END FROM at WHERE id = $1
                    """, [id, property, i + 2, UUID(), "ticket.\(complaint.kind).\(word)", status, at, complaint.at])
            }
            return id
        }

        /// A first-step deadline of `rule` on the ticket, in `state`, at property-local times.
        static func clock(_ ticket: UUID, _ rule: String, state: String, due: String, met: String?, property: String, db: PostgresClient) async throws {
            try await db.execute("""
                INSERT INTO deadlines (ticket_id, property, round, rule_id, standard, title, purpose, step, steps, started_at, due_at, tell,
                                       state, fired_at, met_at)
                SELECT $1, $2, 1, $3, $3, $3, 'escalation', 1, 1, t.created_at, ($4::timestamp AT TIME ZONE p.time_zone), '[]', $5,
                       CASE WHEN $5 = 'fired' THEN ($4::timestamp AT TIME ZONE p.time_zone) END, ($6::timestamp AT TIME ZONE p.time_zone)
                FROM tickets t JOIN properties p ON p.code = t.property WHERE t.id = $1
                """, [ticket, property, rule, due, state, met])
        }

    }
}
