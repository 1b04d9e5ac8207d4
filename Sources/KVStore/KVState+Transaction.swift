import KVWire

/// Transactions: every compare is evaluated on the state as it is, then one branch runs, step by
/// step, all in one log entry; every write of the branch carries the same new revision, and the
/// store's revision moves by one if anything changed.
extension KVState {
    mutating func execute(_ transaction: Transaction, _ changes: inout Changes) -> KVResult {
        let succeeded = transaction.compare.allSatisfy(holds)
        let next = revision + 1
        var changed = false
        var steps: [KVResult.Step] = []
        let branch = succeeded ? transaction.success : transaction.failure
        // A put on a lease that does not exist fails the whole transaction before anything changes.
        for case .put(_, _, let lease?) in branch where leases[lease] == nil { return .leaseNotFound(lease) }
        for step in branch {
            switch step {
            case .put(let key, let value, let lease):
                steps.append(.key(key, write(key, value, lease: lease, at: next, &changes)))
                changed = true
            case .get(let key):
                steps.append(.key(key, keys[key]))
            case .delete(let key):
                if remove(ByteKey(key), key, at: next, &changes) { changed = true }
                steps.append(.key(key, nil))
            case .deletePrefix(let prefix):
                let removed = deleteRange(.prefix(ByteKey(prefix)), at: next, &changes)
                if removed > 0 { changed = true }
                steps.append(.deleted(count: removed))
            case .range(let query):
                let page = keys.range(Self.keyRange(query), limit: query.limit)
                steps.append(.range(entries: page.entries, more: page.more, keysOnly: query.keysOnly))
            }
        }
        if changed { revision = next }
        return .txn(succeeded: succeeded, steps: steps, revision: revision)
    }

    func holds(_ compare: Transaction.Compare) -> Bool {
        switch compare {
        case .value(let key, let expected): return Self.sameText(keys[key]?.value, expected)
        case .modRevision(let key, let expected): return (keys[key]?.modRevision ?? 0) == expected
        case .exists(let key, let expected): return (keys[key] != nil) == expected
        }
    }

    /// The keys a range query covers (its `limit` applies separately).
    public static func keyRange(_ query: RangeQuery) -> KeyRange {
        var range: KeyRange
        if let prefix = query.prefix {
            range = .prefix(ByteKey(prefix))
        } else {
            range = KeyRange(lower: query.from.map { .including(ByteKey($0)) } ?? .start, upper: query.to.map { ByteKey($0) })
        }
        if let after = query.after {
            let afterKey = ByteKey(after)
            switch range.lower {
            case .start: range.lower = .after(afterKey)
            case .including(let from), .after(let from):
                // Continue after `after`, never before the range's own start.
                if from < afterKey || from == afterKey { range.lower = .after(afterKey) }
            }
        }
        return range
    }

    /// One page of a range query, from this state.
    public func page(_ query: RangeQuery) -> RangePage {
        keys.range(Self.keyRange(query), limit: query.limit)
    }
}
