import Domain
import Foundation

/// The console's languages: Chinese by default, English on the switch (a cookie).
public enum ConsoleLanguage: String, CaseIterable, Sendable {
    case zh = "zh-CN"
    case en

    public static let cookieName = "propdesk_lang"

    /// The language a `Cookie` header chose; Chinese when none did.
    public init(cookieHeader: [String]) {
        var chosen = ConsoleLanguage.zh
        for field in cookieHeader {
            for pair in field.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == Self.cookieName, let language = ConsoleLanguage(rawValue: String(kv[1])) { chosen = language }
            }
        }
        self = chosen
    }

    public var other: ConsoleLanguage { self == .zh ? .en : .zh }

    /// Between the items of a list: 工程部、保安部 / engineering, security.
    public var listSeparator: String { self == .zh ? "、" : ", " }
}

/// Every word the console shows, in both languages: one table, so a page cannot show a key that
/// has no translation (``ConsoleText/missing`` is checked by a unit test).
public enum ConsoleText {
    /// key → (Chinese, English).
    static let table: [String: (String, String)] = [
        "app": ("PropDesk 物业客服", "PropDesk service desk"),
        "language_switch": ("English", "中文"),
        "sign_in": ("登录", "Sign in"),
        "sign_out": ("退出", "Sign out"),
        "login": ("登录名", "Login"),
        "password": ("密码", "Password"),
        "code": ("动态验证码(如需要)", "Authenticator code (if asked)"),
        "nav_call": ("接听来电", "Take a call"),
        "nav_board": ("工单看板", "Live board"),
        "nav_work": ("部门工作", "Department work"),
        "nav_supervisor": ("主管视图", "Supervisor"),
        "nav_reports": ("报表", "Reports"),
        "signed_in_as": ("当前用户", "Signed in as"),
        "call_title": ("接听来电", "Take a call"),
        "caller_phone": ("来电号码", "Caller's number"),
        "caller_name": ("来电人", "Caller's name"),
        "caller_found": ("来电人信息", "Who is calling"),
        "caller_none": ("登记册中无此号码", "This number is not in the register"),
        "unit_tickets": ("该单元的未结与近期工单", "Open and recent tickets of the unit"),
        "no_tickets": ("无", "None"),
        "property": ("项目", "Property"),
        "building": ("楼栋", "Building"),
        "unit": ("单元房号", "Unit"),
        "kind": ("类别", "Kind"),
        "channel": ("渠道", "Channel"),
        "category": ("分类", "Category"),
        "severity": ("投诉等级", "Complaint severity"),
        "emergency_type": ("紧急类型", "Emergency"),
        "requested_at": ("约定时间", "Requested time"),
        "content": ("内容", "What the caller says"),
        "none": ("—", "—"),
        "submit_call": ("提交工单", "File the ticket"),
        "emergency_warning": ("这是紧急情况:", "This reads as an emergency:"),
        "emergency_routing": ("将同时派工程部与保安部,1分钟内到达", "engineering and security will be sent, within one minute"),
        "filed": ("工单已建立,请向来电人报工单号:", "Ticket filed. Read this number to the caller:"),
        "routing_pending": ("正在派单…", "Being routed…"),
        "board_title": ("工单看板", "Live board"),
        "department": ("部门", "Department"),
        "status": ("状态", "Status"),
        "overdue": ("仅超时", "Overdue only"),
        "filter": ("筛选", "Filter"),
        "all": ("全部", "All"),
        "number": ("工单号", "Number"),
        "summary": ("摘要", "Summary"),
        "next_due": ("下一时限", "Next deadline"),
        "holding": ("处理部门", "Held by"),
        "no_clock": ("无计时", "no clock"),
        "live_connected": ("实时更新已连接", "Live updates on"),
        "live_lost": ("实时更新中断,正在重连…", "Live updates lost, reconnecting…"),
        "rows_shown": ("显示工单数", "Tickets shown"),
        "ticket_title": ("工单", "Ticket"),
        "timeline": ("处理记录", "Timeline"),
        "work_orders": ("派工单", "Work orders"),
        "clocks": ("服务时限", "Clocks"),
        "clock_met": ("已达标,提前", "met, early by"),
        "clock_breached": ("已超时", "breached, late by"),
        "clock_breached_open": ("已超时,仍未完成,超", "breached and still open, late by"),
        "clock_running": ("计时中,剩余", "running, left"),
        "clock_cancelled": ("已取消", "cancelled"),
        "actions": ("可执行操作", "What you may do"),
        "note_text": ("说明", "Note"),
        "resident_file": ("业主档案", "Resident's file"),
        "caller": ("来电人", "Caller"),
        "place": ("地点", "Place"),
        "taken_by": ("接听人", "Taken by"),
        "created_at": ("建立时间", "Filed at"),
        "assignee": ("处理人", "Assignee"),
        "priority": ("优先级", "Priority"),
        "work_title": ("部门工作", "Department work"),
        "take_next": ("领取下一单", "Take the next order"),
        "transfer_to": ("转派到", "Transfer to"),
        "supervisor_title": ("主管视图", "Supervisor"),
        "at_risk": ("即将到期", "At risk"),
        "within_minutes": ("分钟内到期", "minutes ahead"),
        "breaches_today": ("今日超时", "Breaches today"),
        "follow_ups_due": ("待回访", "Follow-up calls due"),
        "follow_up_rate": ("回访率", "Follow-up rate"),
        "on_duty": ("当前值班", "On duty now"),
        "role": ("岗位", "Role"),
        "person": ("人员", "Person"),
        "nobody_on_duty": ("无人值班", "nobody on duty"),
        "file_requests": ("待批准的档案查阅申请", "File requests waiting for approval"),
        "reports_title": ("报表", "Reports"),
        "deadline_report": ("服务时限达标情况", "Deadlines met and breached"),
        "follow_up_report": ("回访情况", "Follow-up calls"),
        "weekly_complaints": ("投诉处理周报", "Weekly complaint report"),
        "week_of": ("所在周", "Week of"),
        "complaints_this_week": ("本周投诉", "Complaints this week"),
        "last_week": ("上周", "Last week"),
        "within_time": ("全部时限内处理", "Handled within every time limit"),
        "pareto": ("投诉分类排列图（帕累托）", "Complaints by category (Pareto)"),
        "pareto_line": ("80%", "80%"),
        "vital_few": ("主要问题", "Vital few"),
        "cumulative": ("累计占比", "Cumulative"),
        "share": ("占比", "Share"),
        "count": ("件数", "Count"),
        "uncategorised": ("未分类", "uncategorised"),
        "no_severity": ("未定级", "not graded"),
        "carried_over": ("周末仍未结案", "Still open at the week's end"),
        "download_csv": ("下载 CSV", "Download CSV"),
        "statistics": ("月度/季度统计", "Monthly and quarterly statistics"),
        "generated_at": ("生成于", "Generated"),
        "month_or_quarter": ("月份或季度", "Month or quarter"),
        "tickets_taken": ("受理工单", "Tickets taken"),
        "target": ("目标", "target"),
        "decoration_complaint_rate": ("装修投诉率", "Decoration complaint rate"),
        "by_kind": ("按类型", "By kind"),
        "by_channel": ("按渠道", "By channel"),
        "by_department": ("按部门", "By department"),
        "repairs_by_trade": ("维修按工种", "Repairs by trade"),
        "no_trade": ("未注明工种", "no trade given"),
        "all_kinds": ("全部", "All kinds"),
        "resolved_count": ("已解决", "Resolved"),
        "resolve_p50": ("解决用时中位数", "Time to resolve, median"),
        "resolve_p90": ("解决用时 P90", "Time to resolve, p90"),
        "met": ("达标", "met"),
        "clause": ("条款", "Clause"),
        "clock_title": ("时限要求", "Time limit"),
        "compliance": ("达标率", "Compliance"),
        "late_p50": ("超时中位数", "Late, median"),
        "late_p90": ("超时 P90", "Late, p90"),
        "late_max": ("最长超时", "Latest"),
        "still_late": ("超时未完成", "Still late"),
        "breached": ("超时", "breached"),
        "running": ("计时中", "running"),
        "from": ("自", "From"),
        "to": ("至", "To"),
        "show": ("查看", "Show"),
        "request_file": ("申请查阅", "Ask to read"),
        "phone": ("电话", "Phone"),
        "email": ("邮箱", "E-mail"),
        "relation": ("关系", "Relation"),
        "preferred_channel": ("首选联系方式", "Preferred channel"),
        "reason": ("理由", "Reason"),
        "approve": ("批准", "Approve"),
        "file_waiting": ("申请已提交,等待经理批准", "Asked; waiting for a manager's approval"),
        "error_title": ("出错了", "Something is wrong"),
        "not_found": ("没有此记录,或您无权查看", "Nothing here, or not yours to see"),
        "forbidden": ("您的岗位不能使用此页面", "Your role may not use this page"),
        "back": ("返回", "Back"),
        "updated": ("已更新", "Updated"),
        "reached": ("已联系", "reached"),
        "due": ("应回访", "due"),
        "minutes": ("分钟", "min"),
        "in_time": ("按时", "in time"),
        // The records page (P2, T9) and the repair sign-off (R5).
        "nav_records": ("交接·钥匙·回访", "Handover, keys, surveys"),
        "records_title": ("交接班、钥匙与回访", "Shift handover, keys and surveys"),
        "handover_title": ("交接班记录", "Shift handover"),
        "handover_outgoing": ("交班", "Outgoing"),
        "handover_incoming": ("接班", "Incoming"),
        "handover_amendment": ("补记", "Amended by"),
        "handover_sign": ("我签字", "Sign as me"),
        "handover_countersign_login": ("接班人登录名", "Incoming login"),
        "handover_countersign": ("接班人在此签字", "Countersign here"),
        "handover_amend": ("补记内容", "Amendment"),
        "handover_amend_button": ("补记", "Amend"),
        "handover_none": ("尚无交接记录", "No handover yet"),
        "handover_new": ("写交接班记录", "Write the handover"),
        "handover_shift": ("班次", "Shift"),
        "handover_items": ("待办事项(每行一项, 已按未完成工单预填)", "Pending items (one a line, pre-filled from open work)"),
        "handover_notes": ("备注", "Notes"),
        "handover_write": ("保存交接记录", "Save the handover"),
        "handover_draft": ("草稿", "draft"),
        "handover_awaiting_incoming": ("待接班签字", "awaiting the incoming shift"),
        "handover_signed": ("双方已签字", "signed by both shifts"),
        "keys_title": ("钥匙登记", "Key register"),
        "key_label": ("钥匙", "Key"),
        "key_copies": ("把数", "Copies"),
        "key_out": ("借出", "Out"),
        "key_special": ("特殊房间", "special room"),
        "key_loans_open": ("未归还", "Not back"),
        "key_borrower": ("借用人", "Borrower"),
        "key_due": ("应还时间", "Due back"),
        "key_return": ("登记归还", "Record the return"),
        "key_approve": ("批准", "Approve"),
        "key_refuse": ("不批准", "Refuse"),
        "key_lend": ("借出钥匙", "Lend a key"),
        "key_ticket": ("借用工单", "Key-loan ticket"),
        "key_relation": ("与业主关系", "Relation"),
        "key_authorisation": ("业主书面授权编号", "Owner's written authorisation (ref.)"),
        "key_phone_with": ("电话确认的业主", "Owner confirmed by phone"),
        "key_phone_at": ("电话确认时间", "Phone confirmation at"),
        "key_lend_rule": ("非业主借用须有业主书面授权并电话确认; 特殊房间钥匙须部门经理批准。",
                          "A non-owner needs the owner's written authorisation and a phone confirmation; a special room's key needs a department head."),
        "key_no_ticket": ("先为借用登记一张钥匙借用工单。", "File a key-loan ticket for the request first."),
        "key_count": ("每日钥匙盘点", "Daily key count"),
        "key_count_button": ("提交盘点", "Submit the count"),
        "key_counted_today": ("今日已盘点", "Counted today"),
        "key_not_counted_today": ("今日尚未盘点", "Not counted today"),
        "key_last_count": ("上次盘点", "last count"),
        "key_discrepancies": ("差异", "discrepancies"),
        "surveys_title": ("满意度回访抽样", "Satisfaction surveys"),
        "survey_kind": ("类型", "Kind"),
        "survey_quarterly": ("季度 (≥20%)", "quarterly (≥20%)"),
        "survey_annual": ("年度 (10–25%)", "annual (10–25%)"),
        "survey_first_round": ("新小区首轮 (≥90%)", "new estate's first round (≥90%)"),
        "survey_period": ("期间", "Period"),
        "survey_period_hint": ("留空为本期; 如 2026-Q4 / 2026", "empty: this period; like 2026-Q4 / 2026"),
        "survey_share": ("抽样比例 %", "Share %"),
        "survey_households": ("户数", "Households"),
        "survey_drawn": ("抽中", "Drawn"),
        "survey_coverage": ("覆盖率", "Coverage"),
        "survey_answered": ("已回访", "Answered"),
        "survey_pending": ("待回访", "Pending"),
        "survey_refused_unreachable": ("拒访 / 未接通", "Refused / unreachable"),
        "survey_satisfaction": ("满意度", "Satisfaction"),
        "survey_none": ("尚未抽样", "No survey drawn yet"),
        "survey_draw": ("抽取样本", "Draw a sample"),
        "survey_draw_rule": ("从住户登记中按户随机抽取; 一年内已回访的户和不同意联系的住户不抽。",
                             "Drawn at random from the residents register by household; none asked within the year, none who refused contact."),
        "survey_next": ("下一户", "Next household"),
        "survey_call": ("回访电话", "Survey call"),
        "survey_outcome": ("结果", "Outcome"),
        "survey_outcome_answered": ("已回答", "answered"),
        "survey_outcome_refused": ("拒绝回答", "refused"),
        "survey_outcome_unreachable": ("未接通", "unreachable"),
        "survey_score": ("满意度 (1–5)", "Satisfaction (1–5)"),
        "survey_comments": ("意见", "Comments"),
        "survey_record": ("记录回访结果", "Record the answer"),
        "survey_done": ("本次抽样已全部回访", "Every household drawn has been called"),
        "survey_quiet": ("住户休息时间不打回访电话:", "No survey calls in residents' quiet hours:"),
        "relation_owner": ("业主", "owner"),
        "relation_tenant": ("租户", "tenant"),
        "relation_family": ("家属", "family"),
        "relation_agent": ("代理人", "agent"),
        "relation_contractor": ("施工方", "contractor"),
        "relation_staff": ("本处员工", "staff"),
        "loan_out": ("已借出", "out"),
        "loan_awaiting_approval": ("待批准", "awaiting approval"),
        "loan_returned": ("已归还", "returned"),
        "loan_refused": ("未批准", "refused"),
        "signoff_title": ("完工验收与客户签字", "Inspection and the customer's signature"),
        "signoff_class": ("维修类别", "Repair class"),
        "signoff_class_a": ("A类 保修期内 (开发商/施工方承担)", "A: under warranty (the builder pays)"),
        "signoff_class_b": ("B类 公司承担", "B: the company pays"),
        "signoff_contractor": ("保修施工方", "Warranty contractor"),
        "signoff_note": ("验收情况", "Inspection"),
        "signoff_signer": ("客户签名(姓名)", "Customer's name"),
        "signoff_draw": ("手写签名(可选)", "Drawn signature (optional)"),
        "signoff_clear": ("清除", "Clear"),
        "signoff_button": ("验收签字", "Sign off"),
        "signoff_done": ("已验收签字", "Signed off"),
    ]

    public static func get(_ key: String, _ language: ConsoleLanguage) -> String {
        guard let pair = table[key] else { return key }
        return language == .zh ? pair.0 : pair.1
    }

    /// Every key for a language, for the templates' `{{t.key}}`.
    public static func all(_ language: ConsoleLanguage) -> [String: String] {
        language == .zh ? allChinese : allEnglish
    }

    private static let allChinese = table.mapValues(\.0)
    private static let allEnglish = table.mapValues(\.1)

    /// The words of the vocabularies (kinds, statuses, departments, …) in one language.
    public static func label(_ value: String, _ language: ConsoleLanguage) -> String {
        guard let pair = labels[value] else { return value.replacingOccurrences(of: "_", with: " ") }
        return language == .zh ? pair.0 : pair.1
    }

    /// Values of the domain's enums → (Chinese, English). Values shared by two enums (`on_site`)
    /// read the same in both.
    static let labels: [String: (String, String)] = [
        // TicketKind
        "complaint": ("投诉", "complaint"), "repair": ("报修", "repair"), "emergency": ("紧急事故", "emergency"),
        "inquiry": ("咨询", "inquiry"), "door_open": ("开门", "door opening"), "lock_change": ("破/换锁", "lock change"),
        "key_loan": ("钥匙借用", "key loan"), "parcel": ("快件", "parcel"), "paid_service": ("有偿服务", "paid service"),
        "move_in": ("入住", "move in"), "move_out": ("迁出", "move out"), "decoration": ("装修", "decoration"),
        "item_loan": ("物品借用", "item loan"), "public_anomaly": ("公共区域异常", "public area"), "nameplate": ("水牌", "nameplate"),
        "fee": ("物业费", "fees"),
        // TicketStatus / WorkOrderStatus
        "open": ("待处理", "open"), "acknowledged": ("已受理", "acknowledged"), "on_site": ("已到场", "on site"),
        "resolved": ("已解决", "resolved"), "closed": ("已关闭", "closed"), "cancelled": ("已取消", "cancelled"),
        "assigned": ("待领取", "waiting"), "accepted": ("已接单", "accepted"), "done": ("已完成", "done"),
        "transferred": ("已转派", "transferred"),
        // Department
        "customer_service": ("客服部", "customer service"), "engineering": ("工程部", "engineering"), "security": ("保安部", "security"),
        "cleaning": ("环境部", "cleaning"), "concierge": ("礼宾部", "concierge"), "finance": ("财务部", "finance"),
        "sales": ("销售部", "sales"), "hr": ("人事部", "HR"), "management": ("管理处", "management"), "audit": ("审计部", "audit"),
        // ComplaintSeverity
        "major": ("重大", "major"), "important": ("重要", "important"), "minor": ("一般", "minor"),
        // EmergencyType
        "power_trip": ("掉闸断电", "power trip"), "water_leak": ("跑水", "water leak"), "stopped_lift": ("停梯", "stopped lift"),
        "lift_entrapment": ("电梯困人", "lift entrapment"), "fire_alarm": ("消防报警", "fire alarm"),
        // WorkOrderPriority
        "urgent": ("紧急", "urgent"), "high": ("高", "high"), "normal": ("普通", "normal"), "low": ("低", "low"),
        // IntakeChannel
        "phone": ("电话", "phone"), "visit": ("来访", "visit"), "letter": ("来信", "letter"), "wechat": ("微信", "WeChat"),
        "app": ("App", "app"), "web": ("网页", "web"), "patrol": ("巡查", "patrol"),
        // TicketAction / WorkOrderAction (buttons)
        "acknowledge": ("受理", "Acknowledge"), "note": ("备注进展", "Add a note"), "resolve": ("解决", "Resolve"),
        "close": ("关闭", "Close"), "reopen": ("重开", "Reopen"), "cancel": ("取消", "Cancel"), "accept": ("接单", "Accept"),
        "transfer": ("转派", "Transfer"), "release": ("退回队列", "Give back"), "reassign": ("改派", "Reassign"),
        "on_site_action": ("到场", "On site"), "extend": ("客户同意延期", "Extend (customer agreed)"),
        "follow_up": ("记录回访", "Record a follow-up call"),
        // A resident's relation to the unit and how they like to be reached
        "owner": ("业主", "owner"), "tenant": ("租户", "tenant"), "family": ("家属", "family"), "custodian": ("代管人", "custodian"),
        "sms": ("短信", "SMS"), "email": ("邮件", "e-mail"),
        // StaffRole
        "operator": ("前台接待", "operator"), "supervisor": ("主管", "supervisor"), "department_manager": ("部门经理", "department manager"),
        "general_manager": ("总经理", "general manager"), "vice_general_manager": ("副总经理", "vice general manager"),
        "technician": ("技工", "technician"), "control_room": ("中控室", "control room"), "chief_engineer": ("总工程师", "chief engineer"),
    ]

    /// Labels of `values` in one language as JSON (`{value: label}`), for a page's script.
    public static func labelsJSON(_ values: [String], _ language: ConsoleLanguage) -> String {
        let words = Dictionary(uniqueKeysWithValues: values.map { ($0, label($0, language)) })
        let data = (try? JSONSerialization.data(withJSONObject: words, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// What the API's refusals mean, by their `code`, for the alert a page shows (the API's own
    /// message, in English, follows it).
    static let errors: [ErrorCode: (String, String)] = [
        .validationFailed: ("请检查填写的内容", "Check what was entered"),
        .required: ("有必填项未填", "Something required is missing"),
        .unknownValue: ("有一项的值不在可选范围内", "A value is not one of the choices"),
        .notAllowed: ("不允许这样填写", "That is not allowed here"),
        .tooLong: ("内容太长", "Too long"),
        .invalidFormat: ("格式不对", "Not in the right format"),
        .invalidUtf8: ("含有无法识别的字符", "Unreadable characters"),
        .invalidJson: ("请求格式不对", "The request is malformed"),
        .unknownProperty: ("没有这个项目", "No such property"),
        .idempotencyKeyReused: ("这张表单已提交过不同的内容,请刷新页面后重填", "This form was already sent with other content: reload and fill it again"),
        .illegalTransition: ("当前状态不允许此操作", "Not possible in the current status"),
        .forbidden: ("您的岗位不能执行此操作", "Your role may not do this"),
        .notFound: ("没有找到,或不在您的范围内", "Not found, or not yours to see"),
        .bodyTooLarge: ("内容太多", "Too much content"),
        .unsupportedMediaType: ("请求格式不对", "The request is malformed"),
        .notSignedIn: ("请重新登录", "Sign in again"),
        .invalidCredentials: ("登录名、密码或验证码不正确", "The login, password or code is not right"),
        .secondFactorRequired: ("请输入动态验证码", "Enter the authenticator code"),
        .tooManyAttempts: ("失败次数过多,请稍后再试", "Too many failed attempts: try again later"),
        .csrfTokenMissing: ("页面已过期,请刷新", "This page has expired: reload it"),
        .approvalRequired: ("查阅业主档案需经批准", "Reading this file needs an approval"),
        .amountNotNumeric: ("金额格式不对,请填写如 1000.00", "Write the amount like 1000.00"),
        .amountNegative: ("金额不能为负", "The amount may not be negative"),
        .amountZero: ("金额必须大于零", "The amount must be more than zero"),
        .amountTooLarge: ("金额过大", "The amount is too large"),
        .amountTooPrecise: ("金额最多两位小数", "At most two decimals"),
        .amountOverBalance: ("金额超过应收或已付金额", "More than is owed or was paid"),
        .quoteNotAccepted: ("报价尚未经业主确认,不能施工或收费", "The resident has not accepted the price yet"),
        .receiptKeyInvalid: ("短信回执缺少或带错了共享密钥", "The SMS receipt lacks the shared key, or has the wrong one"),
        .ownerAuthorisationRequired: ("非业主借用须有业主书面授权并电话确认", "A non-owner needs the owner's written authorisation and a phone confirmation"),
        .lockChangeIncomplete: ("换锁须先核验证件, 且客服、礼宾、工程三方到场", "A lock change needs the ID check and customer service, concierge and engineering on site"),
        .keyNotReturned: ("借出的钥匙尚未归还或待批准, 不能完成", "The key lent is not back, or its loan awaits approval"),
        .recordSigned: ("记录已签字, 只能补记", "The record is signed: it can only be amended"),
        .sameSigner: ("接班须由另一人签字", "The incoming shift signs with another login"),
        .keyUnavailable: ("该钥匙已全部借出", "Every copy of this key is out"),
        .sampleTooSmall: ("可抽样住户不足(一年内已访或不同意联系)", "Too few households left to sample"),
        .quietHours: ("现在是住户休息时间, 请稍后再打", "Residents' quiet hours: call later"),
        .databaseUnavailable: ("系统暂时不可用,请稍后再试", "Unavailable for a moment: try again"),
        .internalError: ("系统出错,已记录", "Something went wrong on our side; it is logged"),
    ]

    /// ``errors`` in one language as JSON (`{code: words}`), for the page's script.
    public static func errorsJSON(_ language: ConsoleLanguage) -> String {
        language == .zh ? errorsChinese : errorsEnglish
    }

    private static let errorsChinese = errorsJSON(chinese: true)
    private static let errorsEnglish = errorsJSON(chinese: false)

    private static func errorsJSON(chinese: Bool) -> String {
        let words = Dictionary(uniqueKeysWithValues: errors.map { ($0.key.rawValue, chinese ? $0.value.0 : $0.value.1) })
        let data = (try? JSONSerialization.data(withJSONObject: words, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Refusal codes without words (a new code must get them).
    public static var missingErrors: [String] { ErrorCode.allCases.filter { errors[$0] == nil }.map(\.rawValue) }

    /// Keys the domain has that ``labels`` does not: a new enum case must get its words.
    public static var missingLabels: [String] {
        let values = TicketKind.allCases.map(\.rawValue) + TicketStatus.allCases.map(\.rawValue) + WorkOrderStatus.allCases.map(\.rawValue)
            + Department.allCases.map(\.rawValue) + ComplaintSeverity.allCases.map(\.rawValue) + EmergencyType.allCases.map(\.rawValue)
            + WorkOrderPriority.allCases.map(\.rawValue) + IntakeChannel.allCases.map(\.rawValue) + StaffRole.allCases.map(\.rawValue)
            + TicketAction.allCases.map(\.rawValue) + WorkOrderAction.allCases.map(\.rawValue)
        return values.filter { labels[$0] == nil }
    }
}
