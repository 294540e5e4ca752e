// The floor for start-up time: a Swift binary that uses Foundation and prints one line,
// built the way the tracker's release binary is (-O, one static executable). bench/run.py
// builds it and times it in the same hyperfine runs as the tracker, so "within 3 ms of
// hello world" is measured, not guessed. It writes through FileHandle so that Foundation
// is really linked and initialised (a bare `print` would let the linker drop it).
import Foundation

FileHandle.standardOutput.write("Hello, world\n".data(using: .utf8)!)
