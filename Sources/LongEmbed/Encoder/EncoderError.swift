/// An error from building or running an ``Encoder``.
public enum EncoderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The model folder could not be loaded (missing or corrupt file, unsupported architecture...).
    case model(ModelError)
    /// A kernel rejected its arguments.
    case kernel(KernelError)
    /// A working buffer of this many floats could not be allocated.
    case outOfMemory(floats: Int)
    /// There was no text to embed.
    case emptyInput
    /// A context-extension method does not apply to this model (e.g. NTK on an absolute-position model).
    case extensionNotApplicable(method: String, reason: String)
    /// An option value is out of range or inconsistent.
    case invalidOption(String)
    /// The vector of input number `input` (0-based) came out NaN or infinite: an extreme
    /// setting or a model that overflows. Such a vector is never returned, written or cached.
    case nonFiniteOutput(input: Int)

    public var description: String {
        switch self {
        case .model(let e): return e.description
        case .kernel(let e): return "kernel error: \(e)"
        case .outOfMemory(let n): return "out of memory: could not allocate \(n) floats (\(n / 262_144) MiB)"
        case .emptyInput: return "no input: there is no text to embed"
        case .extensionNotApplicable(let m, let r): return "context extension '\(m)' does not apply to this model: \(r)"
        case .invalidOption(let s): return "invalid option: \(s)"
        case .nonFiniteOutput(let i):
            return "the embedding of input \(i + 1) is not finite (NaN or infinity); check the extension parameters and the model"
        }
    }
}
