import Testing
import LongEmbed

@Suite struct RuntimeTests {
    @Test func threadsCanBeSet() throws {
        let before = NativeRuntime.threads
        try NativeRuntime.setThreads(1)
        #expect(NativeRuntime.threads == 1 || !NativeRuntime.openMPEnabled)
        try NativeRuntime.setThreads(max(before, 1))
        #expect(throws: KernelError.self) { try NativeRuntime.setThreads(0) }
    }

    @Test func numaReportsAtLeastOneNode() {
        #expect(NativeRuntime.numaNodes >= 1)
    }
}
