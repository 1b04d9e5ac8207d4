import Dispatch
import FlightRecording
import JSONText
import KVStore
import RaftCore
import RaftEngine
import RaftStorage
import RuntimeSupport
import Synchronization

/// A write waiting for its fate. `appended()` comes first when a leader accepted the write;
/// `finish` comes exactly once. Called on a node's queue; implementations must be thread-safe.
public protocol WriteWaiter: AnyObject, Sendable {
    func appended()
    func finish(_ outcome: WriteOutcome<KVResult>)
}

/// Where a node's outgoing Raft messages go: the runtime's message layer (partitions, delays,
/// pause and step), which hands them to the runtime's transport.
public protocol MessageOutlet: AnyObject, Sendable {
    /// Sends a node's messages, in order.
    func route(_ envelopes: [Envelope])
}

/// How every node of this server is set up.
public struct NodeSettings: Sendable {
    /// The configuration of a fresh cluster (`.empty` for a node waiting to be added).
    public var bootstrap: ClusterConfiguration
    public var raftConfig: RaftConfig
    public var tickNanos: UInt64
    public var snapshotEveryEntries: Int
    /// For a large state, snapshot no more often than every `keys / snapshotScaling` entries (0: off).
    public var snapshotScaling = 16
    /// Fixes the election randomness (node i, restart r: seed + i + 7919·r); nil: random.
    public var seed: UInt64?
    /// Writes slower than this are reported (the heartbeat interval).
    public var slowWriteWarningNanos: UInt64
    /// The "break it on purpose" switch: a leader answers linearizable reads from its own state.
    public var unsafeLocalReads: Bool
    /// Records each node's flight recorder keeps in memory (0: no recorder).
    public var traceCapacity: Int
    /// Also write every record to `traceN.jsonl` as it happens (`--record`).
    public var recordContinuously: Bool
    /// Where trace files go (the data directory).
    public var traceDirectory: DataDirectory
    /// How long an idle client session is kept; stamped into the commands this node proposes.
    public var sessionTimeoutSeconds: Int64
    /// Revisions of changes each node keeps for watchers that resume.
    public var watchHistoryRevisions: Int = 10_000

    public init(bootstrap: ClusterConfiguration, raftConfig: RaftConfig, tickNanos: UInt64, snapshotEveryEntries: Int,
                seed: UInt64?, slowWriteWarningNanos: UInt64, unsafeLocalReads: Bool, traceCapacity: Int,
                recordContinuously: Bool, traceDirectory: DataDirectory, sessionTimeoutSeconds: Int64 = 3600) {
        self.bootstrap = bootstrap
        self.raftConfig = raftConfig
        self.tickNanos = tickNanos
        self.snapshotEveryEntries = snapshotEveryEntries
        self.seed = seed
        self.slowWriteWarningNanos = slowWriteWarningNanos
        self.unsafeLocalReads = unsafeLocalReads
        self.traceCapacity = traceCapacity
        self.recordContinuously = recordContinuously
        self.traceDirectory = traceDirectory
        self.sessionTimeoutSeconds = sessionTimeoutSeconds
    }
}

/// One node of the cluster: a serial DispatchQueue that owns the node's engine (the core, its
/// stores, the key-value map and the clients waiting on it) and a DispatchSourceTimer on that
/// queue that ticks it. Other code reaches it only through the methods below, which hop onto the
/// queue. `kill()` drops everything but the disk; `restart()` rebuilds from the disk.
///
/// @unchecked Sendable: every mutable field is touched only on `queue`.
public final class NodeHost: @unchecked Sendable {
    public let id: NodeID
    public let queue: DispatchQueue
    let settings: NodeSettings
    let storage: NodeStorage
    let events: EventLog
    weak var registry: ClusterRegistry?
    /// Where its messages go (set once, before the node starts).
    weak var outlet: MessageOutlet?

    /// The live node; nil while it is down.
    var engine: KVEngine?
    var timer: DispatchSourceTimer?
    var flushScheduled = false
    /// Ticks advance the node only while this is true (false while the cluster is paused).
    var ticking = true
    /// Slow motion: the timer fires this many times less often.
    var tickScale = 1
    var lastLeaderContact: UInt64 = 0
    var restarts = 0
    /// Counters that survive restarts of the node (the process keeps them).
    var carriedMetrics = NodeMetrics()
    /// Why the node is down, when it did not go down on request.
    var failure: String?
    /// The failure was a storage write: try to come back once the disk works again.
    var restartWhenDiskWorks = false
    /// Commits not yet reported in the event log, and when the last report went out.
    var unreportedCommits = 0
    var lastCommitReport: UInt64 = 0
    var lastCommitIndex: LogIndex = 0
    /// Whether the committed configuration named this node at the last flush (nil: not known yet).
    var wasCommittedMember: Bool?
    /// Every call into the core, across restarts (nil when `traceCapacity` is 0).
    let recorder: FlightRecorder?
    /// Writes the recorder's records to `traceN.jsonl` as they happen (`--record`).
    var traceWriter: TraceFileWriter?
    /// The node's recent changes and the watches it feeds.
    let watchHub: WatchHub
    /// Changes applied during the flush under way, published to watchers once it is done.
    var pendingEvents: [KVEvent] = []
    /// The leader's deadlines for leases.
    let leaseKeeper = LeaseKeeper()
    /// When the leases were last checked (monotonic nanoseconds).
    var lastLeaseCheck: UInt64 = 0
    /// Keepalives waiting for the node's queue, served together: ten thousand leases renewed
    /// every second cost a handful of queue hops, not ten thousand.
    let keepalivesWaiting = Mutex<(requests: [(lease: Int64, reply: @Sendable (LeaseAnswer) -> Void)], scheduled: Bool)>(([], false))

    /// A node that is not running yet: `restart()` starts it from `storage`. Its status goes to
    /// `registry`, its messages to `outlet`.
    public init(id: NodeID, settings: NodeSettings, storage: NodeStorage, events: EventLog, registry: ClusterRegistry,
                outlet: MessageOutlet, ticking: Bool = true, tickScale: Int = 1) {
        self.id = id
        self.queue = DispatchQueue(label: "raft.node.\(id)", qos: .userInitiated)
        self.settings = settings
        self.storage = storage
        self.events = events
        self.recorder = settings.traceCapacity > 0
            ? FlightRecorder(node: id, capacity: settings.traceCapacity, clock: { MonotonicClock.now() }) : nil
        self.watchHub = WatchHub(historyRevisions: settings.watchHistoryRevisions, label: "raft.watch.fanout.\(id)")
        self.registry = registry
        self.outlet = outlet
        self.ticking = ticking
        self.tickScale = tickScale
    }

    public var disk: DiskFaults? { storage.disk(for: id) }

    // MARK: - Entry points (any thread)

    /// Raft messages from other nodes, in order.
    public func deliver(_ envelopes: [Envelope]) {
        queue.async {
            guard let engine = self.engine else { return }
            for envelope in envelopes {
                if case .appendRequest = envelope.message, envelope.term >= engine.raft.term {
                    self.lastLeaderContact = MonotonicClock.now()
                }
                engine.receive(envelope)
            }
            self.scheduleFlush()
        }
    }

    /// Proposes a command; `waiter` hears the outcome.
    public func propose(_ command: KVCommand, waiter: WriteWaiter) {
        propose(encoded: command.encoded, waiter: waiter)  // encoded on the caller's queue, not the node's
    }

    /// Proposes a command already encoded as it stands in the log. A command with a client
    /// session gets this node's time (log time, for expiring sessions) as it is proposed.
    public func propose(encoded text: String, waiter: WriteWaiter) {
        let command = KVCommand.needsLogTime(text)
            ? KVCommand.stamped(text, time: WallClock.milliseconds(), sessionTimeoutSeconds: settings.sessionTimeoutSeconds) : text
        queue.async {
            guard let engine = self.engine else { return waiter.finish(.nodeDown) }
            engine.propose(command, appended: { _, _ in waiter.appended() }, finish: { waiter.finish($0.result) })
            self.scheduleFlush()
        }
    }

    /// Runs `body` on the node's queue with its state machine (nil when the node is down), for
    /// eventual reads that gather their keys only when the node gets to them. Whatever the node
    /// has already received is worked off first: a leader sends its commit notice before it
    /// answers the writer, so a read that arrives after the answer never misses that write
    /// because the flush the notice scheduled was queued behind the read.
    public func withMachine(_ body: @escaping @Sendable (KVStateMachine?) -> Void) {
        queue.async {
            if self.flushScheduled { self.flush() }
            // A node still building its state from a snapshot has none to read from yet.
            body(self.engine.flatMap { $0.isLoadingState ? nil : $0.machine })
        }
    }

    /// A linearizable read through ReadIndex: `serve` runs on the node's queue with the state
    /// machine once a quorum confirmed this leader and the machine caught up, or with nil when
    /// this node cannot serve it (ask elsewhere). With the unsafe switch on, a node that believes
    /// it leads serves from its own state at once.
    public func readLinearizable(_ serve: @escaping @Sendable (KVStateMachine?) -> Void) {
        queue.async {
            guard let engine = self.engine else { return serve(nil) }
            if self.settings.unsafeLocalReads {
                return serve(engine.raft.isLeader ? engine.machine : nil)
            }
            engine.readLinearizable { machine in serve(machine) }
            self.scheduleFlush()
        }
    }

    /// Takes a snapshot now; `reply` gets the index it covers, or why it failed.
    public func snapshotNow(reply: @escaping @Sendable (Result<LogIndex, SnapshotFailure>) -> Void) {
        queue.async {
            guard let engine = self.engine else { return reply(.failure(SnapshotFailure(reason: "the node is down"))) }
            engine.snapshotNow(reply: reply)
            self.scheduleFlush()
        }
    }

    /// The last `count` log entries (from memory when up, from the file when down).
    public func recentEntries(_ count: Int, reply: @escaping @Sendable (Result<[Entry], StorageError>) -> Void) {
        queue.async {
            if let engine = self.engine {
                let log = engine.raft.log
                let first = max(log.firstIndex, log.lastIndex - count + 1)
                return reply(.success(log.entries(from: first, through: log.lastIndex)))
            }
            let logStore = self.storage.stores(for: self.id).log
            defer { logStore.close() }
            do throws(StorageError) {
                let loaded = try logStore.load()
                reply(.success(Array(loaded.entries.suffix(count))))
            } catch {
                reply(.failure(error))
            }
        }
    }

    /// The last `count` entries in brief, for the web page: the first index shown, each entry's
    /// term and kind (`w` a command, `n` a leader's no-op, `c` a configuration), the snapshot
    /// base and the commit index. Null while the node is down.
    public func logTail(_ count: Int, reply: @escaping @Sendable (JSONValue) -> Void) {
        queue.async {
            guard let engine = self.engine else { return reply(.null) }
            let log = engine.raft.log
            let first = max(log.firstIndex, log.lastIndex - count + 1)
            let entries = log.entries(from: first, through: log.lastIndex)
            let kinds = String(entries.map { $0.isConfiguration ? "c" : ($0.data.isEmpty ? "n" : "w") })
            reply(.object(JSONObject([
                ("first", .int(first)), ("terms", .array(entries.map { .int($0.term) })), ("kinds", .string(kinds)),
                ("snapshot", .int(log.snapshotIndex)), ("snapshotTerm", .int(log.snapshotTerm)),
                ("commit", .int(engine.raft.commitIndex)), ("last", .int(log.lastIndex)),
            ])))
        }
    }

    /// Runs `body` on the node's queue with its engine (nil while down), then flushes.
    public func withEngine(_ body: @escaping @Sendable (KVEngine?) -> Void) {
        queue.async {
            body(self.engine)
            if self.engine != nil { self.scheduleFlush() }
        }
    }

    /// Crashes the node: timer stopped, memory dropped, files closed. Waiting writers learn
    /// `unknown` (appended entries may still commit elsewhere). With `loseUnsynced`, the disk
    /// then loses every byte that was not fsynced, as in a power cut.
    public func kill(reason: String = "killed", loseUnsynced: Bool = false, done: (@Sendable () -> Void)? = nil) {
        queue.async {
            self.stopRunning(reason: reason)
            self.failure = nil
            self.restartWhenDiskWorks = false
            if loseUnsynced {
                let changes = self.disk?.losePowerCut() ?? []
                self.events.log(.warning, node: self.id, changes.isEmpty
                    ? "power cut: every byte this node wrote had been fsynced; nothing lost"
                    : "power cut: " + changes.joined(separator: "; "))
            }
            done?()
        }
    }

    /// Rebuilds the node from its files and lets it rejoin. `done` gets nil on success or the
    /// reason it stays down.
    public func restart(done: (@Sendable (String?) -> Void)? = nil) {
        queue.async {
            if self.engine != nil { done?(nil); return }
            let failure = self.start()  // not inside `done?(...)`: that would skip the call when done is nil
            done?(failure)
        }
    }

    /// Advances the node's timer by `count` ticks by hand (pause and step).
    public func tick(count: Int, done: @escaping @Sendable (Bool) -> Void) {
        queue.async {
            guard let engine = self.engine else { return done(false) }
            for _ in 0..<count { engine.tick() }
            self.flush()
            done(true)
        }
    }

    /// Stops (false) or restarts (true) the node's own timer's effect.
    public func setTicking(_ on: Bool) {
        queue.async { self.ticking = on }
    }

    /// Slow motion: every tick `scale` times further apart (the core, which counts ticks, does
    /// everything `scale` times slower).
    public func setTickScale(_ scale: Int) {
        queue.async {
            self.tickScale = max(1, scale)
            self.scheduleTimer()
        }
    }

    /// Stops cleanly at shutdown: everything handed out is already durable; close the files.
    public func shutdown() {
        queue.sync {
            timer?.cancel()
            timer = nil
            engine?.stop(reason: "the server shut down")
            engine = nil
            traceWriter?.close()
        }
    }
}

extension WriteOutcome where Output == KVApplied {
    /// The outcome as the writer sees it: the result, without the changes watchers get.
    var result: WriteOutcome<KVResult> {
        switch self {
        case .applied(let applied): return .applied(applied.result)
        case .notLeader(let hint): return .notLeader(leaderHint: hint)
        case .lost: return .lost
        case .unknown: return .unknown
        case .nodeDown: return .nodeDown
        }
    }
}
