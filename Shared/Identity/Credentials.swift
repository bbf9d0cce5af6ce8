import Crypto
import Foundation
import HummingbirdBcrypt
import HummingbirdOTP
import NIOPosix

/// Passwords, as bcrypt hashes (hummingbird-auth's `HummingbirdBcrypt`). Hashing and checking
/// run on NIO's blocking thread pool: a bcrypt at cost 12 takes a quarter of a second, and the
/// cooperative threads serve every other request meanwhile.
public enum Passwords {
    /// Shorter passwords are refused when an account is created.
    public static let minimumLength = 10
    public static let maximumLength = 72  // bcrypt reads no further

    public static func hash(_ password: String, cost: Int) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: UInt8(cost)) }
    }

    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// What is wrong with a new password, if anything.
    public static func problem(_ password: String) -> String? {
        if password.utf8.count < minimumLength { return "a password has at least \(minimumLength) characters" }
        if password.utf8.count > maximumLength { return "a password has at most \(maximumLength) bytes" }
        if password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) { return "a password has no control characters" }
        return nil
    }
}

/// The second factor: TOTP codes (RFC 6238, 6 digits, 30 s, SHA-1: what authenticator apps
/// expect), through hummingbird-auth's `HummingbirdOTP`.
public enum SecondFactor {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    /// A new shared secret: 20 random characters (the key is their bytes, as HummingbirdOTP takes it).
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }

    public static func code(secret: String, at date: Date = Date()) -> String {
        let value = TOTP(secret: secret).compute(date: date)
        let digits = String(value)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// The code of this step or of the one before or after (clocks drift; a code typed as the step
    /// turns is still good).
    public static func verify(_ code: String, secret: String, at date: Date = Date()) -> Bool {
        guard code.count == 6, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber) else { return false }
        return [-30.0, 0, 30].contains { constantTimeEqual(Self.code(secret: secret, at: date.addingTimeInterval($0)), code) }
    }

    /// The `otpauth://` address an authenticator app scans.
    public static func enrolmentURL(secret: String, login: String) -> String {
        TOTP(secret: secret).createAuthenticatorURL(label: "PropDesk:\(login)", issuer: "PropDesk")
    }
}

/// Session cookies and bearer tokens: 32 random bytes, URL-safe Base64. Only their SHA-256 is
/// stored, so the table cannot sign anyone in, and an altered token matches nothing.
public enum SessionToken {
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A token as the API hands them out: 43 URL-safe Base64 characters.
    public static func looksValid(_ token: String) -> Bool {
        token.utf8.count == 43 && token.utf8.allSatisfy { b in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
    }
}

/// Compares two secrets in time that depends only on their length.
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
}
