import Foundation

/// CPU time per executable, from `/proc` (Linux): what each part of the suite costs while a
/// benchmark runs. Processes that exit between two snapshots are not counted.
struct CPUUsage {
    /// Seconds of user + system CPU so far, by executable name (`postgres`, `beam.smp`, `intake`, …).
    var seconds: [String: Double] = [:]
    /// Seconds the whole machine was busy (every CPU, everything but idle and I/O wait).
    var machine: Double = 0
    var at = ContinuousClock.now

    static func now() -> CPUUsage {
        var usage = CPUUsage()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let fm = FileManager.default
        for pid in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {
            guard let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after "(comm) ": state is the first; utime and stime are the 12th and 13th.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            let name = (exe as NSString).lastPathComponent.replacingOccurrences(of: " (deleted)", with: "")
            usage.seconds[name, default: 0] += (user + system) / ticks
        }
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
           let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) {
            let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            // user nice system idle iowait irq softirq steal
            if v.count >= 8 { usage.machine = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks }
        }
        return usage
    }

    /// Cores used per part between `earlier` and this snapshot, largest first; by the machine; and
    /// the machine's busy CPU seconds in all.
    func cores(since earlier: CPUUsage) -> (parts: [(String, Double)], machine: Double, busySeconds: Double) {
        let elapsed = Double((at - earlier.at).components.seconds) + Double((at - earlier.at).components.attoseconds) / 1e18
        guard elapsed > 0 else { return ([], 0, 0) }
        let parts = seconds.compactMap { name, s -> (String, Double)? in
            let used = (s - (earlier.seconds[name] ?? 0)) / elapsed
            return used >= 0.01 ? (name == "beam.smp" ? "rabbitmq" : name, used) : nil
        }.sorted { $0.1 > $1.1 }
        return (parts, (machine - earlier.machine) / elapsed, machine - earlier.machine)
    }
}
