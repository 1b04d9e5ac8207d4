extension ShortCommandParser {
    public static let helpText = """
        Data (case-insensitive; quote values with spaces, or use --key/--value):
          put KEY VALUE              write                        put greeting "hello world"
          get KEY [linearizable]     read (eventual: from a follower, may be stale)
          delete KEY                 remove a key
          delete --prefix P          remove every key that starts with P
          cas KEY EXPECTED NEW       compare-and-set (EXPECTED null = must be absent)
          cas KEY --rev R NEW        set if the key's modRevision is R (0 = must be absent)
          --revisions                on put, get, delete, cas: the answer adds createRevision,
                                     modRevision, version and the store's revision
        Keys in order (UTF-8 byte order):
          range [--prefix P | FROM [TO]] [--limit N] [--after K] [--keys-only] [--linearizable]
                                     a table of keys (TO excluded; limit 1000, at most 10000); when
                                     more follow, the command that continues is shown
          getall [--prefix P] [--keys-only] [--linearizable]
                                     every key: on a terminal a page at a time (--more--: Enter or
                                     space for the next, q stops); piped, one JSON line per key
        Transactions (atomic: the compares, then one branch, in one log entry):
          txn [if COMPARE [and COMPARE]...] then STEP [; STEP]... [else STEP [; STEP]...]
                                     COMPARE: KEY == VALUE, KEY missing, KEY exists, KEY modrev N
                                     STEP: put K V, get K, delete K, delete --prefix P, range ...
                                     txn if lock missing then put lock me else get lock
        Writes carry this client's id and a sequence number: a write answered timeout is sent
        again with the same pair (at most 3 times) and applied once.
        Watching the cluster:
          status                     table: role, term, vote, log, commit, applied, state
          watch [SECONDS]            the table, refreshed in place (Enter or Ctrl-C stops)
          cluster                    who leads, in which term, who is up
          logsize                    log length, snapshot and entries held, per node
          logs [COUNT] [--node N]    the last COUNT entries of the leader's (or node N's) log
          metrics [prometheus]       counters and latencies
        Faults:
          kill N / restart N         crash node N / bring it back from its files
          crash N --lose-unsynced    power cut: kill N and drop every byte it had not fsynced
          partition 0,1 | 2          nodes talk only inside their group
          isolate N                  cut node N off from everyone
          slow N MS                  delay every message to and from node N
          disk N slow MS | full | ok every fsync of node N takes MS longer / writes fail / normal
          heal                       remove partitions, delays and disk faults
          snapshot [N]               snapshot every node (or node N) now
        Membership:
          members                    voters, learners and their addresses
          add N [RAFT CLIENT HTTP]   add node N (a learner until it has caught up, then a voter)
          remove N                   remove node N (leadership moves first if N leads)
          transfer N                 hand leadership to node N
        Step by step (every node in one process):
          pause / resume             stop timers and hold every message / deliver them and go on
          messages                   the held messages, oldest first
          deliver [M] / drop M       deliver (the oldest, or message M) / drop message M
          tick N [K]                 advance node N's timer K ticks (default 1)
          slowmotion F               every timer and deadline F times slower (1: normal speed)
          trace [N]                  write the flight recorder of node N (or all) to traceX.jsonl
          scenario list | NAME       the guided scenarios / run one by hand (one process): its check
        Checking:
          check [S] [--clients C] [--keys K]
                                     for S seconds (10), C connections (4) write, read, cas and delete
                                     K keys (5); then says whether the history is linearizable
        Client:
          history, !!, !N            list, repeat the last, repeat number N
          clear, help (?), exit
          {"key":"k"}                a line starting with { is sent as typed
        """
}
