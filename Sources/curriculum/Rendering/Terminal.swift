import CurriculumKit
import Foundation

/// Where output goes, and whether it may be coloured: only on a terminal, never with
/// NO_COLOR or --no-color.
struct Terminal {
    let color: Bool
    let isTTY: Bool
    private var buffer = ""

    init(noColor: Bool) {
        isTTY = isatty(STDOUT_FILENO) == 1
        // getenv, not ProcessInfo's dictionary: building that costs more than this whole check.
        let noColorSet = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
        let dumb = getenv("TERM").map { String(cString: $0) == "dumb" } ?? false
        color = isTTY && !noColor && !noColorSet && !dumb
    }

    enum Style: String {
        case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36"
    }

    func paint(_ text: String, _ styles: Style...) -> String {
        guard color, !styles.isEmpty else { return text }
        return "\u{1B}[" + styles.map(\.rawValue).joined(separator: ";") + "m" + text + "\u{1B}[0m"
    }

    /// Buffered: one write at the end is faster than a write per line.
    mutating func line(_ text: String = "") {
        buffer += text
        buffer += "\n"
        if buffer.utf8.count > 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        Terminal.write(buffer, to: STDOUT_FILENO)
        buffer = ""
    }

    /// Writes all of `text` to a file descriptor with write(2), retrying short writes and
    /// EINTR (no Data or FileHandle in between: start-up time counts).
    static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { write($0, to: fd) }
    }

    static func write(_ bytes: UnsafeBufferPointer<UInt8>, to fd: Int32) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                return  // a closed pipe or full disk: nothing more can be shown
            }
            p += n
            left -= n
        }
    }

    /// Columns of the terminal on stdout (80 when it cannot tell).
    static func width() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 10 { return Int(size.ws_col) }
        return 80
    }

    static func error(_ text: String) {
        write("curriculum: \(text)\n", to: STDERR_FILENO)
    }

    /// Information beside the output (stderr, so `--json` stays data).
    static func note(_ text: String) {
        write("\(text)\n", to: STDERR_FILENO)
    }

    static func warn(_ text: String) {
        write("\(text)\n", to: STDERR_FILENO)
    }

    /// `████░░░░ ` of `width` cells.
    func bar(_ done: Int, _ total: Int, width: Int = 20) -> String {
        let filled = total == 0 ? 0 : Int((Double(done) / Double(total) * Double(width)).rounded())
        let full = String(repeating: "█", count: filled)
        let empty = String(repeating: "░", count: width - filled)
        return paint(full, done == total && total > 0 ? .green : .cyan) + paint(empty, .dim)
    }
}

extension String {
    /// Pads to `width` terminal cells (emoji count double, variation selectors zero).
    func padded(_ width: Int) -> String {
        let w = displayWidth
        return w >= width ? self : self + String(repeating: " ", count: width - w)
    }

    var displayWidth: Int {
        var w = 0
        for scalar in unicodeScalars {
            switch scalar.value {
            case 0xFE00...0xFE0F, 0x200D, 0x0300...0x036F: continue
            case 0x1F000...0x1FAFF, 0x2600...0x27BF, 0x2B00...0x2BFF, 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFF00...0xFF60:
                w += 2
            default: w += 1
            }
        }
        return w
    }

    func truncated(_ width: Int) -> String {
        guard displayWidth > width, width > 1 else { return self }
        var out = ""
        for ch in self {
            if (out + String(ch)).displayWidth > width - 1 { break }
            out.append(ch)
        }
        return out + "…"
    }
}
