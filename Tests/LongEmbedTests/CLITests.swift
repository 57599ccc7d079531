import Foundation
import Testing
import LongEmbed

/// The `longembed` executable built beside the tests.
enum CLI {
    enum CLIError: Error { case notBuilt }

    static var binary: URL? {
        // The one built with these tests: beside the test executable.
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let url = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("longembed")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        for config in ["release", "debug"] {
            let url = TestSupport.repoRoot.appendingPathComponent(".build/\(config)/longembed")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    /// Runs the CLI with `stdin` bytes; returns (status, stdout, stderr).
    static func run(_ args: [String], stdin: Data = Data(), environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        guard let exe = binary else {
            throw CLIError.notBuilt
        }
        p.executableURL = exe
        p.arguments = args
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        p.currentDirectoryURL = TestSupport.repoRoot
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        // A child that fails before reading its input closes the pipe: that is its answer, not
        // a test crash (the non-throwing write traps on EPIPE/EINTR).
        try? inPipe.fileHandleForWriting.write(contentsOf: stdin)
        try inPipe.fileHandleForWriting.close()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

@Suite struct CLITests {
    static let model = TestSupport.golden.appendingPathComponent("e5rope/model").path

    @Test func embedsJSONLinesAndPlainText() throws {
        let input = Data("{\"id\": \"x1\", \"text\": \"hello world\"}\n{\"id\": 7, \"text\": \"second\"}\nplain line\n".utf8)
        let (status, out, err) = try CLI.run(["embed", "--model", Self.model], stdin: input)
        #expect(status == 0, "\(err)")
        let lines = out.split(separator: "\n")
        #expect(lines.count == 3)
        let firstLine = try #require(lines.first, "no output lines; stderr: \(err)")
        let first = try #require(try JSONSerialization.jsonObject(with: Data(firstLine.utf8)) as? [String: Any])
        #expect(first["id"] as? String == "x1")
        let embedding = try #require(first["embedding"] as? [Any])
        #expect(embedding.count == 64)
        let secondLine = try #require(lines.dropFirst().first, "only one output line; stderr: \(err)")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(secondLine.utf8)) as? [String: Any])
        #expect((second["id"] as? NSNumber)?.intValue == 7)
        // Same vector as the library gives.
        let encoder = try Encoder(directory: URL(fileURLWithPath: Self.model))
        let v = try #require(try encoder.embed(["hello world"], role: .document).first)
        let cli = try #require(first["embedding"] as? [NSNumber]).map(\.floatValue)
        #expect(try TestSupport.maxAbsDiff(v, cli) <= 1e-6)
    }

    @Test func writesNpyAtomically() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("v.npy")
        let (status, _, err) = try CLI.run(["embed", "--model", Self.model, "--format", "npy", "--output", out.path],
                                           stdin: Data("a\nb\nc\n".utf8))
        #expect(status == 0, "\(err)")
        let npy = try TestSupport.loadNpy(out)
        #expect(npy.shape == [3, 64])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["v.npy"])
    }

    @Test(arguments: [
        (Data([0x66, 0x6f, 0xff, 0xfe, 0x0a]), "invalid UTF-8"),
        (Data(), "no input"),
        (Data("\n\n  \n".utf8), "no input"),
        (Data("{\"id\": 1, \"text\": \n".utf8), "malformed JSON"),
        (Data("{\"id\": 1}\n".utf8), "text"),
    ])
    func badInputIsAClearErrorWithNonZeroExit(input: Data, message: String) throws {
        let (status, out, err) = try CLI.run(["embed", "--model", Self.model], stdin: input)
        #expect(status != 0)
        #expect(err.contains(message), "stderr: \(err)")
        #expect(out.isEmpty)
    }

    @Test func badModelsAndOptionsAreClearErrors() throws {
        let missing = try CLI.run(["embed", "--model", "/nonexistent/model"], stdin: Data("x\n".utf8))
        #expect(missing.0 != 0 && missing.2.contains("/nonexistent/model"))
        let ntk = try CLI.run(["embed", "--model", TestSupport.defaultModel.path, "--extension", "ntk", "--extend-to", "2048"],
                              stdin: Data("x\n".utf8))
        #expect(ntk.0 != 0 && ntk.2.contains("ntk"), "\(ntk.2)")
        let unknown = try CLI.run(["embed", "--model", Self.model, "--extension", "magic"], stdin: Data("x\n".utf8))
        #expect(unknown.0 != 0 && unknown.2.contains("magic"))
        let noTarget = try CLI.run(["embed", "--model", Self.model, "--extension", "pi"], stdin: Data("x\n".utf8))
        #expect(noTarget.0 != 0 && noTarget.2.contains("--extend-to"))
    }

    @Test func benchInfoPrintsTheRuntime() throws {
        let (status, out, _) = try CLI.run(["bench", "info"])
        #expect(status == 0)
        #expect(out.contains("isa:") && out.contains("threads:") && out.contains("numa nodes:"))
        let flag = try CLI.run(["bench", "--info"])
        #expect(flag.0 == 0 && flag.1 == out)
        // LONGEMBED_ISA caps the kernels' ISA for the process.
        let scalar = try CLI.run(["bench", "info"], environment: ["LONGEMBED_ISA": "scalar"])
        #expect(scalar.0 == 0 && scalar.1.contains("isa:          scalar"), "\(scalar.1)")
        if NativeRuntime.detectedISA >= .avx2 {
            let avx2 = try CLI.run(["bench", "info"], environment: ["LONGEMBED_ISA": "avx2"])
            #expect(avx2.1.contains("isa:          avx2+fma"), "\(avx2.1)")
        }
        // A user's OPENBLAS_CORETYPE is kept.
        let core = try CLI.run(["bench", "info"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(core.1.contains("blas core:    Prescott"), "\(core.1)")
    }

    @Test func benchSGEMMReportsARate() throws {
        let ok = try CLI.run(["bench", "sgemm", "--m", "64", "--n", "48", "--k", "33", "--repeats", "2"])
        #expect(ok.0 == 0 && ok.1.contains("sgemm 64x48x33") && ok.1.contains("GFLOP/s"), "\(ok.1)\(ok.2)")
        let bad = try CLI.run(["bench", "sgemm", "--m", "0"])
        #expect(bad.0 != 0 && bad.2.contains("sgemm"), "\(bad.2)")
        let huge = try CLI.run(["bench", "sgemm", "--m", "100000000000", "--k", "100000000000"])
        #expect(huge.0 != 0 && huge.2.contains("do not fit"), "\(huge.2)")
    }

    @Test func benchScalingRunsAndRejectsBadOptions() throws {
        let ok = try CLI.run(["bench", "scaling", "--workload", "attention", "--tokens", "256", "--rounds", "2", "--threads", "2"])
        #expect(ok.0 == 0, "\(ok.2)")
        #expect(ok.1.contains("round 2:") && ok.1.contains("probe") && ok.1.contains("median speed-up"), "\(ok.1)")
        let bad = try CLI.run(["bench", "scaling", "--workload", "magic"])
        #expect(bad.0 != 0 && bad.2.contains("magic"))
        for workload in ["attention", "encoder"] {
            let huge = try CLI.run(["bench", "scaling", "--workload", workload, "--tokens", "100000000000"])
            #expect(huge.0 != 0 && huge.2.contains("--tokens"), "\(huge.2)")
        }
        let hugeEncoder = try CLI.run(["bench", "encoder", "--tokens", "100000000000"])
        #expect(hugeEncoder.0 != 0 && hugeEncoder.2.contains("--tokens"), "\(hugeEncoder.2)")
        let one = try CLI.run(["bench", "scaling", "--threads", "1"])
        #expect(one.0 != 0 && one.2.contains("--threads"))
    }
}
