@testable import PipeBusPipes
import Testing

/// How a spinning reader learns whether to pause or yield between its reads (`SpinWait`).
@Suite struct SpinWaitTests {
    /// Plans `count` spins, each ending as `outcome` says; the plans in order.
    private func run(_ spinWait: inout SpinWait, _ count: Int, _ outcome: (SpinWait.Plan) -> SpinWait.Outcome?) -> [SpinWait.Plan] {
        (0..<count).map { _ in
            let plan = spinWait.plan()
            if let ending = outcome(plan) { spinWait.learn(plan, ending) }
            return plan
        }
    }

    @Test func aPeerOnAnotherVCPUKeepsItPausing() {
        var spinWait = SpinWait()
        let plans = run(&spinWait, 1_000) { _ in .arrived(gaveCPUAway: nil) }
        #expect(plans.allSatisfy { $0 == SpinWait.Plan(wait: .pause, measuresSwitches: false) })
        #expect(spinWait.wait == .pause)
    }

    @Test func aSpinThatRunsOutWhilePausingTurnsToYielding() {
        var spinWait = SpinWait()
        let first = spinWait.plan()
        spinWait.learn(first, .expired)
        #expect(spinWait.wait == .yield)
        #expect(spinWait.plan().wait == .yield)
    }

    @Test func aPeerOnTheSameVCPUKeepsItYieldingWithRareMeasuresAndProbes() {
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .expired)
        // Every yield lets the peer run; every pause probe runs out (the peer needs the vCPU).
        let plans = run(&spinWait, 1_024) { plan in
            plan.wait == .yield ? .arrived(gaveCPUAway: plan.measuresSwitches ? true : nil) : .expired
        }
        #expect(spinWait.wait == .yield)
        let measured = plans.filter(\.measuresSwitches).count
        let probes = plans.filter { $0.wait == .pause }.count
        #expect(measured == 1_024 / Int(SpinWait.measureInterval) - probes)
        #expect(probes == 1_024 / Int(SpinWait.probeInterval))
    }

    @Test func aReplyWrittenWhileNoYieldGaveTheVCPUAwayTurnsBackToPausing() {
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .expired)
        // The peer moved to another vCPU: the first measured spin shows it.
        let plans = run(&spinWait, Int(SpinWait.measureInterval)) { plan in
            .arrived(gaveCPUAway: plan.measuresSwitches ? false : nil)
        }
        #expect(plans.last == SpinWait.Plan(wait: .yield, measuresSwitches: true))
        #expect(spinWait.wait == .pause)
    }

    @Test func aProbeFindsAPeerThatMovedWhileYieldsFedAThirdTask() {
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .expired)
        // Yields let a third task run (measured: gave the vCPU away); the pause probe gets
        // the reply within its budget, so the peer runs elsewhere.
        let plans = run(&spinWait, Int(SpinWait.probeInterval)) { plan in
            plan.wait == .pause ? .arrived(gaveCPUAway: nil) : .arrived(gaveCPUAway: plan.measuresSwitches ? true : nil)
        }
        #expect(plans.last?.wait == .pause)
        #expect(spinWait.wait == .pause)
        #expect(spinWait.plan().wait == .pause)
    }

    @Test func aHeldOffYieldWithThePeerElsewhereTurnsToPausingForGood() {
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .expired)
        let yielding = spinWait.plan()
        #expect(yielding.wait == .yield)
        // A busy task took a time slice on a yield; the peer answers the pausing spins.
        spinWait.learn(yielding, .heldOff)
        #expect(spinWait.wait == .pause)
        #expect(spinWait.yieldBarredFor == SpinWait.yieldBarSpins)
        let plans = run(&spinWait, 3 * Int(SpinWait.yieldBarSpins)) { _ in .arrived(gaveCPUAway: nil) }
        #expect(plans.allSatisfy { $0.wait == .pause })
    }

    @Test func aHeldOffYieldWithThePeerHereBlocksUntilTheBarLapses() {
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .expired)
        spinWait.learn(spinWait.plan(), .heldOff)
        // The peer needs this vCPU: the first pausing spin runs out, and then the reader blocks
        // without spinning (plans with no outcome) while the bar lasts, but for pausing probes,
        // which run out too.
        spinWait.learn(spinWait.plan(), .expired)
        #expect(spinWait.wait == .block)
        let barred = run(&spinWait, Int(SpinWait.yieldBarSpins) - 2) { plan in plan.wait == .pause ? .expired : nil }
        let probes = barred.filter { $0.wait == .pause }.count
        #expect(barred.allSatisfy { !$0.measuresSwitches && $0.wait != .yield })
        #expect(probes == (Int(SpinWait.yieldBarSpins) - 2) / Int(SpinWait.measureInterval))
        #expect(spinWait.wait == .block)
        // The bar lapses: a pausing spin learns again, and runs out into yielding.
        let next = spinWait.plan()
        #expect(next.wait == .pause)
        spinWait.learn(next, .expired)
        #expect(spinWait.wait == .yield)
    }

    @Test func aProbeWhileBlockingFindsAPeerThatWasOnlyLate() {
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .expired)
        spinWait.learn(spinWait.plan(), .heldOff)
        spinWait.learn(spinWait.plan(), .expired)  // the peer, elsewhere, was preempted
        #expect(spinWait.wait == .block)
        let plans = run(&spinWait, Int(SpinWait.measureInterval)) { plan in plan.wait == .pause ? .arrived(gaveCPUAway: nil) : nil }
        #expect(plans.last?.wait == .pause)
        #expect(spinWait.wait == .pause)
        #expect(spinWait.yieldBarredFor > 0)
    }

    @Test func aPausingSpinHeldOffTeachesNothing() {
        // Preempted while pausing: that is the scheduler's tick, not a yield's doing.
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .heldOff)
        #expect(spinWait.wait == .pause)
        #expect(spinWait.yieldBarredFor == 0)
    }

    @Test func unmeasuredSpinsTeachNothing() {
        var spinWait = SpinWait()
        spinWait.learn(spinWait.plan(), .expired)
        let plan = spinWait.plan()
        #expect(!plan.measuresSwitches)
        spinWait.learn(plan, .arrived(gaveCPUAway: nil))
        spinWait.learn(plan, .expired)
        #expect(spinWait.wait == .yield)
    }
}
