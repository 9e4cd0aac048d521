// Fuzz target: the key=value codec (DESIGN D2) — every way a peer's bytes reach WireCodec.

@testable import BrokerWire
#if canImport(Glibc)
import Glibc
#endif

/// Small limits, so the line, message and field limits are reached inside -max_len.
private let tight = WireLimits(maxLineBytes: 64, maxMessageBytes: 512, maxFields: 8)

private func readThroughPipe(_ bytes: [UInt8], requireBlankLine: Bool) -> Result<WireMessage, Error> {
    var ends: [CInt] = [0, 0]
    guard pipe(&ends) == 0 else { fatalError("wire: pipe failed") }
    let reader = FileDescriptor(rawValue: ends[0]), writer = FileDescriptor(rawValue: ends[1])
    defer { reader.close() }
    try! writer.writeAll(bytes)
    writer.close()
    return Result { try readWireMessage(from: reader, requireBlankLine: requireBlankLine) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? WireCodec.decode(bytes, limits: tight)
    let decoded = Result { try WireCodec.decode(bytes) }

    // The descriptor path (readWireMessage, through a pipe) reads exactly what decode reads; the
    // agent socket's stricter mode (blank line required) accepts a subset of it, read the same.
    if size <= 60_000 {
        switch (decoded, readThroughPipe(bytes, requireBlankLine: false)) {
        case (.success(let a), .success(let b)) where a == b: break
        case (.failure, .failure): break
        default: fatalError("wire: readWireMessage and WireCodec.decode disagree")
        }
        if case .success(let strict) = readThroughPipe(bytes, requireBlankLine: true) {
            guard case .success(strict) = decoded else { fatalError("wire: the socket's strict read accepted what decode refuses") }
        }
    }

    // Fed in two pieces, the splitter yields the lines it yields for the whole input.
    if let message = try? decoded.get(), size > 1 {
        let cut = Int(bytes[0]) % size
        var splitter = LineSplitter(limits: .standard)
        var lines: [ArraySlice<UInt8>] = []
        var open = true
        for piece in [bytes[..<cut], bytes[cut...]] where open {
            open = try! splitter.feed(piece) { line in
                if line.isEmpty { return false }
                lines.append(line)
                return true
            }
        }
        if open, let last = try! splitter.finish(), !last.isEmpty { lines.append(last) }
        guard lines.count == message.fields.count else { fatalError("wire: split input gives another line count") }

        // What decodes and encodes decodes back to itself.
        if let encoded = try? message.encoded() {
            guard (try? WireCodec.decode(encoded)) == message else { fatalError("wire: encode → decode changed the message") }
        }
    }
    return 0
}
