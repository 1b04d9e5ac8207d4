import JSONText
import KVStore
import KVWire

/// Writes the answer a client gets for what the store did, as the contract shapes it: the
/// seed's answers byte for byte unless the request asked for revisions.
enum Answers {
    static func revisions(_ record: KeyRecord) -> KeyRevisions {
        KeyRevisions(createRevision: record.createRevision, modRevision: record.modRevision, version: record.version)
    }

    /// The answer to a write (or a read through the log) that `result` describes.
    static func write(_ result: KVResult, for request: ClientRequest, id: JSONValue?) -> String {
        switch result {
        case .key(let key, let record, let revision):
            if request.revisions {
                return ClientResponse.withRevisions(key: key, value: record?.value, meta: record.map(revisions), revision: revision, id: id)
            }
            return ClientResponse.ok(key: key, value: record?.value, id: id)
        case .casFailed(let key, let record, let revision):
            if case .casRevision = request.operation {
                return ClientResponse.casFailed(key: key, current: record?.value, modRevision: record?.modRevision ?? 0,
                                                revision: request.revisions ? revision : nil, id: id)
            }
            if request.revisions {
                return ClientResponse.casFailed(key: key, current: record?.value, modRevision: record?.modRevision ?? 0,
                                                revision: revision, id: id)
            }
            return ClientResponse.casFailed(key: key, current: record?.value, id: id)
        case .deleted(let count, let revision):
            return ClientResponse.deleted(count, revision: revision, id: id)
        case .txn(let succeeded, let steps, let revision):
            let results = steps.map { step(rendering: $0, revisions: request.revisions, revision: revision) }
            return ClientResponse.transaction(succeeded: succeeded, results: results, revision: revision, id: id)
        case .lease(let lease, let ttl):
            return ClientResponse.adminOK([("lease", .number(String(lease))), ("ttlMs", .number(String(ttl)))], id: id)
        case .leaseNotFound(let lease):
            return ClientResponse.error(RequestError(.notFound, "lease \(lease) does not exist (never granted, revoked, or expired); nothing was written"),
                                        key: request.key, id: id)
        case .stale(let lastSeq):
            return ClientResponse.error(RequestError(.staleRequest, "seq \(request.session?.seq ?? 0) is older than \(lastSeq), the last one this client had applied; nothing was done"),
                                        key: request.key, id: id)
        }
    }

    /// One step's answer inside a transaction's `results`.
    static func step(rendering step: KVResult.Step, revisions: Bool, revision: Int64) -> String {
        switch step {
        case .key(let key, let record):
            if revisions {
                return ClientResponse.withRevisions(key: key, value: record?.value, meta: record.map(Self.revisions),
                                                    revision: revision, found: true, id: nil)
            }
            return ClientResponse.ok(key: key, value: record?.value, id: nil)
        case .deleted(let count):
            return ClientResponse.deleted(count, revision: revision, id: nil)
        case .range(let entries, let more, let keysOnly):
            var answer = RangeAnswer(keysOnly: keysOnly, expectedItems: entries.count)
            for entry in entries { answer.append(key: entry.key.string, value: entry.record.value, revisions: Self.revisions(entry.record)) }
            return answer.finished(more: more, revision: revision, id: nil)
        }
    }

    static func range(_ page: RangePage, query: RangeQuery, revision: Int64, id: JSONValue?) -> String {
        var answer = RangeAnswer(keysOnly: query.keysOnly, expectedItems: page.entries.count)
        for entry in page.entries { answer.append(key: entry.key.string, value: entry.record.value, revisions: revisions(entry.record)) }
        return answer.finished(more: page.more, revision: revision, id: id)
    }

    /// A keepalive's or a lease info's answer.
    static func lease(_ request: ClientRequest, ttlMs: Int64, remainingMs: Int64, keys: [String], id: JSONValue?) -> String {
        switch request.operation {
        case .leaseKeepAlive(let lease):
            return ClientResponse.adminOK([("lease", .number(String(lease))), ("ttlMs", .number(String(remainingMs)))], id: id)
        case .leaseInfo(let lease):
            return ClientResponse.adminOK([("lease", .number(String(lease))), ("ttlMs", .number(String(ttlMs))),
                                           ("remainingMs", .number(String(remainingMs))), ("keys", .array(keys.map(JSONValue.string)))], id: id)
        default:
            return ClientResponse.error(RequestError(.badRequest, "not a lease request"), id: id)
        }
    }

    /// `lease_list`'s answer: `{"status":"ok","leases":[{"lease","ttlMs","remainingMs","keys"}...],"count":N}`.
    static func leases(_ leases: [(id: Int64, ttlMs: Int64, remainingMs: Int64, keys: Int)], id: JSONValue?) -> String {
        let items = leases.map { lease in
            JSONValue.object(JSONObject([("lease", .number(String(lease.id))), ("ttlMs", .number(String(lease.ttlMs))),
                                         ("remainingMs", .number(String(lease.remainingMs))), ("keys", .number(String(lease.keys)))]))
        }
        return ClientResponse.adminOK([("leases", .array(items)), ("count", .number(String(leases.count)))], id: id)
    }

    /// The metrics outcome of a write's result.
    static func outcome(_ result: KVResult) -> String {
        switch result {
        case .casFailed: return "cas_failed"
        case .stale: return "stale_request"
        case .leaseNotFound: return "not_found"
        default: return "ok"
        }
    }
}
