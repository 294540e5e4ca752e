import Foundation

/// A compiled copy of a validated plan, so that a command does not parse YAML again when
/// the plan has not changed: parsing a 10,000-task file takes far longer than the whole
/// command may (see bench/RESULTS.md). The cache is keyed by the file's identity (path,
/// device, inode, size, modification and change times) and the set of known labs; a file
/// modified within two seconds of being cached is also compared by content hash, since a
/// same-size edit in the same clock tick would otherwise look unchanged.
///
/// Caches live in `$XDG_CACHE_HOME/curriculum/` (`~/.cache/curriculum/`); any failure to
/// read or write one just means parsing the plan.
public enum PlanCache {
    /// Bump when the binary format or the loader's output changes.
    static let formatVersion: UInt32 = 4

    public static func load(path: String, knownLabs: Set<String>, environment: [String: String]) throws(PlanFileError) -> PlanLoadResult {
        let absolute = path.hasPrefix("/") ? path : Tracker.currentDirectory() + "/" + path
        guard let identity = FileIdentity(path: absolute) else {
            return try PlanLoader.load(path: path, knownLabs: knownLabs)
        }
        let labsKey = fnv(knownLabs.sorted().joined(separator: ","))
        let cacheFile = cacheFolder(environment).map { "\($0)/plan-\(String(fnv(absolute), radix: 16)).bin" }
        if let cacheFile, let bytes = readWhole(cacheFile),
            let cached = decode(bytes, identity: identity, labsKey: labsKey, path: absolute)
        {
            // A cache written within 2 s of the file's change was just verified by content
            // (re-reading and hashing the whole plan); once the file is older than that, a
            // later edit must change its identity, so cache it again to skip the hash.
            if let stamp = header(bytes, at: 80), let hash = header(bytes, at: 72),
                Int64(bitPattern: stamp) - identity.mtimeSec < 2,
                Int64(Date().timeIntervalSince1970) - identity.mtimeSec >= 2, let plan = cached.plan
            {
                write(
                    encode(plan, warnings: cached.warnings, identity: identity, labsKey: labsKey, contentHash: hash),
                    to: cacheFile)
            }
            return cached
        }
        let result = try PlanLoader.load(path: path, knownLabs: knownLabs)
        if let cacheFile, result.errors.isEmpty, let plan = result.plan, let text = FileManager.default.contents(atPath: absolute) {
            let fresh = FileIdentity(path: absolute)
            if fresh == identity {
                let data = encode(plan, warnings: result.warnings, identity: identity, labsKey: labsKey, contentHash: fnv(text))
                write(data, to: cacheFile)
            }
        }
        return result
    }

    /// The plan built into the binary, cached the same way: its identity is its content's
    /// hash, so a new build with another plan never reads an old copy.
    public static func loadBuiltIn(text: String, file: String, knownLabs: Set<String>, environment: [String: String]) -> PlanLoadResult {
        let hash = fnv(text)
        let identity = FileIdentity(device: 0, inode: hash, size: Int64(text.utf8.count), mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0)
        let labsKey = fnv(knownLabs.sorted().joined(separator: ","))
        let cacheFile = cacheFolder(environment).map { "\($0)/builtin-\(String(hash, radix: 16)).bin" }
        if let cacheFile, let bytes = readWhole(cacheFile),
            let cached = decode(bytes, identity: identity, labsKey: labsKey, path: file)
        {
            return cached
        }
        let result = PlanLoader.load(text: text, file: file, knownLabs: knownLabs)
        if let cacheFile, result.errors.isEmpty, let plan = result.plan {
            write(encode(plan, warnings: result.warnings, identity: identity, labsKey: labsKey, contentHash: hash), to: cacheFile)
        }
        return result
    }

    /// A file's bytes, read straight into an array (no Data in between), or nil.
    static func readWhole(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= 0 else { return nil }
        let size = Int(st.st_size)
        var complete = true
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var done = 0
            count = 0
            guard let base = buf.baseAddress else { return }
            while done < size {
                let n = read(fd, base + done, size - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
            complete = done == size
            count = done
        }
        return complete ? bytes : nil
    }

    static func decode(_ data: Data, identity: FileIdentity, labsKey: UInt64, path: String) -> PlanLoadResult? {
        decode([UInt8](data), identity: identity, labsKey: labsKey, path: path)
    }

    static func cacheFolder(_ env: [String: String]) -> String? {
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/curriculum" }
        guard let home = env["HOME"], home.hasPrefix("/") else { return nil }
        return home + "/.cache/curriculum"
    }

    static func write(_ data: Data, to file: String) {
        let folder = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temp = file + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temp, contents: data) else { return }
        if rename(temp, file) != 0 { unlink(temp) }
    }

    // MARK: Identity

    struct FileIdentity: Equatable {
        var device: UInt64, inode: UInt64, size: Int64
        var mtimeSec: Int64, mtimeNsec: Int64, ctimeSec: Int64, ctimeNsec: Int64

        init?(path: String) {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            device = UInt64(st.st_dev); inode = UInt64(st.st_ino); size = Int64(st.st_size)
            mtimeSec = Int64(st.st_mtim.tv_sec); mtimeNsec = Int64(st.st_mtim.tv_nsec)
            ctimeSec = Int64(st.st_ctim.tv_sec); ctimeNsec = Int64(st.st_ctim.tv_nsec)
        }

        init(device: UInt64, inode: UInt64, size: Int64, mtimeSec: Int64, mtimeNsec: Int64, ctimeSec: Int64, ctimeNsec: Int64) {
            self.device = device; self.inode = inode; self.size = size
            self.mtimeSec = mtimeSec; self.mtimeNsec = mtimeNsec; self.ctimeSec = ctimeSec; self.ctimeNsec = ctimeNsec
        }
    }

    /// FNV-1a, 64 bits: a cheap fingerprint, not a security measure.
    static func fnv<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func fnv(_ text: String) -> UInt64 { fnv(text.utf8) }

    /// Over the bytes in place: iterating Data byte by byte costs milliseconds per megabyte.
    static func fnv(_ data: Data) -> UInt64 { data.withUnsafeBytes { fnv($0) } }

    /// A 64-bit field of the cache header (72: content hash, 80: when it was cached).
    static func header(_ bytes: [UInt8], at offset: Int) -> UInt64? {
        var r = ByteReader(bytes)
        guard r.claim(offset) != nil else { return nil }
        let v = r.u64()
        return r.failed ? nil : v
    }

    // MARK: Format

    static func encode(_ plan: Plan, warnings: [Diagnostic], identity: FileIdentity, labsKey: UInt64, contentHash: UInt64) -> Data {
        var w = ByteWriter()
        w.u32(0x4355_5250)  // "CURP"
        w.u32(formatVersion)
        for v in [
            identity.device, identity.inode, UInt64(bitPattern: identity.size),
            UInt64(bitPattern: identity.mtimeSec), UInt64(bitPattern: identity.mtimeNsec),
            UInt64(bitPattern: identity.ctimeSec), UInt64(bitPattern: identity.ctimeNsec), labsKey, contentHash,
        ] {
            w.u64(v)
        }
        w.u64(UInt64(bitPattern: Int64(Date().timeIntervalSince1970)))
        w.int(plan.schema); w.str(plan.id); w.str(plan.title)
        w.opt(plan.generatedFrom); w.day(plan.start); w.opt(plan.frontMatter); w.opt(plan.noteBefore); w.opt(plan.noteAfter)
        w.int(plan.phases.count)
        for p in plan.phases {
            w.str(p.id); w.int(p.number); w.opt(p.icon); w.str(p.title); w.day(p.due); w.opt(p.notes)
            w.flag(p.ruleBefore)
            w.int(p.tasks.count); for t in p.tasks { w.int(t) }
        }
        w.int(plan.tasks.count)
        for t in plan.tasks {
            w.str(t.id); w.str(t.title); w.int(t.phase); w.int(t.position)
            w.strs(t.labs); w.strs(t.requires); w.day(t.due)
            w.opt(t.decomposedFrom); w.opt(t.generatedFrom); w.strs(t.renamedFrom); w.opt(t.notes)
        }
        // Resolved relations, so that loading needs no id lookups.
        for (i, r) in plan.requires.enumerated() {
            w.u32(UInt32(r.count)); for j in r { w.u32(UInt32(j)) }
            w.u32(plan.parent[i].map { UInt32($0) } ?? UInt32.max)
        }
        w.int(warnings.count)
        for d in warnings {
            w.str(d.message); w.opt(d.location?.file); w.int(d.location?.line ?? 0); w.int(d.location?.column ?? 0)
        }
        return w.data
    }

    static func decode(_ data: [UInt8], identity: FileIdentity, labsKey: UInt64, path: String) -> PlanLoadResult? {
        var r = ByteReader(data)
        guard r.u32() == 0x4355_5250, r.u32() == formatVersion else { return nil }
        let stored = FileIdentity(
            device: r.u64(), inode: r.u64(), size: Int64(bitPattern: r.u64()),
            mtimeSec: Int64(bitPattern: r.u64()), mtimeNsec: Int64(bitPattern: r.u64()),
            ctimeSec: Int64(bitPattern: r.u64()), ctimeNsec: Int64(bitPattern: r.u64()))
        let storedLabs = r.u64(), contentHash = r.u64()
        let cachedAt = Int64(bitPattern: r.u64())
        guard !r.failed, stored == identity, storedLabs == labsKey else { return nil }
        // Racy edit guard: a file changed within 2 s of caching is compared by content.
        if cachedAt - identity.mtimeSec < 2 {
            guard let text = FileManager.default.contents(atPath: path), fnv(text) == contentHash else { return nil }
        }
        let schema = r.int(), id = r.str(), title = r.str()
        let generatedFrom = r.opt(), start = r.day(), frontMatter = r.opt(), noteBefore = r.opt(), noteAfter = r.opt()
        let phaseCount = r.int()
        guard !r.failed, phaseCount >= 0, phaseCount <= data.count else { return nil }
        var phases: [Phase] = []
        phases.reserveCapacity(phaseCount)
        for _ in 0..<phaseCount {
            let pid = r.str(), number = r.int(), icon = r.opt(), ptitle = r.str(), due = r.day(), notes = r.opt()
            let ruleBefore = r.flag()
            let n = r.int()
            guard !r.failed, n >= 0, n <= data.count else { return nil }
            var tasks: [Int] = []
            tasks.reserveCapacity(n)
            for _ in 0..<n { tasks.append(r.int()) }
            phases.append(Phase(id: pid, number: number, icon: icon, title: ptitle, due: due, notes: notes, ruleBefore: ruleBefore, tasks: tasks))
        }
        let taskCount = r.int()
        guard !r.failed, taskCount >= 0, taskCount <= data.count else { return nil }
        var tasks: [Task] = []
        tasks.reserveCapacity(taskCount)
        for _ in 0..<taskCount {
            let tid = r.str(), ttitle = r.str(), phase = r.int(), position = r.int()
            let labs = r.strs(), requires = r.strs(), due = r.day()
            let from = r.opt(), generated = r.opt(), renamed = r.strs(), notes = r.opt()
            guard !r.failed, phases.indices.contains(phase) else { return nil }
            tasks.append(
                Task(
                    id: tid, title: ttitle, phase: phase, position: position, labs: labs, requires: requires,
                    due: due, decomposedFrom: from, generatedFrom: generated, renamedFrom: renamed, notes: notes))
        }
        var requires = [[Int]](repeating: [], count: taskCount)
        var parent = [Int?](repeating: nil, count: taskCount)
        for i in 0..<taskCount {
            let n = Int(r.u32())
            guard !r.failed, n <= taskCount else { return nil }
            if n > 0 {
                var list = [Int](repeating: 0, count: n)
                for k in 0..<n { list[k] = Int(r.u32()) }
                guard list.allSatisfy({ $0 < taskCount && $0 != i }) else { return nil }
                requires[i] = list
            }
            let p = r.u32()
            if p != UInt32.max {
                guard Int(p) < taskCount, Int(p) != i else { return nil }
                parent[i] = Int(p)
            }
        }
        let warningCount = r.int()
        guard !r.failed, warningCount >= 0, warningCount <= data.count else { return nil }
        var warnings: [Diagnostic] = []
        for _ in 0..<warningCount {
            let message = r.str(), file = r.opt(), line = r.int(), column = r.int()
            warnings.append(.warning(message, at: file.map { SourceLocation(file: $0, line: line, column: column) }))
        }
        guard !r.failed, r.atEnd, phases.allSatisfy({ $0.tasks.allSatisfy(tasks.indices.contains) }) else { return nil }
        let plan = Plan(
            schema: schema, id: id, title: title, generatedFrom: generatedFrom, start: start,
            frontMatter: frontMatter, noteBefore: noteBefore, noteAfter: noteAfter, phases: phases, tasks: tasks,
            resolvedRequires: requires, resolvedParent: parent)
        return PlanLoadResult(plan: plan, diagnostics: warnings)
    }
}

/// Little-endian fixed-width numbers and length-prefixed UTF-8 strings.
struct ByteWriter {
    var data = Data()

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    mutating func str(_ s: String) {
        var s = s
        s.withUTF8 { buf in
            u32(UInt32(buf.count))
            data.append(contentsOf: buf)
        }
    }
    mutating func opt(_ s: String?) {
        if let s { data.append(1); str(s) } else { data.append(0) }
    }
    mutating func strs(_ list: [String]) {
        u32(UInt32(list.count))
        for s in list { str(s) }
    }
    mutating func day(_ d: Day?) {
        if let d { data.append(1); int(d.ordinal) } else { data.append(0) }
    }
    /// An optional Bool in one byte: 0 nil, 1 false, 2 true.
    mutating func flag(_ b: Bool?) { data.append(b.map { $0 ? 2 : 1 } ?? 0) }
}

/// Reads what ByteWriter wrote; any overrun sets `failed` instead of trapping. Numbers
/// are loaded straight from the buffer and strings decoded from it in place: decoding a
/// 100,000-task cache is on every command's path.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    var failed = false

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    /// Claims the next `n` bytes and returns where they start, or nil past the end.
    mutating func claim(_ n: Int) -> Int? {
        guard !failed, n >= 0, n <= bytes.count - offset else { failed = true; return nil }
        defer { offset += n }
        return offset
    }

    mutating func u8() -> UInt8? {
        guard let at = claim(1) else { return nil }
        return bytes[at]
    }

    mutating func u32() -> UInt32 {
        guard let at = claim(4) else { return 0 }
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    }

    mutating func u64() -> UInt64 {
        guard let at = claim(8) else { return 0 }
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    }

    mutating func int() -> Int { Int(truncatingIfNeeded: Int64(bitPattern: u64())) }

    mutating func str() -> String {
        let n = Int(u32())
        guard let at = claim(n) else { return "" }
        return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[at..<at + n]), as: UTF8.self) }
    }

    mutating func opt() -> String? {
        guard let flag = u8() else { return nil }
        return flag == 1 ? str() : nil
    }

    mutating func strs() -> [String] {
        let n = Int(u32())
        guard n <= bytes.count - offset else { failed = true; return [] }
        if n == 0 { return [] }
        var out: [String] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(str()) }
        return out
    }

    mutating func day() -> Day? {
        guard let flag = u8() else { return nil }
        return flag == 1 ? Day(ordinal: int()) : nil
    }

    mutating func flag() -> Bool? {
        switch u8() {
        case 1: return false
        case 2: return true
        default: return nil
        }
    }
}
