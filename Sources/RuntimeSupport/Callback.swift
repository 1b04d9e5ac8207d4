/// A function kept behind a lock, in a box. A function value stored directly in a `Mutex` comes
/// out of every `withLock` wrapped in a reabstraction thunk, and the wrapped value is written
/// back: the wrappers pile up with each read until a call overflows the stack (Swift 6, found by
/// a web page's event tap that crashed the server under load). A class reference is read as is.
public final class Callback<Input>: Sendable {
    public let call: @Sendable (Input) -> Void

    public init(_ call: @escaping @Sendable (Input) -> Void) {
        self.call = call
    }
}
