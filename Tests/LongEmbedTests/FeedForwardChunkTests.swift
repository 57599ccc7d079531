import Foundation
import Testing
@testable import LongEmbed

/// The feed-forward block runs `Workspace.ffnChunkRows` tokens at a time. A short sequence packed
/// after a long one has its rows in the second chunk, straddling the boundary: its vector must be
/// the one it gets alone (packed sequences never see each other), for a post-norm encoder
/// (MiniLM, through PI) and a pre-norm decoder (the Qwen3 fixture, causal).
@Suite struct FeedForwardChunkTests {
    static func packedEqualsAlone(model: Model, options: EncoderOptions, longIDs: [Int32], shortIDs: [Int32]) throws {
        #expect(longIDs.count < Workspace.ffnChunkRows && longIDs.count + shortIDs.count > Workspace.ffnChunkRows)
        let encoder = try Encoder(model: model, options: options)
        let packed = try encoder.embed(tokenIDs: [longIDs, shortIDs])
        let alone = try encoder.embed(tokenIDs: [shortIDs])[0]
        #expect(try TestSupport.maxAbsDiff(packed[1], alone) <= 1e-6)
    }

    @Test func postNormEncoderAcrossTheChunkBoundary() throws {
        let model = try Model(directory: TestSupport.defaultModel)
        let long = (0..<4090).map { Int32(1000 + $0 % 20000) }, short = (0..<40).map { Int32(2000 + 7 * $0) }
        let options = EncoderOptions(contextExtension: ContextExtension(.positionInterpolation(), targetLength: 4096),
                                     batchTokens: 8192)
        try Self.packedEqualsAlone(model: model, options: options, longIDs: long, shortIDs: short)
    }

    @Test func preNormDecoderAcrossTheChunkBoundary() throws {
        let model = try EncoderFamilyTests.model("qwen3")
        let long = (0..<4090).map { Int32(100 + $0 % 1900) }, short = (0..<40).map { Int32(300 + 11 * $0) }
        let options = EncoderOptions(contextExtension: ContextExtension(.extrapolation, targetLength: 4096), batchTokens: 8192)
        try Self.packedEqualsAlone(model: model, options: options, longIDs: long, shortIDs: short)
    }
}
