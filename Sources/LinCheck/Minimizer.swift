/// Shrinks the operations of a key that cannot be linearized to a small set that still cannot,
/// for people to read. First the time window: the shortest run of operations (by call time)
/// from the start that fails, then the latest start within it that still fails (binary
/// searches, a few checks of the whole history). Then chunks, halving in size down to single
/// operations, are removed while what is left still fails: reads first, then writes — but never
/// a write whose effect a kept operation may have seen. Removing a read, or a write nobody left
/// saw, cannot make an orderable history unorderable; so the set shown fails for a reason the
/// full history has (a stale read stays a stale read, not "a value never written").
enum Minimizer {
    /// `fails` says whether a subset is known not to be linearizable (false also when unsure).
    static func minimize(_ operations: [KVOperation], fails: ([KVOperation]) -> Bool) -> [KVOperation] {
        let sorted = operations.sorted(by: callOrder)
        var low = 1, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if fails(Array(sorted[..<middle])) { high = middle } else { low = middle + 1 }
        }
        let prefix = Array(sorted[..<high])
        var first = 0, last = prefix.count - 1
        while first < last {
            let middle = (first + last + 1) / 2
            if fails(window(prefix, from: middle)) { first = middle } else { last = middle - 1 }
        }
        return removeChunks(window(prefix, from: first), fails: fails)
    }

    static func callOrder(_ a: KVOperation, _ b: KVOperation) -> Bool {
        a.call != b.call ? a.call < b.call : a.id < b.id
    }

    /// The operations of `prefix` from `start` on, with the writers of everything they saw, and
    /// theirs in turn (a CAS saw the value it replaced).
    static func window(_ prefix: [KVOperation], from start: Int) -> [KVOperation] {
        var kept = Array(prefix[start...])
        var earlier = Array(prefix[..<start])
        var observers = kept
        while true {
            let writers = earlier.filter { writer in writer.mayWrite && observers.contains { sees($0, writer) } }
            if writers.isEmpty { break }
            earlier.removeAll { operation in writers.contains { $0.id == operation.id } }
            kept += writers
            observers = writers
        }
        return kept.sorted(by: callOrder)
    }

    static func removeChunks(_ start: [KVOperation], fails: ([KVOperation]) -> Bool) -> [KVOperation] {
        var kept = start
        for writes in [false, true] {
            var size = max(1, kept.count / 2)
            while true {
                var position = 0
                while position < kept.count {
                    let chunk = kept[position..<min(kept.count, position + size)]
                    let removing = chunk.filter { $0.mayWrite == writes }
                    let trial = kept.filter { operation in !removing.contains { $0.id == operation.id } }
                    if !removing.isEmpty, removing.allSatisfy({ removable($0, keeping: trial) }), fails(trial) {
                        kept = trial
                    } else {
                        position += size
                    }
                }
                if size == 1 { break }
                size = max(1, size / 2)
            }
        }
        return kept
    }

    /// A write may go while no operation left may have seen its effect; a write of a whole value
    /// (or a delete) may also go when, for each operation that saw that value, another write of the same value
    /// lies wholly between them.
    static func removable(_ candidate: KVOperation, keeping others: [KVOperation]) -> Bool {
        guard candidate.mayWrite else { return true }
        let observers = others.filter { $0.id != candidate.id && sees($0, candidate) }
        let effect = Effect(candidate)
        guard let done = candidate.response, effect.revision == nil, let written = effect.content else {
            return observers.isEmpty
        }
        if case .fragment = written { return observers.isEmpty }
        return observers.allSatisfy { observer in
            others.contains { other in
                other.id != candidate.id && other.mayWrite && Effect(other).content == written && other.call > done
                    && (other.response.map { $0 < observer.call } ?? false)
            }
        }
    }

    /// Whether `observer` may have seen what `writer` did.
    static func sees(_ observer: KVOperation, _ writer: KVOperation) -> Bool {
        guard writer.mayWrite, observer.id != writer.id else { return false }
        let seen = Sight(observer), effect = Effect(writer)
        if let revision = effect.revision, seen.revision == revision { return true }
        // A refusal that never learned the current value saw only that it was not the expected
        // one: any write that may have left something else (any write, for revisions).
        if seen.anyRevisionBut != nil { return true }
        if let ruledOut = seen.anythingBut { return effect.content != ruledOut }
        guard let content = seen.content else { return false }
        switch effect.content {
        case .value(let value)?: return content == .value(value)
        case .absent?: return content == .absent
        case .fragment(let piece)?:
            if case .value(let whole) = content { return !piece.isEmpty && whole.contains(piece) }
            return false
        case nil: return false
        }
    }

    enum Content: Equatable {
        case absent
        case value(String)
        /// Appended: seen in any value that contains it.
        case fragment(String)

        init(_ value: String?) { self = value.map(Content.value) ?? .absent }
    }

    /// What an operation saw of the key: its value, and its modRevision.
    struct Sight {
        var content: Content?
        var revision: Int?
        /// A refusal without the current value: the key held anything but this.
        var anythingBut: Content?
        /// A refusal of a cas by revision: the key's modRevision was anything but this.
        var anyRevisionBut: Int?

        init(_ operation: KVOperation) {
            switch (operation.kind, operation.outcome) {
            case (.cas(let expect, _), .casRefused): anythingBut = Content(expect)
            case (.casRevision(let expected, _), .casRefused): anyRevisionBut = expected
            case (.casRevision(let expected, _), .casFailed(let current)): anyRevisionBut = expected; content = Content(current)
            case (.get, .ok(let value)): content = Content(value)
            case (_, .casFailed(let current)): content = Content(current)
            case (_, .revisionMismatch(let current, let modRevision)): content = Content(current); revision = modRevision
            case (.cas(let expect, _), .ok), (.cas(let expect, _), .written): content = Content(expect)
            case (.casRevision(let expected, _), .ok), (.casRevision(let expected, _), .written):
                if expected == 0 { content = .absent } else { revision = expected }
            default: break
            }
        }
    }

    /// What a write left in the key: its value (or the piece it appended), and its revision.
    struct Effect {
        var content: Content?
        var revision: Int?

        init(_ operation: KVOperation) {
            switch operation.kind {
            case .put(let value), .cas(_, let value), .casRevision(_, let value): content = .value(value)
            case .delete: content = .absent
            case .append(let piece): content = .fragment(piece)
            case .get: content = nil
            }
            if case .written(let written) = operation.outcome { revision = written }
        }
    }
}
