import FlightRecording
import RaftCore
import RaftEngine
import RaftStorage

/// One node under replay: its recording, its disk (which outlives restarts), and — while the
/// recording shows it running — the real `NodeEngine`, rebuilt from the recorded start or
/// checkpoint and wired to the replay: a `CheckingRecorder` for its calls into the core,
/// `ReplayDisk` stores for its writes, a transport (`hooks.send`) that checks what leaves, and a
/// `ReplayExecutor` for its offloaded work. `move()` replays the next record — or, when that
/// record starts a flush, the whole flush, whose calls the recorder checks one by one.
final class NodeReplay<Machine: ReplicatedStateMachine> {
    let tape: Tape
    let disk: ReplayDisk
    let recorder: CheckingRecorder
    unowned let checks: ReplayChecks
    private(set) var engine: NodeEngine<Machine>?
    private var executor = ReplayExecutor()
    /// A start or checkpoint has been replayed: the node's recording is under way.
    private(set) var began = false
    private(set) var lastLeaderContact: UInt64?
    /// The recording begins part-way through a flush (rings recorded before checkpoints were
    /// kept between flushes can): records are passed over until a checkpoint or start.
    private var passingOver = false
    /// Given to every engine built here (tests only).
    var pipelineFault: PipelineFault?
    /// The engine was built from a checkpoint and has not compacted since: a snapshot the
    /// recording shows compacting may have been started before the recording began.
    private var snapshotMayPredateRecording = false

    init(trace: NodeTrace, checks: ReplayChecks) {
        self.checks = checks
        tape = Tape(trace: trace, checks: checks)
        disk = ReplayDisk(node: trace.node, checks: checks)
        recorder = CheckingRecorder(tape: tape, disk: disk, checks: checks)
        recorder.core = { [unowned self] in self.engine?.raft }
    }

    var id: NodeID { tape.node }
    var core: RaftNode? { engine?.raft }
    var machine: Machine? { engine?.machine }

    /// Replays the next record (or the flush it starts), then lets offloaded work due by now finish.
    func move() {
        guard let record = tape.next else { return }
        if passingOver, !record.isState {
            tape.take()
            return
        }
        switch record.event {
        case .start(let core, _): restart(core)
        case .checkpoint(let recorded): checkpoint(recorded)
        case .stop(let reason, let failed): stop(reason: reason, failed: failed)
        case .input(let input): feed(input, record)
        }
        settle()
    }

    private func restart(_ core: RaftNode) {
        tape.take()
        guard checks.problem == nil else { return }
        guard core.id == id else { return checks.report(.badTrace, "the recorded core is node \(core.id)") }
        passingOver = false
        if began, !disk.uncertain, let lost = StateComparison.lostDurableState(disk.view(), loaded: core) {
            return checks.report(.violation, "node \(id) came back with less than it had made durable (\(lost)): acknowledged writes and votes can be lost this way — a power cut with fsync off?")
        }
        build(from: core)
        checks.summary.restarts += 1
        checks.checker?.nodeRestarted(id)
    }

    private func checkpoint(_ recorded: RaftNode) {
        let first = tape.atStart
        tape.take()
        guard checks.problem == nil else { return }
        guard let engine else {
            guard first || passingOver else { return checks.report(.badTrace, "a checkpoint while the node is down") }
            // An engine can be rebuilt only between flushes; `persisted` comes only inside one.
            if case .input(.persisted)? = tape.next?.event {
                passingOver = true
                return
            }
            passingOver = false
            build(from: recorded)
            snapshotMayPredateRecording = true
            return
        }
        recorder.match(recorded, engine.raft)
    }

    private func stop(reason: String, failed: Bool) {
        guard let engine else {
            tape.take()
            disk.uncertain = failed
            return
        }
        // A stop between flushes: killed, or a write failed in work this replay does not re-run
        // (a snapshot the recording never shows compacting). The recorder takes the record.
        engine.stop(reason: reason)
    }

    /// Feeds an input the recording shows arriving from outside, or runs the flush it starts.
    private func feed(_ input: CoreInput, _ record: TraceRecord) {
        guard let engine else {
            tape.take()
            return checks.report(.badTrace, "an input (\(input.description)) while the node is down or before it started")
        }
        let before = tape.cursor
        recorder.beforeInput()
        switch input {
        case .tick(let count):
            for _ in 0..<count { engine.tick() }
        case .receive(let envelope):
            if case .appendRequest = envelope.message, envelope.term >= engine.raft.term { lastLeaderContact = record.time }
            checks.received(envelope)
            engine.receive(envelope)
        case .changeConfiguration(let change, _):
            _ = engine.proposeConfigurationChange(change)
        case .transferLeadership(let target, _):
            _ = engine.transferLeadership(to: target)
        case .propose, .readIndex, .takeReady:
            queueWhatTheFlushTakes(engine)
            engine.flush()
        case .compact(let snapshot):
            guard finishSnapshot(through: snapshot.index, engine) else { return }
        case .persisted:
            break  // made only inside a flush: the engine's flush ended sooner than the recorded one
        }
        if tape.cursor == before && checks.problem == nil {
            tape.take()
            checks.report(.divergence, "recorded \"\(record.description)\"; the engine made no call into its core here")
        }
    }

    /// A flush begins with what waited for it: the proposals and reads the recording shows it
    /// taking are queued under their recorded ids (they passed the engine's checks on arrival).
    private func queueWhatTheFlushTakes(_ engine: NodeEngine<Machine>) {
        var position = tape.cursor
        if case .input(.propose(let commands, _))? = tape.record(at: position)?.event {
            for command in commands { engine.queueProposal(command, finish: { _ in }) }
            position += 1
        }
        if case .input(.readIndex(let ids, _))? = tape.record(at: position)?.event {
            for id in ids { engine.queueRead(id: id) { _ in } }
        }
    }

    /// The recording shows a snapshot through `index` compacting the log: the held work finishes
    /// now. Returns false when there is none to finish (reported).
    private func finishSnapshot(through index: LogIndex, _ engine: NodeEngine<Machine>) -> Bool {
        if !executor.isHolding && engine.machine.appliedIndex == index { startSnapshot(engine) }
        if !executor.isHolding && snapshotMayPredateRecording && engine.machine.appliedIndex > index {
            return finishSnapshotStartedBeforeRecording(through: index, engine)
        }
        guard executor.isHolding else {
            tape.take()
            checks.report(.divergence, "recorded a snapshot through \(index) compacting the log; the engine had none under way, and its state machine has applied through \(engine.machine.appliedIndex)")
            return false
        }
        snapshotMayPredateRecording = false
        executor.releaseHeld()
        return true
    }

    /// A recording that begins at a checkpoint may begin while a snapshot is being serialized:
    /// its machine has moved past the snapshot's index by now. The state at that index is
    /// rebuilt from the core (its snapshot, then its log), serialized here, and the engine is
    /// made to finish a snapshot with it — its commit, log cut and compaction are the engine's own.
    private func finishSnapshotStartedBeforeRecording(through index: LogIndex, _ engine: NodeEngine<Machine>) -> Bool {
        snapshotMayPredateRecording = false
        let core = engine.raft
        guard index > core.log.snapshotIndex, let term = core.log.term(at: index),
              let machine = try? Self.machine(for: core, through: index) else {
            tape.take()
            checks.report(.badTrace, "the recording begins while a snapshot through \(index) is being taken, and the node's state there cannot be rebuilt")
            return false
        }
        let known = core.configuration(at: index)  // as the engine records it: nothing rather than nobody
        let snapshot = Snapshot(index: index, term: term, data: Machine.serialize(machine.freeze()),
                                configuration: known == .empty ? nil : known)
        startSnapshot(engine)
        // The engine's snapshot work stores what it serialized; the replacement is stored here.
        do {
            _ = try disk.stores.snapshot.commit(PreparedSnapshot(snapshot: snapshot, temporaryPath: nil))
        } catch {
            tape.take()
            checks.report(.badTrace, "storing the rebuilt snapshot through \(index) failed: \(error)")
            return false
        }
        executor.releaseHeld(replacingWith: snapshot)
        return true
    }

    private func startSnapshot(_ engine: NodeEngine<Machine>) {
        executor.hold { engine.snapshotNow { _ in } }
    }

    /// After a move: offloaded work due now finishes; a stopped engine is dropped; a snapshot the
    /// recording shows compacting later starts once the machine stands exactly at its index.
    private func settle() {
        guard let engine else { return }
        executor.runDue()
        if engine.isStopped {
            self.engine = nil
            executor = ReplayExecutor()
            disk.uncertain = recorder.stoppedOnFailure
            return
        }
        // The snapshot policy (how often, or on request) is the runtime's and is not recorded;
        // a snapshot freezes the machine at its applied index, so starting it at the first
        // moment the machine stands there gives the bytes the recorded engine wrote.
        if !executor.isHolding, let index = tape.nextCompaction(), engine.machine.appliedIndex == index {
            startSnapshot(engine)
        }
    }

    // MARK: - Building an engine

    /// A real engine around the recorded core, with the replay's stores, transport, executor and
    /// recorder. A snapshot is taken only when the recording shows one (`settle`).
    private func build(from core: RaftNode) {
        began = true
        disk.reset(to: core)
        checks.register(disk)
        recorder.reset()
        engine = nil
        executor = ReplayExecutor()
        snapshotMayPredateRecording = false
        let machine: Machine
        do {
            machine = try Self.machine(for: core)
        } catch {
            return checks.report(.badTrace, "node \(id)'s recorded snapshot through \(core.log.snapshotIndex) does not load into \(Machine.self): \(error)")
        }
        let hooks = EngineHooks(
            send: { [unowned self] envelopes in self.transmit(envelopes) },
            clock: { [checks] in checks.now },
            committed: { [unowned self] entries in self.committed(entries) })
        let engine = NodeEngine(raft: core, stores: disk.stores, machine: machine, hooks: hooks, executor: executor,
                                snapshotEveryEntries: 0, recorder: recorder)
        engine.testOnly_pipelineFault = pipelineFault
        self.engine = engine
    }

    /// The state machine as the recorded engine held it with `core`: its snapshot, then the
    /// entries the core has handed out as committed since (applied as the engine applies them),
    /// through `index` (by default, all of them).
    static func machine(for core: RaftNode, through index: LogIndex? = nil) throws -> Machine {
        let last = index ?? core.appliedIndex
        var machine = try core.snapshot.map { try Machine(restoring: $0.data, appliedIndex: $0.index) } ?? Machine()
        for entry in core.log.entries where entry.index > machine.appliedIndex && entry.index <= last {
            if entry.data.isEmpty {
                machine.skip(to: entry.index)
            } else {
                _ = try? machine.apply(command: entry.data, at: entry.index)
            }
        }
        return machine
    }

    // MARK: - What the engine hands out

    /// The transport: a Ready's messages leave only once its term and vote are durable (the
    /// order `Ready` prescribes, which the recorded engine kept); then the checker's
    /// persist-before-send checks; then they are in flight.
    private func transmit(_ envelopes: [Envelope]) {
        guard let core = engine?.raft, let first = envelopes.first else { return }
        let durable = disk.view()
        if durable.hardState != core.hardState {
            checks.report(.divergence, "the engine sent \(first) while its disk held \(durable.hardState), not the core's \(core.hardState): a Ready's messages leave only once its term and vote are durable")
        }
        for envelope in envelopes {
            checks.checker?.checkOutgoing(envelope, durable: durable, memory: core.log)
        }
        checks.sent(envelopes)
        checks.noteViolation()
    }

    private func committed(_ entries: [Entry]) {
        guard checks.checker != nil, let core = engine?.raft else { return }
        checks.checker!.checkCommitted(node: id, entries: entries, raft: core, configurationBefore: recorder.configurationBefore,
                                       disks: checks.durableViews())
        checks.noteViolation()
    }
}

extension TraceRecord {
    /// A start or checkpoint: a state an engine can be built from.
    var isState: Bool {
        switch event {
        case .start, .checkpoint: return true
        case .input, .stop: return false
        }
    }
}
