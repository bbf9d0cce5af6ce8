/// The words of the service desk (STANDARDS.md "Ticket kinds", "Departments"). Raw values are the
/// wire and database spelling: lower-case snake_case, also used in routing keys.

/// 工单类型 — what the caller wants.
public enum TicketKind: String, CaseIterable, Codable, Sendable {
    case complaint          // 投诉
    case repair             // 报修
    case emergency          // 紧急事故
    case inquiry            // 咨询
    case doorOpen = "door_open"             // 开门
    case lockChange = "lock_change"         // 破/换锁
    case keyLoan = "key_loan"               // 钥匙借用
    case parcel             // 快件/挂号信/汇款单
    case paidService = "paid_service"       // 有偿/特约服务
    case moveIn = "move_in"                 // 入住
    case moveOut = "move_out"               // 迁出
    case decoration         // 装修
    case itemLoan = "item_loan"             // 物品借用(雨伞)
    case publicAnomaly = "public_anomaly"   // 公共区域异常
    case nameplate          // 水牌
    case fee                // 物业费
}

/// How the request reached the desk.
public enum IntakeChannel: String, CaseIterable, Codable, Sendable {
    case phone, visit, letter, wechat, app, web, patrol
}

/// 部门.
public enum Department: String, CaseIterable, Codable, Sendable {
    case customerService = "customer_service"   // 客服部/客务部
    case engineering        // 工程部
    case security           // 保安部(中控室)
    case cleaning           // 环境部/保洁
    case concierge          // 礼宾部
    case finance            // 财务部
    case sales              // 销售部
    case hr                 // 人事部
    case management         // 管理处主任/总经理
    case audit              // 审计部: audits repair costs over the customer-service limit (B4)
}

/// A member of staff's role (STANDARDS.md "Departments"); an account holds one or more
/// (table `staff`), and ``AccessPolicy`` says what each may do.
public enum StaffRole: String, CaseIterable, Codable, Sendable {
    case operator_ = "operator"                 // 前台/接待员
    case supervisor                             // 主管
    case departmentManager = "department_manager" // 经理
    case generalManager = "general_manager"     // 总经理
    case viceGeneralManager = "vice_general_manager" // 副总经理
    case technician                             // 值班技工 and other department staff
    case controlRoom = "control_room"           // 中控室
    case chiefEngineer = "chief_engineer"       // 总工程师: heads engineering
    case finance                                // 财务: money, not tickets

    /// P1: who may read a resident's full phone number. The desk calls residents back; department
    /// staff work from the unit and reach the resident through the desk.
    public var seesResidentContact: Bool {
        switch self {
        case .operator_, .supervisor, .departmentManager, .generalManager, .viceGeneralManager: true
        case .technician, .controlRoom, .chiefEngineer, .finance: false
        }
    }

    /// The desk and those above it: they record what residents agree to and say on the phone
    /// (extensions, follow-up calls).
    public var worksTheDesk: Bool { self == .operator_ || supervises }

    /// Supervisors and above: they hand work to a named person.
    public var supervises: Bool {
        switch self {
        case .supervisor, .departmentManager, .generalManager, .viceGeneralManager, .chiefEngineer: true
        case .operator_, .technician, .controlRoom, .finance: false
        }
    }
}

/// C5 complaint tiers.
public enum ComplaintSeverity: String, CaseIterable, Codable, Sendable {
    case major, important, minor
}

/// R2 emergencies: engineering and security within one minute.
public enum EmergencyType: String, CaseIterable, Codable, Sendable {
    case powerTrip = "power_trip"           // 掉闸断电
    case waterLeak = "water_leak"           // 跑水
    case stoppedLift = "stopped_lift"       // 停梯
    case liftEntrapment = "lift_entrapment" // 电梯困人
    case fireAlarm = "fire_alarm"           // 消防报警
}

/// Work-order priority, highest first. Emergencies are `urgent`.
public enum WorkOrderPriority: String, CaseIterable, Codable, Sendable, Comparable {
    case urgent, high, normal, low

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank > rhs.rank }
}
