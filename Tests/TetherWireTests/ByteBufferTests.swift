import Testing
@testable import TetherWire

@Suite struct ByteBufferTests {
    @Test func fifoWithCompaction() {
        var b = ByteBuffer()
        var model: [UInt8] = []
        var next: UInt8 = 0
        for round in 0..<200 {
            let add = (round * 7) % 13 + 1
            var chunk: [UInt8] = []
            for _ in 0..<add { chunk.append(next); next &+= 1 }
            b.append(chunk)
            model += chunk
            let take = (round * 5) % 11
            #expect(b.read(take) == Array(model.prefix(take)))
            model.removeFirst(min(take, model.count))
            #expect(b.count == model.count)
            #expect(Array(b.readable) == model)
        }
        #expect(b.firstIndex(of: model[3]) == 3)
        #expect(b.firstIndex(of: model[3], limit: 3) == nil)
        #expect(b.readAll() == model)
        #expect(b.isEmpty)
        b.consume(5)  // more than held: no trap
        #expect(b.count == 0)
    }
}
