import KVClient

extension ShortCommandParser {
    public static let helpText = """
        Data (case-insensitive; quote values with spaces, or use --key/--value):
          put KEY VALUE [--lease ID] write (with a lease: deleted when the lease ends)
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
        Following changes (Ctrl-C, Enter or end of input stops; a lost connection is opened
        again and the watch resumed after the last event shown, so none is shown twice):
          follow KEY [--from REV]    print each change of KEY as it commits: time, revision, type,
                                     key, value (JSON lines when the output is not a terminal)
          follow --prefix P [--from REV]
                                     every key under P; --from: from that revision on (older
                                     changes the server no longer keeps: says so and stops)
        Leases (keys that live as long as their owner keeps the lease alive):
          lease grant TTL            a new lease (TTL: 5s, 500ms, 2m; at least 1s); prints its ID
          lease keepalive ID         keep it alive (every TTL/3) until Ctrl-C, printing the time left
          lease revoke ID            end it now: its keys are deleted
          lease info ID              its TTL, time left and keys
          lease list                 every live lease on the server: TTL, time left, key count
        Recipes (docs/recipes.md; best run on their own: ClientMain lock NAME):
          lock NAME [--ttl TTL]      wait for lock NAME, print "acquired", hold it until Ctrl-C or end
                                     of input, then release it; a process that dies loses it
                                     within TTL (default 5s)
          lock NAME [--ttl TTL] -- COMMAND...
                                     hold lock NAME while COMMAND runs; exit with its status
          elect NAME VALUE [--ttl TTL]
                                     campaign in election NAME, print "leader" once elected, lead
                                     until Ctrl-C or end of input
          elect NAME --observe       print the leader's VALUE each time it changes
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
          backup FILE                the server writes a checksummed backup of the store to FILE
                                     (restore it with ServerMain --restore FILE --data-dir DIR)
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
