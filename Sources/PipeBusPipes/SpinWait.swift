/// How a spinning reader waits between two empty reads, learned from what its spins saw.
///
/// A reader whose peer runs on the same vCPU must give that vCPU away (`sched_yield`), or the
/// reply cannot be written until the scheduler preempts the spinner. A reader whose peer runs on
/// another vCPU must not: there a yield only costs a syscall, and when a third task is runnable
/// on the reader's vCPU (a build), each yield hands it a time slice, which the reply then waits
/// out (the spinner never slept, so the reply's arrival preempts nothing). The reader cannot see
/// where its peer runs, and an unpinned peer moves, so it learns from each spin:
///
/// - **pause** (the CPU's spin hint between reads): a reply that arrives means the peer ran
///   elsewhere: go on pausing. A spin that runs out means it did not: yield from now on.
/// - **yield**: a reply that arrives although no yield of the spin let another task run (the
///   thread's involuntary context switches did not move) was written elsewhere: pause from now
///   on. Counting switches costs two syscalls, so only every `measureInterval`-th yielding spin
///   counts them; and every `probeInterval`-th read pauses instead, to find again a peer that
///   moved while the yields kept handing the vCPU to a third task.
/// - **held off**: a yielding spin that ends more than `heldOffNanoseconds` after its budget
///   gave the vCPU to a task that kept it for a time slice (a build at the same priority): the
///   reply, however early, waited that slice out. Pause from now on, and bar yielding for
///   `yieldBarSpins` spins: a peer on another vCPU then answers within the pausing spins; a
///   peer on this one cannot, and once a pausing spin runs out the reader **blocks** without
///   spinning until the bar lapses (blocked, its wake-up preempts that task, and the peer gets
///   the vCPU at once), but for a pausing probe every `measureInterval`-th read, which finds
///   a peer elsewhere that was only late. Measured, 64 B echo, spin 20 µs, a busy loop on each
///   vCPU: at the same priority, two-vCPU p50 3.99 ms → 4.3 µs; same-vCPU p99 4.05 ms → 48 µs;
///   at nice 10, same-vCPU p99 3.67 ms → 58 µs (6.1k → 43k calls/s).
///
/// A spin whose first read already has bytes teaches nothing. A wrong guess costs one spin's
/// budget, or its syscalls, never correctness.
struct SpinWait {
    enum Wait: Equatable {
        /// The CPU's spin hint (`pause`) between reads.
        case pause
        /// `sched_yield` between reads.
        case yield
        /// No spin: the reader blocks at once (while yielding is barred and pausing runs out).
        case block
    }

    /// What one spin is to do.
    struct Plan: Equatable {
        var wait: Wait
        /// Whether to count the thread's involuntary context switches across the spin.
        var measuresSwitches: Bool
    }

    /// How a spin ended, after at least one empty read.
    enum Outcome: Equatable {
        /// Bytes arrived; `gaveCPUAway` is whether another task ran on this vCPU meanwhile
        /// (nil: not measured).
        case arrived(gaveCPUAway: Bool?)
        /// The budget ran out with no bytes.
        case expired
        /// A yielding spin ended more than `heldOffNanoseconds` after its budget, bytes or not.
        case heldOff
    }

    static let measureInterval: UInt32 = 16
    static let probeInterval: UInt32 = 256
    /// Past a spin's budget, what only a time slice given to another task explains: a yield to a
    /// peer that answers takes microseconds; the scheduler's slices are 0.75 ms and longer.
    static let heldOffNanoseconds: UInt64 = 250_000
    /// Spins after a held-off one during which the reader does not yield. One held-off spin (a
    /// slice, ~4 ms) per this many calls while the busy task stays; once it has gone, at most
    /// this many reads that block without spinning, with the peer on the same vCPU.
    static let yieldBarSpins: UInt32 = 1_024

    /// The wait spins use, probes aside. A reader starts by pausing, which costs one spent
    /// budget if its peer shares the vCPU.
    private(set) var wait = Wait.pause
    /// Spins planned since the wait last changed.
    private var spins: UInt32 = 0
    /// Spins left during which an expired pausing spin keeps pausing.
    private(set) var yieldBarredFor: UInt32 = 0

    /// The next spin's plan.
    mutating func plan() -> Plan {
        spins &+= 1
        if yieldBarredFor > 0 { yieldBarredFor -= 1 }
        if wait == .block {
            if yieldBarredFor > 0 {
                // Every `measureInterval`-th read pauses, to find a peer that runs elsewhere
                // but was late (preempted on its own vCPU).
                let probes = spins % Self.measureInterval == 0
                return Plan(wait: probes ? .pause : .block, measuresSwitches: false)
            }
            wait = .pause  // the bar lapsed: learn again
            spins = 0
        }
        guard wait == .yield else { return Plan(wait: .pause, measuresSwitches: false) }
        if spins % Self.probeInterval == 0 { return Plan(wait: .pause, measuresSwitches: false) }
        return Plan(wait: .yield, measuresSwitches: spins % Self.measureInterval == 0)
    }

    /// Learns from a spin that had to wait (its first read was empty).
    mutating func learn(_ plan: Plan, _ outcome: Outcome) {
        let next: Wait
        switch (plan.wait, outcome) {
        case (.pause, .arrived), (.pause, .heldOff): next = .pause
        case (.pause, .expired): next = yieldBarredFor > 0 ? .block : .yield
        case (.yield, .heldOff):
            next = .pause
            yieldBarredFor = Self.yieldBarSpins
        case (.yield, .arrived(gaveCPUAway: false)): next = .pause
        case (.yield, _): next = .yield
        case (.block, _): next = .block  // a blocking plan does not spin, so it has no outcome
        }
        if next != wait {
            wait = next
            spins = 0
        }
    }
}
