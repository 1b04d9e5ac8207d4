import JSONText

/// The error codes of the wire contract. Every error response carries one.
public enum ErrorCode: String, Sendable, Equatable {
    /// Not JSON, not an object, wrong field types, empty key, unknown op. Nothing was applied.
    case badRequest = "bad_request"
    /// A key, value or line over its configured limit. Nothing was applied.
    case tooLarge = "too_large"
    /// GET of a key that has no value.
    case notFound = "not_found"
    /// CAS expectation not met; the response carries `current`. Nothing was applied.
    case casFailed = "cas_failed"
    /// No leader or no quorum within the request timeout, and the write was never appended.
    case unavailable
    /// The write reached a leader, but its outcome was unknown when the request timeout ran out.
    case timeout
    /// An admin request while admin is disabled, or a token without the right.
    case forbidden
    /// A request without a valid token, where tokens are configured.
    case unauthorized
    /// A membership change is already in progress; nothing was changed.
    case busy
    /// A write whose `seq` is lower than the last one its client had applied. Nothing was applied.
    case staleRequest = "stale_request"
    /// A watch asked for revisions older than the server still keeps; the answer carries `oldestRevision`.
    case compacted
    /// A watch whose client read too slowly was stopped; resume it from the revision given.
    case watchCancelled = "watch_cancelled"
    /// A guided scenario ran, but the situation it reproduces did not show what it must.
    case scenarioFailed = "scenario_failed"
}

/// A request that cannot be served, with the code and a message for people.
public struct RequestError: Error, Sendable, Equatable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}
