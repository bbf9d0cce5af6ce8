import Domain

/// The standard clocks' titles in Chinese, for the console's Chinese pages. Keyed by the English
/// title the rule carries (``StandardClocks``, ``MoneyClocks``), so a rule an office retitled is
/// shown as the office wrote it, in either language.
public enum ClockTitles {
    public static func title(_ title: String, _ language: ConsoleLanguage) -> String {
        language == .zh ? chinese[title] ?? title : title
    }

    static let chinese: [String: String] = [
        "Complaint reported to the supervisor and department manager within 5 min": "投诉 5 分钟内报告主管和部门经理",
        "Supervisor or manager on site with the complainant within 10 min": "主管或经理 10 分钟内到场见投诉人",
        "Major complaint reported to the general manager within 10 min": "重大投诉 10 分钟内报告总经理",
        "Result to the department manager and GM by the end of the working day or the next morning meeting":
            "处理结果当日下班前或次日早会报部门经理和总经理",
        "Major complaint to the property manager the same day": "重大投诉当天报物业经理",
        "Major complaint: a clear answer within 2 days": "重大投诉 2 天内给出明确答复",
        "Major complaint resolved within 10 days": "重大投诉 10 天内解决",
        "Important complaint to the department head within 1 working hour": "重要投诉 1 个工作小时内报部门负责人",
        "Important complaint resolved within 3 days": "重要投诉 3 天内解决",
        "Minor complaint resolved within 2 days or by the customer's requested time": "一般投诉 2 天内或按客户约定时间解决",
        "Complainant told the result the same day": "当天将处理结果告知投诉人",
        "Department feedback to customer service within 3 working days": "部门 3 个工作日内向客服反馈",
        "Repair sent to engineering as a work order within 15 min": "报修 15 分钟内派工单给工程部",
        "Emergency: engineering and security called within 1 min": "紧急事件 1 分钟内通知工程部和保安部",
        "Emergency in the caller's words: engineering and security called within 1 min": "来电描述为紧急事件: 1 分钟内通知工程部和保安部",
        "Filed before 17:00 and not repaired that day: engineering reminded by 09:00 next day": "17:00 前报修当天未修好: 次日 09:00 前催办工程部",
        "Filed after 17:00 and not repaired by 12:00 next day: reminded, due by 17:00": "17:00 后报修次日 12:00 未修好: 催办, 17:00 前完成",
        "Site survey within 1 working day": "1 个工作日内现场查看",
        "Repair done within 3 working days": "3 个工作日内修好",
        "Repair in progress: customer updated with an expected finish time": "维修进行中: 告知客户预计完工时间",
        "Inquiry answered by the committed reply time": "咨询在承诺时间内答复",
        "Every hotline message answered within 72 h": "热线留言 72 小时内答复",
        "Staff at the door within 10 min": "10 分钟内到门口",
        "Parcel delivered to the room within 10 min": "快件 10 分钟内送到房间",
        "Move-out joint inspection within 10 min": "退房 10 分钟内联合验房",
        "Room cleaned within 2 days of move-out": "退房后 2 天内清洁房间",
        "Move-in joint inspection within 3 days": "入住 3 天内联合验房",
        "Public-area anomaly to the department manager within 15 min": "公共区域异常 15 分钟内报部门经理",
        "Nameplate made within 7 days": "门牌 7 天内做好",
        "Lent key returned by its due time": "借出的钥匙按时归还",
        "Decoration application reviewed within 2 days": "装修申请 2 天内审核",
        "Resolved complaint followed up within 24 h": "投诉处理完 24 小时内回访",
        "Safety-facility repair followed up within 2 days": "安全设施维修 2 天内回访",
        "Leak repair followed up within 3 days of the water test": "渗漏维修闭水试验后 3 天内回访",
        "Completed repair followed up by phone within 1 working day": "维修完工 1 个工作日内电话回访",
        "Resident not reached on the follow-up call: call again": "回访未联系上住户: 再打一次",
        "Problem found on follow-up back to the department within 24 h": "回访发现问题 24 小时内退回部门",
        "Disputed price escalated to the department head": "价格有争议, 报部门负责人",
        "Repair-cost approval waiting": "维修费用待审批",
        "Fee overdue: remind the resident by phone or SMS": "费用逾期: 电话或短信提醒住户",
        "Still unpaid 3 months after the reminder: send the formal demand letter by express": "提醒后 3 个月仍未缴: 快递正式催缴函",
        "Demand letter unanswered: visit the resident": "催缴函无回应: 上门拜访",
        "Still unpaid after the visit: hand over for legal action": "拜访后仍未缴: 转法律程序",
        "Loaned item due back within a week": "借用物品一周内归还",
    ]
}
