import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid. (Foundation's `Process`
/// can hang in `waitUntilExit` on Linux when the child leaves a daemon behind, as
/// `rabbitmq-server -detached` does.) Output goes to a file, read on demand.
final class Subprocess: @unchecked Sendable {
    let pid: pid_t
    let outputFile: URL
    private var status: Int32?
    /// The write end of the child's stdin when started with `openStdin`: the child blocks reading
    /// until something is written or this closes.
    private var stdinWriter: Int32 = -1

    init(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, openStdin: Bool = false) throws {
        outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-sub-\(UUID().uuidString).log")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pipeEnds: [Int32] = [-1, -1]
        if openStdin {
            guard pipe(&pipeEnds) == 0 else { throw SetupError("pipe: \(String(cString: strerror(errno)))") }
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, outputFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            env.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, env)
        if openStdin { close(pipeEnds[0]) }
        guard rc == 0 else {
            if openStdin { close(pipeEnds[1]) }
            throw SetupError("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        stdinWriter = pipeEnds[1]
    }

    /// Exit status if it has exited (reaps it), nil while it runs.
    var exitStatus: Int32? {
        if let status { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return status
    }

    var isRunning: Bool { exitStatus == nil }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for exit (polling, so it never blocks a cooperative thread for long stretches).
    func wait(timeout: Duration = .seconds(120)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        signal(SIGKILL)
        // What it said last, for whoever reads the failed run.
        let tail = output.split(separator: "\n").suffix(15).joined(separator: "\n")
        throw SetupError("process \(pid) did not exit within \(timeout); its last output:\n\(tail)")
    }

    var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }

    deinit {
        if stdinWriter >= 0 { close(stdinWriter) }
        if status == nil, exitStatus == nil { signal(SIGKILL); _ = waitpid(pid, nil, 0) }
        try? FileManager.default.removeItem(at: outputFile)
    }

    /// Runs to completion.
    static func run(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
                    timeout: Duration = .seconds(120)) async throws -> (status: Int32, output: String) {
        let p = try Subprocess(executable, arguments, environment: environment)
        let status = try await p.wait(timeout: timeout)
        return (status, p.output)
    }
}
