// A hand-written writer for the export JSON, byte for byte what JSONEncoder prints with
// [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]: two-space indents, `"key" : value`,
// keys in sorted order, absent optionals left out, an empty array as "[\n\n<indent>]".
// JSONEncoder takes most of a second on a 10,000-task plan; this takes milliseconds.
// Each value lists its keys already sorted; tests compare both encoders' output.

public struct JSONWriter {
    // The output so far, written through a pointer kept in the struct itself: appending to
    // an Array byte by byte (a uniqueness and capacity check each time), or through a
    // class's properties (a run-time exclusivity check each time), was most of an export.
    // A JSONWriter is used in place (inout); a copy would share the buffer.
    private final class Allocation {
        var base: UnsafeMutablePointer<UInt8>
        init(_ base: UnsafeMutablePointer<UInt8>) { self.base = base }
        deinit { base.deallocate() }
    }

    private let allocation: Allocation
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// The number of bytes written so far.
    public private(set) var count = 0
    private var depth = 0
    /// The open container has no member yet.
    private var fresh = false
    /// `fresh` of each enclosing container.
    private var outer: [Bool] = []

    public init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
        allocation = Allocation(base)
    }

    /// The bytes written so far, without a copy, for the duration of `body`.
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    public var text: String { withBytes { String(decoding: $0, as: UTF8.self) } }

    /// Drops the bytes written so far (after handing them on); the nesting state stays.
    public mutating func clearBytes() { count = 0 }

    @inline(__always) private mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private mutating func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: base, count: count)
        base.deallocate()
        base = b
        allocation.base = b
        capacity = c
    }

    @inline(__always) private mutating func put(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always) private mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let src = bytes.baseAddress else { return }
        reserve(bytes.count)
        (base + count).update(from: src, count: bytes.count)
        count += bytes.count
    }

    /// A newline and `width` spaces.
    @inline(__always) private mutating func newline(indent width: Int) {
        reserve(width + 1)
        base[count] = 0x0A
        (base + count + 1).update(repeating: 0x20, count: width)
        count += width + 1
    }

    /// Separator and indentation before the next member of the open container.
    private mutating func member() {
        guard depth > 0 else { return }
        if fresh { fresh = false } else { put(0x2C) }
        newline(indent: 2 * depth)
    }

    private mutating func open(_ bracket: UInt8) {
        put(bracket)
        depth += 1
        outer.append(fresh)
        fresh = true
    }

    private mutating func close(_ bracket: UInt8) {
        depth -= 1
        if fresh { put(0x0A) }
        fresh = outer.popLast() ?? false
        newline(indent: 2 * depth)
        put(bracket)
    }

    public mutating func beginObject() { open(0x7B) }
    public mutating func endObject() { close(0x7D) }
    public mutating func beginArray() { open(0x5B) }
    public mutating func endArray() { close(0x5D) }

    /// Starts a member of an object: `"key" : `; the value follows. Keys are literals
    /// that need no escaping.
    public mutating func key(_ k: StaticString) {
        member()
        put(0x22)
        put(UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        reserve(4)
        base[count] = 0x22; base[count + 1] = 0x20; base[count + 2] = 0x3A; base[count + 3] = 0x20
        count += 4
    }

    /// Starts an element of an array (values written after `key` need no call).
    public mutating func element() { member() }

    public mutating func string(_ s: String) {
        put(0x22)
        var s = s
        let plain = s.withUTF8 { buf in
            // Most strings need no escaping: copy those whole.
            guard !buf.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else { return false }
            put(buf)
            return true
        }
        if !plain { escape(s) }
        put(0x22)
    }

    private mutating func escape(_ s: String) {
        let hex: StaticString = "0123456789abcdef"
        for b in s.utf8 {
            switch b {
            case 0x22: put(0x5C); put(0x22)
            case 0x5C: put(0x5C); put(0x5C)
            case 0x08: put(0x5C); put(0x62)
            case 0x0C: put(0x5C); put(0x66)
            case 0x0A: put(0x5C); put(0x6E)
            case 0x0D: put(0x5C); put(0x72)
            case 0x09: put(0x5C); put(0x74)
            case 0x00..<0x20:
                for c: UInt8 in [0x5C, 0x75, 0x30, 0x30] { put(c) }
                put(hex.utf8Start[Int(b >> 4)]); put(hex.utf8Start[Int(b & 0xF)])
            default: put(b)
            }
        }
    }

    public mutating func int(_ v: Int) {
        var s = String(v)
        s.withUTF8 { put($0) }
    }

    public mutating func bool(_ v: Bool) {
        let literal: StaticString = v ? "true" : "false"
        put(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    // Members of an object, in the caller's (sorted) order.
    public mutating func field(_ k: StaticString, _ v: String) { key(k); string(v) }
    public mutating func field(_ k: StaticString, _ v: String?) { if let v { key(k); string(v) } }
    public mutating func field(_ k: StaticString, _ v: Int) { key(k); int(v) }
    public mutating func field(_ k: StaticString, _ v: Bool) { key(k); bool(v) }
    public mutating func field(_ k: StaticString, _ v: [String]) {
        key(k)
        beginArray()
        for s in v { element(); string(s) }
        endArray()
    }
}

extension TaskJSON {
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        w.field("blocked_by", blockedBy)
        w.field("done_on", doneOn)
        w.field("due", due)
        w.field("generated_from", generatedFrom)
        w.field("id", id)
        w.field("labs", labs)
        w.field("note", note)
        w.field("number", number)
        w.field("overdue", overdue)
        w.field("part_of", partOf)
        w.field("parts", parts)
        w.field("phase", phase)
        w.field("regressed", regressed)
        w.field("requires", requires)
        w.field("status", status)
        w.field("title", title)
        w.field("verified", verified)
        w.field("verified_against", verifiedAgainst)
        w.field("verified_subject", verifiedSubject)
        w.endObject()
    }
}

extension PhaseJSON {
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        w.field("done", done)
        w.field("due", due)
        w.field("icon", icon)
        w.field("id", id)
        w.field("number", number)
        w.field("tasks", tasks)
        w.field("title", title)
        w.field("total", total)
        w.endObject()
    }
}

extension PlanJSON {
    public func write(to w: inout JSONWriter) {
        write(to: &w) { w in
            for t in tasks { w.element(); t.write(to: &w) }
        }
    }

    /// The export JSON of a plan, handed to `sink` in pieces of about `chunk` bytes, each
    /// task's value made just before it is written: a 100,000-task export never holds
    /// every task's JSON value, nor the whole text, at once. The bytes are those of
    /// `prettyJSON`. Each piece is valid only during the call.
    public static func writeStreaming(
        state: PlanState, progress: Tracker.Progress, today: Day,
        chunk: Int = 1 << 20, to sink: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        let head = PlanJSON(state: state, progress: progress, today: today, withTasks: false)
        var w = JSONWriter(capacity: chunk + (chunk >> 2))
        head.write(to: &w) { w in
            for i in state.plan.tasks.indices {
                w.element()
                TaskJSON(i, state: state, progress: progress, today: today).write(to: &w)
                if w.count >= chunk { w.withBytes(sink); w.clearBytes() }
            }
        }
        w.withBytes(sink)
    }

    func write(to w: inout JSONWriter, tasks writeTasks: (inout JSONWriter) -> Void) {
        w.beginObject()
        w.field("done", done)
        w.field("generated_from", generatedFrom)
        w.field("id", id)
        w.field("json_schema", jsonSchema)
        w.field("learner_start", learnerStart)
        w.field("orphaned", orphaned)
        w.key("phases")
        w.beginArray()
        for p in phases { w.element(); p.write(to: &w) }
        w.endArray()
        w.field("schema", schema)
        w.field("start", start)
        w.key("tasks")
        w.beginArray()
        writeTasks(&w)
        w.endArray()
        w.field("title", title)
        w.field("today", today)
        w.field("total", total)
        w.endObject()
    }

    /// The pretty, key-sorted JSON of the whole plan (what `export --format json` prints).
    public var prettyJSON: String {
        var w = JSONWriter(capacity: 512 * (tasks.count + 16))
        write(to: &w)
        return w.text
    }
}

extension Array where Element == TaskJSON {
    /// A pretty, key-sorted JSON array of tasks (`list --json`, `blocked --json`).
    public var prettyJSON: String {
        var w = JSONWriter(capacity: 512 * (count + 1))
        w.beginArray()
        for t in self { w.element(); t.write(to: &w) }
        w.endArray()
        return w.text
    }
}
