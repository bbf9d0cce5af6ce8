import Foundation
import Notify
import ServiceKit
import ContractSupport
import Testing
@testable import PropDeskNotification

@Suite("The notification service's settings")
struct NotifySettingsTests {
    @Test func channelsComeFromTheEnvironmentByName() throws {
        let s = try NotifySettings.load([
            "PROPDESK_WECOM_ROBOTS": "engineering=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1;security=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k2",
            "PROPDESK_SMTP_URL": "smtp://desk:secret@127.0.0.1:2525",
            "PROPDESK_NOTIFY_RATES": "sms=5,webhook=0",
            "PROPDESK_QUIET_HOURS": "22:00-07:30",
        ])
        #expect(s.wecomRobots.keys.sorted() == ["engineering", "security"])
        #expect(s.smtp?.port == 2525)
        #expect(s.rates == [.sms: 5])
        #expect(s.quietHours == QuietHours("22:00-07:30"))
        #expect(s.retry.maxAttempts == 5)
    }

    @Test func badValuesAreAllReportedAtOnceWithoutTheRobotsKeys() {
        #expect {
            _ = try NotifySettings.load([
                "PROPDESK_WECOM_ROBOTS": "engineering=ftp://example.com/?key=secret-key",
                "PROPDESK_NOTIFY_RATES": "pigeon=3",
                "PROPDESK_QUIET_HOURS": "late",
                "PROPDESK_NOTIFY_MAX_ATTEMPTS": "0",
            ])
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            let named = Set(error.problems.map { String($0.prefix { $0 != ":" }) })
            return named == ["PROPDESK_WECOM_ROBOTS", "PROPDESK_NOTIFY_RATES", "PROPDESK_QUIET_HOURS", "PROPDESK_NOTIFY_MAX_ATTEMPTS"]
                && !error.description.contains("secret-key")
        }
    }

    @Test func theREADMEShowsEveryNotificationSettingWithItsDefault() throws {
        let read = NotifySettings.variables
        #expect(read.count >= 15, "\(read.map(\.name))")
        #expect(try ReadmeSettings().problems(for: read.map { ($0.name, $0.defaultValue) }) == [])
    }

    @Test func aRateLimitedChannelHoldsMessagesBackAndSaysWhenToLookAgain() {
        let limiter = RateLimiter(rates: [.sms: 2])
        #expect(limiter.take(.sms) && limiter.take(.sms))
        #expect(!limiter.take(.sms))
        let wait = limiter.nextToken()
        #expect(wait.map { $0 > .zero && $0 <= .milliseconds(501) } == true)
        #expect(limiter.take(.webhook))   // no limit set
    }
}
