import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What /proc says about the learner's server: which processes are still its own, and
/// which TCP ports they listen on. Linux only; elsewhere both answers are empty, and the
/// runner falls back to what it can see without them (the shell's own exit status).
enum ProcessTable {
    /// Live processes of a server: those in process group `group` (the shell the lab
    /// started and everything it started that did not leave the group), and any carrying
    /// `marker` ("NAME=VALUE") in their environment — a server started by a build tool's
    /// daemon (`gradle run`) lives in another group but inherits the environment. Zombies
    /// do not count: they are dead, only not yet reaped by whoever adopted them.
    static func members(group: pid_t, marker: String) -> [pid_t] {
        let me = getpid()
        let markerBytes = Array(marker.utf8)
        return pids().filter { pid in
            guard pid != me, let status = status(of: pid), status.state != "Z", status.state != "X" else { return false }
            if status.group == group { return true }
            return environment(of: pid).contains { $0.elementsEqual(markerBytes) }
        }
    }

    static func pids() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }

    /// The state letter and process group of `pid`, from /proc/PID/stat.
    static func status(of pid: pid_t) -> (state: Character, group: pid_t)? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
        guard let close = text.range(of: ")", options: .backwards) else { return nil }
        let fields = text[close.upperBound...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let group = pid_t(fields[2]) else { return nil }
        return (state, group)
    }

    /// The NAME=VALUE entries of a process's environment as it was started (unreadable for
    /// other users' processes: empty then).
    static func environment(of pid: pid_t) -> [ArraySlice<UInt8>] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [] }
        return Array(data).split(separator: 0)
    }

    /// The addresses (`127.0.0.1:8080`, `[::]:8080`) on which any of `pids` listens for
    /// TCP connections: the socket inodes among their open descriptors, matched against
    /// the LISTEN rows of /proc/net/tcp and /proc/net/tcp6.
    static func listeningAddresses(of pids: [pid_t]) -> [String] {
        var inodes: Set<Substring> = []
        for pid in pids {
            let fdFolder = "/proc/\(pid)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdFolder)) ?? [] {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdFolder)/\(fd)"),
                    target.hasPrefix("socket:["), target.hasSuffix("]")
                else { continue }
                inodes.insert(Substring(target.dropFirst(8).dropLast()))
            }
        }
        guard !inodes.isEmpty else { return [] }
        var found: [String] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let data = FileManager.default.contents(atPath: table) else { continue }
            for row in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
                let f = row.split(separator: " ")
                guard f.count > 9, f[3] == "0A", inodes.contains(f[9]), let address = decode(f[1]) else { continue }
                if !found.contains(address) { found.append(address) }
            }
        }
        return found
    }

    /// "0100007F:1F90" → "127.0.0.1:8080"; a 32-digit IPv6 address → "[::1]:8080". The
    /// kernel prints each 32-bit word of the address in host byte order (little-endian).
    static func decode(_ field: Substring) -> String? {
        let parts = field.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1], radix: 16) else { return nil }
        let hex = Array(parts[0])
        guard hex.count == 8 || hex.count == 32 else { return nil }
        var bytes: [UInt8] = []
        for word in stride(from: 0, to: hex.count, by: 8) {
            guard let value = UInt32(String(hex[word..<word + 8]), radix: 16) else { return nil }
            bytes += [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
        }
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") + ":\(port)" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, bytes, &text, socklen_t(text.count)) != nil else { return nil }
        return "[\(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))]:\(port)"
    }
}
