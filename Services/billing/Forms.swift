import Domain
import Foundation

// The bodies billing's routes take. Every field is optional here so that a missing or mistyped
// one is reported by name, all at once; amounts are ``AmountInput`` (a string of yuan, or an
// integer of fen), never a JSON number of yuan.

struct PriceListForm: Decodable, Sendable {
    struct Item: Decodable, Sendable {
        var code: String?
        var name: String?
        var unit: String?
        var price: AmountInput
        var kind: String?
        var department: String?

        enum CodingKeys: String, CodingKey {
            case code, name, unit, price, kind, department
            case priceFen = "price_fen"
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            code = try c.decodeIfPresent(String.self, forKey: .code)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            unit = try c.decodeIfPresent(String.self, forKey: .unit)
            kind = try c.decodeIfPresent(String.self, forKey: .kind)
            department = try c.decodeIfPresent(String.self, forKey: .department)
            price = try AmountInput(from: c, .price, fenKey: .priceFen)
        }
    }
    var items: [Item]?
}

struct QuoteForm: Decodable, Sendable {
    var ticketID: UUID?
    var itemCode: String?
    var description: String?
    var cost: AmountInput
    var marginPercent: Int?

    enum CodingKeys: String, CodingKey {
        case description, cost
        case costFen = "cost_fen"
        case ticketID = "ticket_id"
        case itemCode = "item_code"
        case marginPercent = "margin_percent"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ticketID = try c.decodeIfPresent(UUID.self, forKey: .ticketID)
        itemCode = try c.decodeIfPresent(String.self, forKey: .itemCode)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        marginPercent = try c.decodeIfPresent(Int.self, forKey: .marginPercent)
        cost = try AmountInput(from: c, .cost, fenKey: .costFen)
    }
}

/// A note, a reason or a resolution: one free-text field, by route.
struct TextForm: Decodable, Sendable {
    var note: String?
    var reason: String?
    var resolution: String?
}

struct PaymentForm: Decodable, Sendable {
    var chargeID: UUID?
    var billID: UUID?
    var amount: AmountInput
    var method: String?
    var reference: String?
    var payer: String?

    enum CodingKeys: String, CodingKey {
        case amount, method, reference, payer
        case amountFen = "amount_fen"
        case chargeID = "charge_id"
        case billID = "bill_id"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chargeID = try c.decodeIfPresent(UUID.self, forKey: .chargeID)
        billID = try c.decodeIfPresent(UUID.self, forKey: .billID)
        method = try c.decodeIfPresent(String.self, forKey: .method)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        payer = try c.decodeIfPresent(String.self, forKey: .payer)
        amount = try AmountInput(from: c, .amount, fenKey: .amountFen)
    }
}

struct RefundForm: Decodable, Sendable {
    var amount: AmountInput
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case amount, reason
        case amountFen = "amount_fen"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        amount = try AmountInput(from: c, .amount, fenKey: .amountFen)
    }
}

struct ApprovalForm: Decodable, Sendable {
    var workOrderID: UUID?
    var amount: AmountInput
    var description: String?
    var repairClass: String?
    var contractor: String?

    enum CodingKeys: String, CodingKey {
        case amount, description, contractor
        case amountFen = "amount_fen"
        case workOrderID = "work_order_id"
        case repairClass = "repair_class"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        workOrderID = try c.decodeIfPresent(UUID.self, forKey: .workOrderID)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        repairClass = try c.decodeIfPresent(String.self, forKey: .repairClass)
        contractor = try c.decodeIfPresent(String.self, forKey: .contractor)
        amount = try AmountInput(from: c, .amount, fenKey: .amountFen)
    }
}

struct DecisionForm: Decodable, Sendable {
    var decision: String?
    var note: String?
}

struct UnitForm: Decodable, Sendable {
    var property: String?
    var building: String?
    var unit: String?
    var area: String?
    var status: String?
    var residentID: UUID?

    enum CodingKeys: String, CodingKey {
        case property, building, unit, area, status
        case residentID = "resident_id"
    }
}

struct BillRunForm: Decodable, Sendable {
    var property: String?
    var period: String?
    var dueDate: CivilDate?

    enum CodingKeys: String, CodingKey {
        case property, period
        case dueDate = "due_date"
    }
}

struct DunningForm: Decodable, Sendable {
    var stage: String?
    var channel: String?
    var trackingNumber: String?
    var note: String?

    enum CodingKeys: String, CodingKey {
        case stage, channel, note
        case trackingNumber = "tracking_number"
    }

    /// How a step reached the resident.
    static let channels = ["phone", "sms", "express", "visit", "lawyer"]
}

struct DepositForm: Decodable, Sendable {
    var property: String?
    var itemCode: String?
    var ticketID: UUID?
    var unitID: UUID?
    var method: String?
    var reference: String?
    var payer: String?

    enum CodingKeys: String, CodingKey {
        case property, method, reference, payer
        case itemCode = "item_code"
        case ticketID = "ticket_id"
        case unitID = "unit_id"
    }
}

struct ReturnForm: Decodable, Sendable {
    /// `good`: refunded; `damaged`: forfeited.
    var condition: String?
    var note: String?
}

struct ContractorDepositForm: Decodable, Sendable {
    var property: String?
    var contractor: String?
    var amount: AmountInput
    var method: String?
    var reference: String?

    enum CodingKeys: String, CodingKey {
        case property, contractor, method, reference, amount
        case amountFen = "amount_fen"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        property = try c.decodeIfPresent(String.self, forKey: .property)
        contractor = try c.decodeIfPresent(String.self, forKey: .contractor)
        method = try c.decodeIfPresent(String.self, forKey: .method)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        amount = try AmountInput(from: c, .amount, fenKey: .amountFen)
    }
}

extension FieldCheck {
    /// The amount, or nil with its problem.
    mutating func money(_ input: AmountInput, _ field: String, allowZero: Bool = false) -> Money? {
        switch input.money(field: field, allowZero: allowZero) {
        case .success(let m): return m
        case .failure(let failure):
            failure.problems.forEach { add($0) }
            return nil
        }
    }

    /// One of `E`'s values, or nil with a problem naming the choices.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ raw: String?, _ field: String, _: E.Type, required: Bool = true) -> E? where E.RawValue == String {
        guard let raw else {
            if required { add(Problem(field: field, code: .required, message: "\(field) is required: one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")) }
            return nil
        }
        guard let value = E(rawValue: raw) else {
            add(Problem(field: field, code: .unknownValue, message: "\(field) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))"))
            return nil
        }
        return value
    }

    /// A required id.
    mutating func id(_ value: UUID?, _ field: String) -> UUID? {
        if value == nil { add(Problem(field: field, code: .required, message: "\(field) is required")) }
        return value
    }
}
