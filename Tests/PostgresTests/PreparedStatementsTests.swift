import Testing
@testable import Postgres

@Suite("Prepared statements")
struct PreparedStatementsTests {
    @Test func aStatementIsPreparedOnItsFirstRunAndRunByNameAfter() {
        var s = PreparedStatements()
        guard case .prepare(let name) = s.plan("SELECT 1") else { Issue.record("not prepared on first use"); return }
        s.settle("SELECT 1", name: name, prepared: true)
        #expect(s.plan("SELECT 1") == .run(name))
        #expect(s.plan("SELECT 2") != .run(name))
    }

    @Test func theSameTextTwiceInOnePipelineIsPreparedOnce() {
        var s = PreparedStatements()
        let first = s.plan("SELECT $1::int")
        guard case .prepare(let name) = first else { Issue.record("not prepared"); return }
        #expect(s.plan("SELECT $1::int") == .run(name))
    }

    @Test func aRefusedPrepareIsTriedAgainUnderANewName() {
        var s = PreparedStatements()
        guard case .prepare(let name) = s.plan("SELEKT 1") else { Issue.record("not prepared"); return }
        s.settle("SELEKT 1", name: name, prepared: false)
        guard case .prepare(let again) = s.plan("SELEKT 1") else { Issue.record("not prepared again"); return }
        #expect(again != name)
    }

    @Test func aForgottenStatementIsPreparedAfreshUnderANewName() {
        var s = PreparedStatements()
        guard case .prepare(let name) = s.plan("SELECT * FROM t") else { Issue.record("not prepared"); return }
        s.settle("SELECT * FROM t", name: name, prepared: true)
        s.forget("SELECT * FROM t")
        guard case .prepare(let again) = s.plan("SELECT * FROM t") else { Issue.record("not prepared again"); return }
        #expect(again != name)
    }

    @Test func pastTheLimitStatementsRunUnnamedAndTheFirstOnesStayPrepared() {
        var s = PreparedStatements(limit: 2)
        _ = s.plan("SELECT 1")
        _ = s.plan("SELECT 2")
        #expect(s.plan("SELECT 3") == .unnamed)
        #expect(s.count == 2)
        if case .run = s.plan("SELECT 1") {} else { Issue.record("the first statement is no longer prepared") }
    }
}
