import Foundation

/// The heap in large pages. A command on a big plan builds tens of megabytes of tasks,
/// and the kernel hands that memory over one 4 KiB page at a time, a fault each: at
/// 10,000 tasks the faults were a third of the run. Reserving the heap in one 128 MiB step and
/// asking for transparent huge pages on that range (Linux, `madvise` mode) turns
/// thousands of faults into a few. Where huge pages are off this changes nothing; the
/// memory is only reserved, never touched in advance.
enum Heap {
    #if os(Linux)
    /// glibc's mallopt(3); <malloc.h> is not part of the Glibc module.
    @_silgen_name("mallopt") private static func mallopt(_ param: Int32, _ value: Int32) -> Int32
    #endif

    static func preferHugePages() {
        #if os(Linux)
        // M_TOP_PAD and M_MMAP_THRESHOLD in <malloc.h>: reserve 128 MiB of heap at once
        // (address space only: a 100,000-task plan peaks below that), and keep arrays up
        // to 32 MiB (a plan cache read whole, a progress table) in it too.
        guard mallopt(-2, 128 << 20) == 1, mallopt(-3, 32 << 20) == 1 else { return }
        // An allocation larger than what is left of the initial heap makes malloc extend
        // the break by the new padding.
        guard let probe = malloc(512 << 10) else { return }
        defer { free(probe) }
        let end = Int(bitPattern: sbrk(0))
        let huge = 2 << 20
        let start = (Int(bitPattern: probe) + huge - 1) & ~(huge - 1)
        guard end > start + huge else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), (end - start) & ~(huge - 1), MADV_HUGEPAGE)
        #endif
    }
}
