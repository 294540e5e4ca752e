// Protocol Buffers' wire format is a list of fields, each a key and a value. The key is a
// varint: (field number << 3) | wire type, with wire type 0 a varint (int32, int64, bool,
// enums), 1 eight fixed bytes, 2 length-delimited (strings, bytes, messages, packed repeated),
// 5 four fixed bytes. A varint keeps 7 bits per byte, low bits first, the top bit saying "more
// follows": 1299 is D3 0A; a negative int64 always takes 10 bytes. Field names never travel,
// only numbers: that is why a reader can skip a field it does not know (its wire type says how
// long it is), so old readers survive new fields; and why reusing or renumbering a field breaks
// every reader that still has the old numbers. The lab encodes Books with swift-protobuf,
// decodes them with a decoder written here by hand (`WireDecoder`), and compares; then shows an
// old reader (BookV1) skipping the new fields, and a renumbered writer (BookRenumbered)
// misread by the current reader.
import Foundation
import LabKit
import SwiftProtobuf

struct ProtoSchemasLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "varint-one-byte", "drop-unknown", "no-skip", "rename-only"], default: "none",
        help:
            "Breaks one thing on purpose: varint-one-byte (the hand decoder reads every varint as one byte), drop-unknown (the old reader discards the fields it does not know, so re-encoding loses them), no-skip (the hand decoder reads an unknown field as a varint instead of skipping it by its wire type), rename-only (the \"breaking\" release only renames fields, keeping their numbers: nothing breaks)."
    )
    static let samples = Knob.int("samples", 1...100_000, default: 2_000, quick: 100, help: "Random books encoded and decoded both ways.")
    static let seed = Knob.int("seed", 0...1_000_000, default: 9, help: "Seed of the random books (runs repeat).")

    static let info = LabInfo(
        id: "proto-schemas", title: "Protobuf on the wire, decoded by hand", phase: 9,
        teaches:
            "Protobuf's wire format (varints, field numbers and wire types) decoded by hand equals swift-protobuf's decoding; an old reader skips a field it does not know and keeps it; renumbering a field breaks old readers.",
        parameters: [breaker.parameter, samples.parameter, seed.parameter],
        subjects: [.reference],
        source: "Sources/Labs/GRPC/Phase09/ProtoSchemas.swift")

    func run(_ lab: LabContext) async throws {
        let fault = lab[Self.breaker]
        if fault != "none" { lab.step("Broken on purpose: \(fault)") }
        var random = SplitMix64(seed: UInt64(lab[Self.seed]))
        let books = (0..<lab[Self.samples]).map { _ in Self.randomBook(&random) }

        // One book, byte by byte.
        let example = Book.with {
            $0.id = 150; $0.title = "Kindred"; $0.authorID = 3; $0.year = 1979; $0.tags = ["time"]; $0.priceCents = 1299
        }
        let exampleBytes: [UInt8] = try example.serializedBytes()
        var exampleDecoder = WireDecoder(exampleBytes)
        let fields = try exampleDecoder.fields()
        lab.step(
            "Encoded one Book with swift-protobuf: \(exampleBytes.count) bytes",
            exampleBytes.map { String(format: "%02X", $0) }.joined(separator: " ") + "\n"
                + fields.map { "field \($0.number), wire type \($0.wireType) (\(WireDecoder.wireTypeName($0.wireType))): \($0.value)" }.joined(separator: "\n")
                + "\n(its JSON, for comparison: \(try example.jsonString().utf8.count) bytes)")

        // 1. Hand decoding equals the library's.
        let decoder = WireDecoder.Options(varintOneByte: fault == "varint-one-byte")
        var wrong: [String] = []
        var total = 0
        for book in books {
            let bytes: [UInt8] = try book.serializedBytes()
            total += bytes.count
            do {
                let decoded = try WireDecoder.book(bytes, options: decoder)
                if decoded != book { wrong.append("book \(book.id): decoded \(decoded.id) \"\(decoded.title)\"") }
            } catch {
                wrong.append("book \(book.id): \(error)")
            }
        }
        lab.figure("protobuf bytes per random book", Double(total) / Double(books.count), "bytes")
        lab.check(
            "hand decoding equals swift-protobuf's", wrong.isEmpty,
            expected: "\(books.count) of \(books.count) random books decoded by hand to exactly the Book encoded",
            observed: wrong.isEmpty ? "\(books.count) of \(books.count) equal" : "\(wrong.count) differ, e.g. \(wrong[0])")

        // 2. An old reader (BookV1: no tags, no price) skips the new fields, and keeps them.
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = fault == "drop-unknown"
        var lost: [String] = []
        for book in books {
            let old = try Bookshelf_V1_BookV1(serializedBytes: try book.serializedBytes() as [UInt8], options: options)
            let seen = old.id == book.id && old.title == book.title && old.authorID == book.authorID && old.year == book.year
            let back = try Book(serializedBytes: try old.serializedBytes() as [UInt8])
            if !seen {
                lost.append("book \(book.id): the old reader read \(old.id) \"\(old.title)\"")
            } else if back != book {
                lost.append(
                    "book \(book.id): re-encoded by the old reader, it came back with tags \(back.tags) and price \(back.priceCents), not \(book.tags) and \(book.priceCents)"
                )
            }
        }
        lab.step(
            "Read every Book with BookV1, the first release's message (fields 1–4 only)",
            "fields 5 (tags) and 6 (price) are unknown to it: skipped by their wire type and kept as unknown fields\(options.discardUnknownFields ? " — here discarded" : "")"
        )
        lab.check(
            "an old reader skips the new fields and keeps them", lost.isEmpty,
            expected: "BookV1 reads id, title, author and year of every Book; re-encoded, the Book comes back whole",
            observed: lost.isEmpty ? "\(books.count) of \(books.count) read and round-tripped" : "\(lost.count) not, e.g. \(lost[0])")

        // 3. The hand decoder as an old reader: it must skip what it does not know, by wire type.
        var skipped: [String] = []
        for book in books {
            let bytes: [UInt8] = try book.serializedBytes()
            let library = try Bookshelf_V1_BookV1(serializedBytes: bytes)
            do {
                let hand = try WireDecoder.bookV1(bytes, options: .init(skipUnknown: fault != "no-skip"))
                if (hand.id, hand.title, hand.authorID, hand.year) != (library.id, library.title, library.authorID, library.year) {
                    skipped.append("book \(book.id): by hand \(hand.id) \"\(hand.title)\" \(hand.year)")
                }
            } catch {
                skipped.append("book \(book.id): \(error)")
            }
        }
        lab.check(
            "the hand decoder skips unknown fields by their wire type", skipped.isEmpty,
            expected: "decoding with the BookV1 schema by hand gives what swift-protobuf's BookV1 gives, for every book",
            observed: skipped.isEmpty ? "\(books.count) of \(books.count) the same" : "\(skipped.count) differ, e.g. \(skipped[0])")

        // 4. A renumbered field: written by the new release, read by the current one.
        let written = Bookshelf_V1_BookRenumbered.with {
            $0.id = 7; $0.isbn = 9_780_441_478_125; $0.authorID = 3; $0.year = 1969; $0.title = "The Left Hand of Darkness"
        }
        let newBytes: [UInt8] =
            fault == "rename-only"
            ? try Book.with {
                $0.id = 7; $0.title = "The Left Hand of Darkness"; $0.authorID = 3; $0.year = 1969
            }.serializedBytes()
            : try written.serializedBytes()
        let read = try Book(serializedBytes: newBytes)
        var strict = "decoded"
        do { _ = try WireDecoder.book(newBytes, options: .init(strict: true)) } catch { strict = "\(error)" }
        let broke = read.title != written.title && strict != "decoded"
        lab.step(
            "A release renumbered Book's fields (title 2 → 7, and 2 now an ISBN as a number)\(fault == "rename-only" ? " — here only renamed" : "")",
            "the current reader decodes its bytes without an error: title \"\(read.title)\", \(read.unknownFields.data.count) bytes of unknown fields; the strict hand decoder: \(strict)"
        )
        lab.check(
            "a renumbered field breaks compatibility", broke,
            expected: "the current reader loses the title (field 2 arrives as a varint, field 7 is unknown) and a strict decode fails",
            observed: broke
                ? "title read as \"\(read.title)\" instead of \"\(written.title)\"; strict decode: \(strict)"
                : "the bytes decoded intact (title \"\(read.title)\"): nothing was renumbered")
    }

    static func randomBook(_ r: inout SplitMix64) -> Book {
        let words = ["Kindred", "Dawn", "Parable", "Earthsea", "Dune", "Solaris", "Ubik", "Neuromancer", "Ficciones", "Žena", "東京", "Ωmega"]
        return Book.with {
            // Every size of varint: small ids, 64-bit ones, negatives (10 bytes on the wire).
            switch r.next() % 4 {
            case 0: $0.id = Int64(r.next() % 128)
            case 1: $0.id = Int64(r.next() % 1_000_000)
            case 2: $0.id = Int64(bitPattern: r.next())
            default: $0.id = -Int64(r.next() % 1_000)
            }
            $0.title = (0..<(1 + Int(r.next() % 4))).map { _ in words[Int(r.next() % UInt64(words.count))] }.joined(separator: " ")
            $0.authorID = Int64(r.next() % 500)
            $0.year = Int32(r.next() % 2_100) - (r.next() % 10 == 0 ? 3_000 : 0)
            $0.tags = (0..<Int(r.next() % 4)).map { _ in words[Int(r.next() % UInt64(words.count))].lowercased() }
            $0.priceCents = r.next() % 5 == 0 ? 0 : Int64(r.next() % 100_000)
        }
    }
}

/// A seeded generator (SplitMix64), so a run's random books repeat.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Protobuf's wire format, read by hand.
struct WireDecoder {
    struct Options {
        /// Breaker: read every varint as its first byte only.
        var varintOneByte = false
        /// Skip a field the schema does not know by its wire type (false: the breaker, read it as a varint).
        var skipUnknown = true
        /// A known field with the wrong wire type is an error (else it is skipped, as libraries do).
        var strict = false
    }

    enum Value: CustomStringConvertible {
        case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32)
        var description: String {
            switch self {
            case let .varint(v): return "varint \(v)"
            case let .fixed64(v): return "fixed64 \(v)"
            case let .fixed32(v): return "fixed32 \(v)"
            case let .bytes(b): return "\(b.count) bytes \"\(String(decoding: b, as: UTF8.self))\""
            }
        }
    }
    struct Field { var number: Int; var wireType: Int; var value: Value }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    let bytes: [UInt8]
    let options: Options
    private var at = 0

    init(_ bytes: [UInt8], options: Options = Options()) { self.bytes = bytes; self.options = options }

    static func wireTypeName(_ t: Int) -> String {
        let names = ["varint", "64-bit", "length-delimited", "start group", "end group", "32-bit"]
        return names.indices.contains(t) ? names[t] : "invalid"
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard at < bytes.count else { throw Malformed("a varint runs past the end at byte \(at)") }
            let b = bytes[at]
            at += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 || options.varintOneByte { return result }
            shift += 7
            guard shift < 64 else { throw Malformed("a varint longer than 10 bytes at byte \(at)") }
        }
    }

    mutating func take(_ n: Int) throws -> [UInt8] {
        guard n >= 0, at + n <= bytes.count else { throw Malformed("\(n) bytes wanted at byte \(at), \(bytes.count - at) left") }
        defer { at += n }
        return Array(bytes[at..<(at + n)])
    }

    /// The next field, its value read by its wire type.
    mutating func field(reading wireTypeOverride: Int? = nil) throws -> Field {
        let key = try varint()
        let number = Int(key >> 3), wireType = Int(key & 7)
        guard number > 0 else { throw Malformed("field number 0 at byte \(at)") }
        let value: Value
        switch wireTypeOverride ?? wireType {
        case 0: value = .varint(try varint())
        case 1: value = .fixed64(try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) })
        case 2: value = .bytes(try take(Int(try varint())))
        case 5: value = .fixed32(try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) })
        default: throw Malformed("wire type \(wireType) (field \(number)) is not one this decoder reads")
        }
        return Field(number: number, wireType: wireType, value: value)
    }

    mutating func fields() throws -> [Field] {
        var all: [Field] = []
        while at < bytes.count { all.append(try field()) }
        return all
    }

    /// Decodes with a schema: `known` maps field numbers to the wire type they must have.
    private mutating func decode(known: [Int: Int], name: [Int: String], _ set: (Int, Value) throws -> Void) throws {
        while at < bytes.count {
            let start = at
            let key = try varint()
            at = start
            let number = Int(key >> 3), wireType = Int(key & 7)
            guard let expected = known[number] else {
                // Unknown: skip by its wire type (the breaker reads a varint whatever it is).
                _ = try field(reading: options.skipUnknown ? nil : 0)
                continue
            }
            let f = try field()
            guard wireType == expected else {
                if options.strict {
                    throw Malformed(
                        "field \(number) (\(name[number] ?? "?")) has wire type \(wireType) (\(Self.wireTypeName(wireType))); the schema says \(expected) (\(Self.wireTypeName(expected)))"
                    )
                }
                continue
            }
            try set(number, f.value)
        }
    }

    private static func string(_ v: Value) throws -> String {
        guard case let .bytes(b) = v, let s = String(validating: b, as: UTF8.self) else { throw Malformed("not UTF-8 text") }
        return s
    }

    private static func int(_ v: Value) -> UInt64 { if case let .varint(x) = v { return x }; return 0 }

    mutating func book() throws -> Book {
        var book = Book()
        try decode(
            known: [1: 0, 2: 2, 3: 0, 4: 0, 5: 2, 6: 0],
            name: [1: "id", 2: "title", 3: "author_id", 4: "year", 5: "tags", 6: "price_cents"]
        ) { number, value in
            switch number {
            case 1: book.id = Int64(bitPattern: Self.int(value))
            case 2: book.title = try Self.string(value)
            case 3: book.authorID = Int64(bitPattern: Self.int(value))
            case 4: book.year = Int32(truncatingIfNeeded: Self.int(value))
            case 5: book.tags.append(try Self.string(value))
            default: book.priceCents = Int64(bitPattern: Self.int(value))
            }
        }
        return book
    }

    static func book(_ bytes: [UInt8], options: Options) throws -> Book {
        var decoder = WireDecoder(bytes, options: options)
        return try decoder.book()
    }

    static func bookV1(_ bytes: [UInt8], options: Options) throws -> Bookshelf_V1_BookV1 {
        var decoder = WireDecoder(bytes, options: options)
        return try decoder.bookV1()
    }

    /// With the first release's schema: fields 5 and 6 are unknown and skipped.
    mutating func bookV1() throws -> Bookshelf_V1_BookV1 {
        var book = Bookshelf_V1_BookV1()
        try decode(known: [1: 0, 2: 2, 3: 0, 4: 0], name: [1: "id", 2: "title", 3: "author_id", 4: "year"]) { number, value in
            switch number {
            case 1: book.id = Int64(bitPattern: Self.int(value))
            case 2: book.title = try Self.string(value)
            case 3: book.authorID = Int64(bitPattern: Self.int(value))
            default: book.year = Int32(truncatingIfNeeded: Self.int(value))
            }
        }
        return book
    }
}
