// A general-purpose malloc must handle any size from any thread at any time; a pool that
// knows its blocks are all 64 bytes can keep the free ones in a linked list threaded through
// the blocks themselves, and allocate or free with two pointer moves. An arena goes further:
// it only bumps an offset (rounded up to the alignment asked for) and frees everything at
// once. What can go wrong is what AddressSanitizer is for: blocks that overlap, a buffer a
// byte too short, memory used after it went back.
// The C++ is Phase05/cpp/memory-pools/ (pool.hpp, pool.cpp, harness.cpp); your own pool.cpp
// runs through the same harness with --source.
import Foundation
import LabKit

struct MemoryPoolsLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "overlap", "no-reuse", "misalign", "overflow"], default: "none",
        help:
            "Breaks the reference on purpose: overlap (blocks half a block apart), no-reuse (deallocate forgets the block), misalign (the arena ignores alignment), overflow (the pool's buffer is one byte short: only AddressSanitizer sees it)."
    )
    static let rounds = Knob.int(
        "rounds", 100...1_000_000, default: 100_000, quick: 5_000,
        help: "Rounds of 64 allocations and 64 frees in the speed comparison (best of 5).")

    static let info = LabInfo(
        id: "memory-pools", title: "Custom allocators: a fixed-block pool and an arena", phase: 5,
        teaches:
            "A free list threaded through the blocks makes allocate and free two pointer moves; an arena only bumps an offset. The checks prove no two live blocks overlap, freed blocks come back, the arena aligns, and AddressSanitizer sees nothing; the speed against malloc is printed as a ratio.",
        parameters: [breaker.parameter, rounds.parameter], needs: [Native.compilerNeed], subjects: [.source],
        source: "Sources/Labs/Native/Phase05/MemoryPools.swift")

    static let noOverlap = (
        "no two live blocks overlap",
        "256 blocks of 64 bytes all allocated: aligned to max_align_t, no block within another's 64 bytes, each keeps the byte pattern written into it, the 257th allocate gives nullptr, in_use() is 256"
    )
    static let reuse = (
        "freed blocks are reused",
        "a full pool of 8: block 3 freed is the next block handed out; blocks 1 and 6 freed are the next two; in_use() goes back to 0; 10 000 allocate/free pairs never get nullptr"
    )
    static let arena = (
        "the arena aligns, does not overlap and resets",
        "32 allocations of 1–64 bytes aligned 1–64 are aligned and disjoint; 8192 bytes from a 4096-byte arena give nullptr; after reset() allocation starts at the beginning again"
    )
    static let asan = (
        "AddressSanitizer and UBSan report nothing",
        "the three scenarios above, built with -fsanitize=address,undefined, run to the end with no report"
    )

    static func starter() -> [StarterFile] {
        let stub = """
            // pool.cpp: your FixedPool and Arena (pool.hpp is the contract; do not change it).
            #include "pool.hpp"

            FixedPool::FixedPool(std::size_t block_size, std::size_t blocks)
                : block_size_(block_size), blocks_(blocks), in_use_(0), storage_(nullptr), free_list_(nullptr) {}
            FixedPool::~FixedPool() {}
            void* FixedPool::allocate() { return nullptr; }        // TODO
            void FixedPool::deallocate(void* block) { (void)block; } // TODO
            std::size_t FixedPool::block_size() const { return block_size_; }
            std::size_t FixedPool::capacity() const { return blocks_; }
            std::size_t FixedPool::in_use() const { return in_use_; }

            Arena::Arena(std::size_t bytes) : storage_(nullptr), capacity_(bytes), offset_(0) {}
            Arena::~Arena() {}
            void* Arena::allocate(std::size_t n, std::size_t align) { (void)n; (void)align; return nullptr; }  // TODO
            void Arena::reset() { offset_ = 0; }
            std::size_t Arena::used() const { return offset_; }
            std::size_t Arena::capacity() const { return capacity_; }

            """
        return cppStarter(
            info, task: "Write `pool.cpp`: the FixedPool (a free list threaded through the blocks) and the Arena (a bump allocator) that `pool.hpp` declares.",
            files: [StarterFile("pool.hpp", CppSources.files["memory-pools/pool.hpp"] ?? ""), StarterFile("pool.cpp", stub)],
            checks: [noOverlap, reuse, arena, asan],
            build: "g++ \(CppBuild.baseFlags.joined(separator: " ")), once plain and once with -fsanitize=address,undefined")
    }

    func run(_ lab: LabContext) async throws {
        let (sources, headers, flags) = try Native.files(
            lab, folder: "memory-pools", harness: ["harness.cpp"], reference: ["pool.cpp"],
            contract: ["pool.hpp"])
        let f = flags + Native.breakFlags(lab, lab[Self.breaker])
        let built = try await lab.compileAll([
            CppBuild(name: "pool-harness", sources: sources, headers: headers, flags: f),
            CppBuild(name: "pool-harness-asan", sources: sources, headers: headers, flags: f, sanitizers: .addressUndefined),
        ])
        guard let plain = built[0], let asan = built[1] else { return }

        let overlap = try await lab.runHarness(plain, ["overlap"], timeout: 30)
        lab.harnessCheck(Self.noOverlap.0, Self.noOverlap.1, overlap, "no-overlap")
        let reuse = try await lab.runHarness(plain, ["reuse"], timeout: 30)
        lab.harnessCheck(Self.reuse.0, Self.reuse.1, reuse, "reuse")
        let arena = try await lab.runHarness(plain, ["arena"], timeout: 30)
        lab.harnessCheck(Self.arena.0, Self.arena.1, arena, "arena")
        let checked = try await lab.runHarness(asan, ["all"], timeout: 60)
        lab.sanitizerCheck(Self.asan.0, Self.asan.1, checked, ran: "overlap, reuse and arena under AddressSanitizer")

        let rounds = lab[Self.rounds]
        let speed = try await lab.runHarness(plain, ["speed", "\(rounds)"], timeout: 120)
        if let pool = speed.figures["pool-ns"], let malloc = speed.figures["malloc-ns"], pool.value > 0 {
            lab.figure("pool allocate+deallocate", pool.value, "ns")
            lab.figure("malloc+free", malloc.value, "ns")
            lab.figure("malloc time / pool time", malloc.value / pool.value, "×")
            lab.step(
                "Speed: \(rounds) rounds of 64 allocations then 64 frees, best of 5",
                String(
                    format:
                        "pool %.1f ns, malloc %.1f ns per pair: the pool took %.2f× less time (a figure, not a check: glibc's per-thread cache makes malloc fast too)",
                    pool.value, malloc.value, malloc.value / pool.value))
        } else {
            lab.step("Speed: no figure", speed.tail(3))
        }
    }
}
