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
            "PROPDESK_SMTP_URL": "smtp+starttls://desk:secret@mail.example.com",
            "PROPDESK_NOTIFY_LIMITS": "sms=5/s,dingtalk=20/min,email=none",
            "PROPDESK_DINGTALK_ROBOTS": "security=https://oapi.dingtalk.com/robot/send?access_token=t",
            "PROPDESK_DINGTALK_SECRETS": "security=SECabc",
        ])
        #expect(s.wecomRobots.keys.sorted() == ["engineering", "security"])
        #expect(s.smtp?.port == 587 && s.smtp?.security == .startTLS && s.smtp?.user == "desk")
        #expect(s.limits == [.sms: ChannelLimit(count: 5, window: .seconds(1)), .dingtalk: ChannelLimit(count: 20, window: .seconds(60))])
        #expect(s.dingtalkSecrets == ["security": "SECabc"])
        #expect(s.retry.maxAttempts == 5)
    }

    @Test func badValuesAreAllReportedAtOnceWithoutTheRobotsKeys() {
        #expect {
            _ = try NotifySettings.load([
                "PROPDESK_WECOM_ROBOTS": "engineering=ftp://example.com/?key=secret-key",
                "PROPDESK_NOTIFY_LIMITS": "pigeon=3/min,sms=0.5",
                "PROPDESK_NOTIFY_MAX_ATTEMPTS": "0",
                "PROPDESK_DINGTALK_SECRETS": "nobody=SECx",
                "PROPDESK_WECHAT_APP_ID": "wx123",
            ])
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            let named = Set(error.problems.map { String($0.prefix { $0 != ":" }) })
            return named == ["PROPDESK_WECOM_ROBOTS", "PROPDESK_NOTIFY_LIMITS", "PROPDESK_NOTIFY_MAX_ATTEMPTS",
                             "PROPDESK_DINGTALK_SECRETS", "PROPDESK_WECHAT_APP_SECRET"]
                && !error.description.contains("secret-key")
        }
    }

    @Test func aPasswordIsNeverSentWithoutTLSUnlessPlainAuthIsAllowedForALocalRelay() throws {
        #expect(throws: ConfigurationError.self) { try NotifySettings.load(["PROPDESK_SMTP_URL": "smtp://desk:secret@mail.example.com"]) }
        let relay = try NotifySettings.load(["PROPDESK_SMTP_URL": "smtp://desk:secret@127.0.0.1:25", "PROPDESK_SMTP_ALLOW_PLAIN_AUTH": "true"])
        #expect(relay.smtp?.security == SMTPServer.Security.none)
        #expect(try NotifySettings.load(["PROPDESK_SMTP_URL": "smtps://desk:secret@smtp.exmail.qq.com"]).smtp?.port == 465)
        #expect(throws: ConfigurationError.self) { try NotifySettings.load(["PROPDESK_SMTP_URL": "http://mail.example.com"]) }
    }

    @Test func weChatTemplatesNameAResidentMessageATemplateIDAndWhichFactFillsEachField() throws {
        let s = try NotifySettings.load([
            "PROPDESK_WECHAT_APP_ID": "wx123", "PROPDESK_WECHAT_APP_SECRET": "s",
            "PROPDESK_WECHAT_TEMPLATES": "received=T1:character_string1=number,thing2=kind,time3=time;resolved=T2:phrase1=status",
        ])
        #expect(s.wechat?.templates["received"]?.templateID == "T1")
        #expect(s.wechat?.templates["received"]?.fields.map(\.fact) == ["number", "kind", "time"])
        #expect(s.wechat?.api.absoluteString == "https://api.weixin.qq.com")
        #expect(throws: ConfigurationError.self) {
            try NotifySettings.load(["PROPDESK_WECHAT_APP_ID": "wx", "PROPDESK_WECHAT_APP_SECRET": "s",
                                     "PROPDESK_WECHAT_TEMPLATES": "escalation=T1:thing1=number"])   // a staff message
        }
    }

    @Test func theREADMEShowsEveryNotificationSettingWithItsDefault() throws {
        let read = NotifySettings.variables
        #expect(read.count >= 15, "\(read.map(\.name))")
        #expect(try ReadmeSettings().problems(for: read.map { ($0.name, $0.defaultValue) }) == [])
    }
}
