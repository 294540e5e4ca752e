// The floor for start-up time: a release-built Swift binary that imports Foundation and
// prints one line. bench/run.py builds it with `swiftc -O` and times it in the same
// hyperfine runs as the tracker, so "within 3 ms of hello world" is measured, not guessed.
import Foundation

print("Hello, world")
