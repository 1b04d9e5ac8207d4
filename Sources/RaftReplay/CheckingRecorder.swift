import FlightRecording
import RaftCore
import RaftVerification

/// The recorder a replayed engine is given: every call the engine makes into its core is checked
/// against the node's next recorded record, in order — the same input with the same result, the
/// same Ready digest, a checkpoint equal field for field, a stop where one was recorded — and
/// the first difference is a divergence naming what was recorded and what the engine did. A
/// `persisted` call must also find its entries on the replayed disk: the recorded call says they
/// were durable. It also keeps, for the commit checks, the configuration before each Ready's inputs.
final class CheckingRecorder: CoreRecorder {
    let tape: Tape
    let disk: ReplayDisk
    unowned let checks: ReplayChecks
    /// The engine's core as it is now (to compare a recorded checkpoint the engine did not offer).
    var core: () -> RaftNode? = { nil }
    /// Ticks of the current recorded `tick ×n` still to come.
    private var ticksLeft = 0
    /// The recording ended part-way through a flush (a torn last line): nothing more is checked.
    private var pastEnd = false
    /// The configuration in force before the inputs of the Ready being built.
    private(set) var configurationBefore = ClusterConfiguration.empty
    /// The last record taken ended a batch of inputs (a Ready, a start, a checkpoint).
    private var quiet = true
    /// The last stop taken was recorded as a failed write.
    private(set) var stoppedOnFailure = false

    init(tape: Tape, disk: ReplayDisk, checks: ReplayChecks) {
        self.tape = tape
        self.disk = disk
        self.checks = checks
    }

    private var checking: Bool { checks.problem == nil && !pastEnd }

    /// A new engine begins: nothing of the last one's calls is pending.
    func reset() {
        ticksLeft = 0
        pastEnd = false
        quiet = true
        stoppedOnFailure = false
    }

    /// An input is about to reach the core: the first since a Ready fixes `configurationBefore`.
    func beforeInput() {
        guard quiet, let core = core() else { return }
        configurationBefore = core.configuration
        quiet = false
    }

    // MARK: - CoreRecorder

    var wantsCheckpoint: Bool {
        guard checking, ticksLeft == 0, case .checkpoint? = tape.next?.event else { return false }
        return true
    }

    func checkpoint(_ core: RaftNode) {
        guard checking, let record = tape.next, case .checkpoint(let recorded) = record.event else { return }
        tape.take()
        match(recorded, core)
    }

    func record(_ input: CoreInput) {
        guard checking else { return }
        if case .tick = input, ticksLeft > 0 {
            ticksLeft -= 1
            return
        }
        if !input.isTakeReady { beforeInput() }
        if let record = tape.next, case .checkpoint(let recorded) = record.event, let core = core() {
            // A checkpoint the engine did not offer (its core had work waiting): compare all the same.
            tape.take()
            match(recorded, core)
        }
        guard checking else { return }
        guard tape.next != nil else {
            pastEnd = true
            return
        }
        let record = tape.take()
        guard checks.problem == nil else { return }
        guard case .input(let recorded) = record.event else {
            return checks.report(.divergence, "recorded \"\(record.description)\"; the engine called its core: \(input.description)")
        }
        if case .tick(let count) = recorded, case .tick = input {
            ticksLeft = count - 1
        } else if recorded != input {
            return checks.report(.divergence, Self.mismatch(recorded: recorded, made: input))
        }
        verify(input)
        if case .stop(_, true)? = tape.next?.event { disk.failNextWrite = true }
    }

    func started(core: RaftNode, loaded: LoadSummary) {}

    func stopped(reason: String, failed: Bool) {
        guard checking else { return }
        guard tape.next != nil else {
            pastEnd = true
            return
        }
        let record = tape.take()
        guard case .stop(_, let recordedFailure) = record.event else {
            return checks.report(.divergence, "recorded \"\(record.description)\"; the engine stopped (\(reason))")
        }
        stoppedOnFailure = recordedFailure
    }

    func drain() {}

    // MARK: - Checks

    /// What a matching call also implies.
    private func verify(_ input: CoreInput) {
        switch input {
        case .takeReady:
            checks.summary.readies += 1
            quiet = true
        case .persisted(let index, let term):
            let durable = disk.view()
            if !durable.holds(index: index, term: term) {
                checks.report(.divergence, "the engine told its core that entries through \(index)@\(term) are durable while its log store held them only through \(durable.last.index)@\(durable.last.term): the recorded call says they were written first")
            }
        default:
            break
        }
    }

    /// A recorded call and the engine's differing one, in words.
    static func mismatch(recorded: CoreInput, made: CoreInput) -> String {
        if case .compact(let old) = recorded, case .compact(let new) = made, old.index == new.index, old.term == new.term {
            let recordedBytes = (try? old.data.bytes()) ?? [], madeBytes = (try? new.data.bytes()) ?? []
            let first = zip(recordedBytes, madeBytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(recordedBytes.count, madeBytes.count)
            return "the snapshot through \(old.index)@\(old.term) holds other bytes: recorded \(old.data.count), the engine's state machine wrote \(new.data.count), first different at byte \(first)"
        }
        return "recorded \"\(recorded.description)\"; the engine called its core: \(made.description)"
    }

    /// A recorded state must equal the engine's core field for field.
    func match(_ recorded: RaftNode, _ core: RaftNode) {
        guard checks.problem == nil else { return }
        if let difference = StateComparison.difference(recorded: recorded, replayed: core) {
            return checks.report(.divergence, "the node's state differs from the recorded checkpoint: \(difference)")
        }
        checks.summary.checkpointsMatched += 1
        quiet = true
    }
}
