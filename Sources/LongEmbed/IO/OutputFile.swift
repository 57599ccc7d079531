import Foundation
import Synchronization

/// An error writing an output file.
public struct OutputFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path as given.
    public var path: String
    /// What went wrong.
    public var reason: String

    public var description: String { "cannot write \(path): \(reason)" }
}

/// A file output that never destroys what is at its path.
///
/// - A regular file (or a new path) is written to a temporary file beside it, then renamed
///   over it by ``commit()``: readers see the old or the new content, never a partial one. A
///   failed, abandoned or interrupted write (SIGINT, SIGTERM, SIGHUP with
///   ``TemporaryFiles/removeOnTermination()`` installed) removes the temporary file.
/// - A symbolic link is followed: its target is replaced atomically and the link stays.
/// - A character device, FIFO or socket (`/dev/null`, `/dev/stdout`, a pipe) is written
///   through, never renamed over or truncated into a regular file.
/// - A directory or a dangling link is an error.
public final class OutputFile {
    /// The path as given.
    public let path: String
    private let handle: FileHandle
    private let temporary: String?
    private let destination: String
    private var done = false

    /// Opens `path` for writing.
    public init(path: String) throws(OutputFileError) {
        self.path = path
        let resolved = try Self.resolve(path)
        destination = resolved.path
        if resolved.writeThrough {
            guard let h = FileHandle(forWritingAtPath: resolved.path) else {
                throw OutputFileError(path: path, reason: "cannot open it for writing")
            }
            handle = h
            temporary = nil
            return
        }
        let url = URL(fileURLWithPath: resolved.path)
        let dir = url.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw OutputFileError(path: path, reason: "cannot create its folder: \(error.localizedDescription)")
        }
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        TemporaryFiles.register(temp)
        guard FileManager.default.createFile(atPath: temp, contents: nil), let h = FileHandle(forWritingAtPath: temp) else {
            TemporaryFiles.remove(temp)
            throw OutputFileError(path: path, reason: "cannot create a temporary file in \(dir.path)")
        }
        handle = h
        temporary = temp
    }

    deinit { discard() }

    /// Where `path` really writes, and whether it is written through (not a regular file).
    private static func resolve(_ path: String) throws(OutputFileError) -> (path: String, writeThrough: Bool) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return (path, false) }   // a new file
        var target = path
        if info.st_mode & S_IFMT == S_IFLNK {
            guard let real = realpath(path, nil) else {
                throw OutputFileError(path: path, reason: "it is a symbolic link whose target does not exist")
            }
            target = String(cString: real)
            free(real)
            guard stat(target, &info) == 0 else { return (target, false) }
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return (target, false)
        case S_IFDIR: throw OutputFileError(path: path, reason: "it is a directory")
        default: return (target, true)   // character/block device, FIFO, socket
        }
    }

    /// Appends `data`.
    public func write(_ data: Data) throws(OutputFileError) {
        do { try handle.write(contentsOf: data) } catch {
            throw OutputFileError(path: path, reason: error.localizedDescription)
        }
    }

    /// Flushes and moves the file into place (write-through outputs are only flushed).
    public func commit() throws(OutputFileError) {
        guard !done else { return }
        done = true
        defer { if let temporary { TemporaryFiles.remove(temporary) } }
        do {
            if temporary != nil { try handle.synchronize() }
            try handle.close()
        } catch {
            throw OutputFileError(path: path, reason: error.localizedDescription)
        }
        guard let temporary else { return }
        guard rename(temporary, destination) == 0 else {
            throw OutputFileError(path: path, reason: "cannot move the finished file into place: \(String(cString: strerror(errno)))")
        }
    }

    /// Abandons the output: the temporary file is removed, what was at the path stays.
    public func discard() {
        guard !done else { return }
        done = true
        try? handle.close()
        if let temporary { TemporaryFiles.remove(temporary) }
    }

    /// Writes `data` to `path` in one go (see the type's rules).
    public static func write(_ data: Data, to path: String) throws(OutputFileError) {
        let file = try OutputFile(path: path)
        try file.write(data)
        try file.commit()
    }
}

/// Temporary files of unfinished outputs, removed when the process is told to stop.
public enum TemporaryFiles {
    private static let paths = Mutex<Set<String>>([])
    /// The installed signal sources (kept alive; written once, by `removeOnTermination`).
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func register(_ path: String) { _ = paths.withLock { $0.insert(path) } }

    /// Unregisters and deletes `path`.
    static func remove(_ path: String) {
        _ = paths.withLock { $0.remove(path) }
        unlink(path)
    }

    /// On SIGINT, SIGTERM and SIGHUP: delete every registered temporary file, then die of the
    /// signal as the default action would. Call once at the start of a command.
    public static func removeOnTermination() {
        let handlers = [SIGINT, SIGTERM, SIGHUP].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                for p in paths.withLock({ $0 }) { unlink(p) }
                // Die of the signal: default action, unblocked in this thread (the signal
                // source may have blocked it), then the conventional status as a fallback.
                signal(sig, SIG_DFL)
                var set = sigset_t()
                sigemptyset(&set)
                sigaddset(&set, sig)
                pthread_sigmask(SIG_UNBLOCK, &set, nil)
                raise(sig)
                _exit(128 + sig)
            }
            source.resume()
            return source
        }
        sources += handlers
    }
}
