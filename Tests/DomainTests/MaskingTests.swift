import Testing
@testable import Domain

@Suite("Owner privacy (P1)")
struct MaskingTests {
    @Test(arguments: [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "+86 138****5678"),
        ("010-6512-3456", "010****3456"),
        ("12345", "***45"),
        ("", "***"),
        ("  ", "***"),
    ])
    func aPhoneNumberKeepsOnlyItsEnds(raw: String, masked: String) {
        #expect(Masking.phone(raw) == masked)
    }

    @Test func aMaskedPhoneNeverContainsTheMiddleDigits() {
        let masked = Masking.phone("13987654321")
        #expect(!masked.contains("8765"))
    }

    @Test(arguments: [
        ("3号楼 2单元 1202", "3号楼 ***"),
        ("Tower B, 1202", "Tower ***"),
        ("3号楼2单元1202", "3号楼 ***"),
        ("1202", "***"),
    ])
    func anAddressKeepsOnlyItsBuilding(raw: String, masked: String) {
        #expect(Masking.address(raw) == masked)
    }
}

@Suite("Phone numbers typed into free text (P1)")
struct FreeTextMaskingTests {
    @Test(arguments: [
        ("请回电 13812345678 谢谢", "请回电 138****5678 谢谢"),
        ("call 138 1234 5678, after 6", "call 138****5678, after 6"),
        ("unit 1202, 3 people", "unit 1202, 3 people"),
        ("fee 2026-11", "fee 2026-11"),
    ])
    func longDigitRunsAreMaskedAndShortNumbersKept(raw: String, masked: String) {
        #expect(Masking.text(raw) == masked)
    }
}
