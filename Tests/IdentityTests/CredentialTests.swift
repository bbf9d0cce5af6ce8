import Foundation
import Identity
import Testing

@Suite("Credentials: second factor, tokens, passwords (pure)")
struct CredentialTests {
    /// RFC 6238 appendix B, SHA-1, T = 59 s: 94287082, of which an app shows the last six digits.
    @Test func theSecondFactorCodeIsTheRFC6238Code() {
        #expect(SecondFactor.code(secret: "12345678901234567890", at: Date(timeIntervalSince1970: 59)) == "287082")
        #expect(SecondFactor.code(secret: "12345678901234567890", at: Date(timeIntervalSince1970: 1_111_111_109)) == "081804")
    }

    @Test func aCodeFromTheStepBeforeOrAfterIsAcceptedButNotFromTwoStepsAway() {
        let secret = SecondFactor.newSecret()
        let now = Date(timeIntervalSince1970: 1_800_000_015)
        #expect(SecondFactor.verify(SecondFactor.code(secret: secret, at: now), secret: secret, at: now))
        #expect(SecondFactor.verify(SecondFactor.code(secret: secret, at: now.addingTimeInterval(-30)), secret: secret, at: now))
        #expect(SecondFactor.verify(SecondFactor.code(secret: secret, at: now.addingTimeInterval(30)), secret: secret, at: now))
        let old = SecondFactor.code(secret: secret, at: now.addingTimeInterval(-90))
        if old != SecondFactor.code(secret: secret, at: now) { #expect(!SecondFactor.verify(old, secret: secret, at: now)) }
        #expect(!SecondFactor.verify("12345", secret: secret, at: now))
        #expect(!SecondFactor.verify("١٢٣٤٥٦", secret: secret, at: now), "Arabic-Indic digits are not a code")
    }

    @Test func theEnrolmentAddressCarriesTheSecretInBase32() {
        let url = SecondFactor.enrolmentURL(secret: "12345678901234567890", login: "li.mei")
        #expect(url.hasPrefix("otpauth://totp/PropDesk:li.mei?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"))
        #expect(url.contains("issuer=PropDesk"))
    }

    @Test func tokensAreRandomAndOnlyTheirHashIsComparable() {
        let a = SessionToken.make(), b = SessionToken.make()
        #expect(a != b)
        #expect(SessionToken.looksValid(a))
        #expect(SessionToken.hash(a).count == 64)
        var altered = Array(a)
        altered[0] = altered[0] == "A" ? "B" : "A"
        #expect(SessionToken.hash(String(altered)) != SessionToken.hash(a))
        #expect(!SessionToken.looksValid(a + "x") && !SessionToken.looksValid("short"))
    }

    @Test func shortOrControlCharacterPasswordsAreRefused() {
        #expect(Passwords.problem("correct horse") == nil)
        #expect(Passwords.problem("short") != nil)
        #expect(Passwords.problem("long enough\u{0}but") != nil)
        #expect(Passwords.problem(String(repeating: "x", count: 73)) != nil)
    }
}
