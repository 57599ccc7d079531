import Foundation
import Testing
@testable import LongEmbed

extension CLI {
    /// Runs `script` under /bin/sh with `$B` set to the CLI binary; returns (status, stdout, stderr).
    static func shell(_ script: String) throws -> (Int32, String, String) {
        guard let exe = binary else { throw CLIError.notBuilt }
        return try run(["-c", script], executable: URL(fileURLWithPath: "/bin/sh"), environment: ["B": exe.path])
    }

    /// Runs `executable` (not the CLI) with `args`; returns (status, stdout, stderr).
    static func run(_ args: [String], executable: URL, environment: [String: String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        p.currentDirectoryURL = TestSupport.repoRoot
        let outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// Hostile input to the command line: each case a typed error with a clear message and a
/// non-zero exit (never a signal, a hang or a destroyed file).
@Suite(.serialized) struct HostileInputTests {
    static let model = CLITests.model

    /// Exit status of a run that failed cleanly: 1 (error) or 64 (usage), not a signal.
    static func expectCleanFailure(_ r: (Int32, String, String), mentions: String, _ what: String) {
        #expect(r.0 == 1 || r.0 == 64, "\(what): status \(r.0), stderr \(r.2)")
        #expect(r.2.contains(mentions), "\(what): \(r.2)")
    }

    @Test(arguments: [
        (["embed", "--extension", "pi", "--extend-to", "1024", "--factor", "nan"], "--factor"),
        (["embed", "--extension", "pi", "--extend-to", "1024", "--factor", "inf"], "--factor"),
        (["embed", "--extension", "gp", "--extend-to", "1024", "--factor", "1e300"], "--factor"),
        (["embed", "--extension", "pi", "--extend-to", "9223372036854775807"], "--extend-to"),
        (["embed", "--extension", "ntk", "--extend-to", "1024", "--ntk-lambda", "1e-300"], "--ntk-lambda"),
        (["embed", "--extension", "dynamic-ntk", "--extend-to", "1024", "--factor", "inf"], "--factor"),
        (["embed", "--threads", "100000"], "--threads"),
        (["embed", "--batch-size", "9223372036854775807"], "--batch-size"),
        (["embed", "--max-tokens", "-5"], "--max-tokens"),
        (["embed", "--context-length", "0"], "--context-length"),
        (["embed", "--extension", "self-extend", "--extend-to", "1024", "--group", "0"], "--group"),
        (["bench", "attention", "--tokens", "4611686018427387904"], "--tokens"),
        (["bench", "encoder", "--batch", "9223372036854775807"], "--batch"),
        (["eval", "--lengths", "100000000"], "--lengths"),
        (["embed", "--extension", "bogus"], "--extension"),
        (["embed", "--format", "parquet"], "--format"),
        (["embed", "--role", "neither"], "--role"),
    ])
    func absurdFlagValuesAreRangeChecked(args: [String], flag: String) throws {
        let r = try CLI.run(args + ["--model", Self.model], stdin: Data("hello\n".utf8))
        Self.expectCleanFailure(r, mentions: flag, args.joined(separator: " "))
    }

    @Test func closedStandardInputIsAnError() throws {
        let r = try CLI.shell("exec \"$B\" embed --model '\(Self.model)' <&-")
        Self.expectCleanFailure(r, mentions: "standard input is closed", "stdin closed")
    }

    @Test func byteOrderMarkBeforeTheFirstJSONLine() throws {
        let input = Data([0xEF, 0xBB, 0xBF] + Array("{\"id\": \"a\", \"text\": \"hello\"}\n".utf8))
        let (status, out, err) = try CLI.run(["embed", "--model", Self.model], stdin: input)
        #expect(status == 0, "\(err)")
        #expect(out.hasPrefix("{\"id\":\"a\","), "\(out.prefix(40))")
    }

    @Test func noExtensionPastTheContextIsRefused() throws {
        let r = try CLI.run(["embed", "--model", Self.model, "--extension", "none", "--max-tokens", "4096"], stdin: Data("hi\n".utf8))
        Self.expectCleanFailure(r, mentions: "extension", "none past Lo")
    }

    // MARK: outputs that are not regular files

    @Test func outputToACharacterDeviceIsWrittenThrough() throws {
        let r = try CLI.run(["embed", "--model", Self.model, "--output", "/dev/null"], stdin: Data("hello\n".utf8))
        #expect(r.0 == 0, "\(r.2)")
        var info = stat()
        #expect(stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR, "/dev/null is no longer a device")
    }

    @Test func outputThroughASymlinkKeepsTheLink() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("target.jsonl"), link = dir.appendingPathComponent("link.jsonl")
        try Data("old\n".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let r = try CLI.run(["embed", "--model", Self.model, "--output", link.path], stdin: Data("hello\n".utf8))
        #expect(r.0 == 0, "\(r.2)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == target.path)
        #expect(try String(contentsOf: target, encoding: .utf8).hasPrefix("{\"id\":0,"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["link.jsonl", "target.jsonl"])
        // A dangling link or a directory is an error, and nothing appears.
        let dangling = dir.appendingPathComponent("dangling")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: dir.appendingPathComponent("nowhere").path)
        Self.expectCleanFailure(try CLI.run(["embed", "--model", Self.model, "--output", dangling.path], stdin: Data("hello\n".utf8)),
                                mentions: "symbolic link", "dangling link")
        Self.expectCleanFailure(try CLI.run(["embed", "--model", Self.model, "--output", dir.path], stdin: Data("hello\n".utf8)),
                                mentions: "directory", "directory output")
    }

    @Test func outputToAFIFOIsWrittenThrough() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("pipe")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let r = try CLI.shell("cat '\(fifo.path)' > '\(dir.path)/read.txt' & echo hello | \"$B\" embed --model '\(Self.model)' --output '\(fifo.path)'; wait")
        #expect(r.0 == 0, "\(r.2)")
        var info = stat()
        #expect(lstat(fifo.path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "the FIFO was replaced")
        #expect(try String(contentsOf: dir.appendingPathComponent("read.txt"), encoding: .utf8).hasPrefix("{\"id\":0,"))
    }

    /// SIGINT or SIGTERM during a write: the old output stays and no temporary file is left.
    @Test(arguments: ["INT", "TERM"])
    func interruptedWriteLeavesNothingBehind(signal: String) throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.jsonl")
        try Data("previous\n".utf8).write(to: out)
        let text = String(repeating: "The grass is green. ", count: 300)
        try Data(String(repeating: text + "\n", count: 400).utf8).write(to: dir.appendingPathComponent("in.txt"))
        let script = """
            "$B" embed --model '\(Self.model)' --input '\(dir.path)/in.txt' --output '\(out.path)' --extension pi --extend-to 2048 --batch-size 1 &
            pid=$!
            for i in $(seq 1 100); do ls -a '\(dir.path)' | grep -q partial && break; sleep 0.1; done
            sleep 0.3; kill -\(signal) $pid; wait $pid; echo "status $?"
            """
        let r = try CLI.shell(script)
        #expect(!r.1.contains("status 0"), "the run finished before the signal: \(r.1)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["in.txt", "out.jsonl"])
        #expect(try String(contentsOf: out, encoding: .utf8) == "previous\n")
    }

    /// A failed run (error after the output was opened) leaves no temporary file either.
    @Test func failedWriteLeavesNoPartialFile() throws {
        let dir = try ModelFolder.copyOfTinyRoPE()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFolder.fillTensor(dir, "embeddings.LayerNorm.weight", with: 3e38)
        let outDir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: outDir) }
        let r = try CLI.run(["embed", "--model", dir.path, "--output", outDir.appendingPathComponent("v.jsonl").path], stdin: Data("hello\n".utf8))
        Self.expectCleanFailure(r, mentions: "not finite", "overflowing model")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outDir.path).isEmpty)
    }

    /// `eval` over four settings loads the model once and says so, with its peak RSS.
    @Test func evalSharesOneModelAcrossSettings() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["eval", "--model", Self.model, "--tasks", "passkey", "--lengths", "256", "--max-docs", "4",
                             "--extension", "none,pcw,pi,rp", "--cache", "none", "--output", dir.path])
        #expect(r.0 == 0, "\(r.2)")
        #expect(r.1.contains("weights loaded once, shared by 4 setting(s); peak RSS"), "\(r.1)")
        #expect(r.1.contains("Lo = 512"), "\(r.1)")
    }

    // MARK: datasets

    static func writeTask(_ root: URL, corpus: String, queries: String, qrels: String) throws {
        let dir = root.appendingPathComponent("passkey")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(corpus.utf8).write(to: dir.appendingPathComponent("corpus.jsonl"))
        try Data(queries.utf8).write(to: dir.appendingPathComponent("queries.jsonl"))
        try Data(qrels.utf8).write(to: dir.appendingPathComponent("qrels.jsonl"))
    }

    @Test(arguments: [
        ("{\"doc_id\":\"d1\",\"text\":\"a\"}\n{\"doc_id\":\"d1\",\"text\":\"b\"}\n", "{\"qid\":\"q1\",\"text\":\"x\"}\n",
         "{\"qid\":\"q1\",\"doc_id\":\"d1\"}\n", "corpus.jsonl:2"),
        ("{\"doc_id\":\"d1\",\"text\":\"a\"}\n", "{\"qid\":\"q1\",\"text\":\"x\"}\n{\"qid\":\"q1\",\"text\":\"y\"}\n",
         "{\"qid\":\"q1\",\"doc_id\":\"d1\"}\n", "queries.jsonl:2"),
        ("{\"doc_id\":\"d1\",\"text\":\"a\"}\n", "{\"qid\":\"q1\",\"text\":\"x\"}\n",
         "{\"qid\":\"q1\",\"doc_id\":\"d1\"}\n{\"qid\":\"q1\",\"doc_id\":\"d9\"}\n", "qrels.jsonl:2"),
        ("{\"doc_id\":\"d1\",\"text\":\"a\"}\n", "{\"qid\":\"q1\",\"text\":\"x\"}\n",
         "{\"qid\":\"q7\",\"doc_id\":\"d1\"}\n", "qrels.jsonl:1"),
    ])
    func inconsistentDatasetsAreRejectedWithFileAndLine(corpus: String, queries: String, qrels: String, place: String) throws {
        let root = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.writeTask(root, corpus: corpus, queries: queries, qrels: qrels)
        do {
            _ = try RetrievalDataIO.load(task: .passkey, from: root)
            Issue.record("accepted: \(place)")
        } catch {
            // "<path>/corpus.jsonl:2: duplicate document id ..."
            #expect("\(error)".contains(place + ":"), "\(error)")
        }
    }

    @Test func generatedDataHonoursMaxDocsWithoutBuildingTheRest() throws {
        let full = SyntheticData.passkey(lengths: [256, 512], seed: 3)
        let limited = SyntheticData.passkey(lengths: [256, 512], seed: 3, maxDocs: 10)
        for (a, b) in zip(full.splits(realSplit: "test"), limited.splits(realSplit: "test")) {
            #expect(a.set.limited(maxDocs: 10) == b.set)
        }
        let haystack = String(repeating: "In the beginning was the word and the word was with the text. ", count: 200)
        let needleFull = try SyntheticData.needle(haystack: haystack, lengths: [256], seed: 1)
        let needleLimited = try SyntheticData.needle(haystack: haystack, lengths: [256], seed: 1, maxDocs: 6)
        #expect(needleFull.limited(maxDocs: 6) == needleLimited)
    }

    /// Two cache entries swapped on disk are not served for each other.
    @Test func swappedCacheEntriesAreRejected() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = EmbeddingCache(directory: dir)
        let k1 = EmbeddingCache.key(identity: "m", role: .document, text: "one")
        let k2 = EmbeddingCache.key(identity: "m", role: .document, text: "two")
        try cache.put(k1, [1, 0])
        try cache.put(k2, [0, 1])
        func path(_ k: String) -> String { dir.appendingPathComponent(String(k.prefix(2))).appendingPathComponent(k + ".emb").path }
        #expect(cache.get(k1, dimension: 2) == [1, 0])
        let a = try Data(contentsOf: URL(fileURLWithPath: path(k1))), b = try Data(contentsOf: URL(fileURLWithPath: path(k2)))
        try b.write(to: URL(fileURLWithPath: path(k1)))
        try a.write(to: URL(fileURLWithPath: path(k2)))
        #expect(cache.get(k1, dimension: 2) == nil)
        #expect(cache.get(k2, dimension: 2) == nil)
        #expect(throws: EvaluationError.self) { try cache.put(k1, [Float.nan, 0]) }
    }
}
