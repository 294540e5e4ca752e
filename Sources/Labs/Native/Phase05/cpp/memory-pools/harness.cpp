// The memory-pools lab's harness: drives FixedPool and Arena (pool.hpp) and prints what it
// saw as "RESULT name pass|fail detail" and "FIGURE name value unit" lines.
//   harness overlap | reuse | arena | all | speed ROUNDS
#include "pool.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

static void result(const char* name, bool pass, const std::string& detail) {
    std::printf("RESULT %s %s %s\n", name, pass ? "pass" : "fail", detail.c_str());
    std::fflush(stdout);
}

static const std::size_t kBlock = 64;
static const std::size_t kBlocks = 256;

static void overlap() {
    FixedPool pool(kBlock, kBlocks);
    std::vector<unsigned char*> blocks;
    for (std::size_t i = 0; i < kBlocks; ++i) blocks.push_back(static_cast<unsigned char*>(pool.allocate()));
    void* extra = pool.allocate();
    long nulls = std::count(blocks.begin(), blocks.end(), nullptr);
    if (nulls > 0) {
        result("no-overlap", false, std::to_string(nulls) + " of " + std::to_string(kBlocks) + " allocations returned nullptr");
        return;
    }
    long misaligned = 0;
    for (auto* b : blocks)
        if (reinterpret_cast<std::uintptr_t>(b) % alignof(std::max_align_t) != 0) misaligned++;
    std::vector<unsigned char*> sorted = blocks;
    std::sort(sorted.begin(), sorted.end());
    long overlapping = 0;
    for (std::size_t i = 1; i < sorted.size(); ++i)
        if (sorted[i - 1] + kBlock > sorted[i]) overlapping++;
    // Fill every block with its own byte, then read every block back.
    for (std::size_t i = 0; i < kBlocks; ++i) std::memset(blocks[i], int(i & 0xff), kBlock);
    long corrupted = 0;
    for (std::size_t i = 0; i < kBlocks; ++i)
        for (std::size_t j = 0; j < kBlock; ++j)
            if (blocks[i][j] != (i & 0xff)) {
                corrupted++;
                break;
            }
    bool pass = overlapping == 0 && corrupted == 0 && misaligned == 0 && extra == nullptr && pool.in_use() == kBlocks;
    result("no-overlap", pass,
           std::to_string(kBlocks) + " live blocks of " + std::to_string(kBlock) + " bytes: " + std::to_string(overlapping) +
               " overlap the next one, " + std::to_string(corrupted) + " lost their contents to another block's writes, " +
               std::to_string(misaligned) + " misaligned; allocation " + std::to_string(kBlocks + 1) + " gave " +
               (extra == nullptr ? "nullptr" : "a block") + "; in_use() = " + std::to_string(pool.in_use()));
    for (auto* b : blocks) pool.deallocate(b);
    if (extra) pool.deallocate(extra);
}

static void reuse() {
    FixedPool pool(kBlock, 8);
    std::vector<void*> blocks;
    for (int i = 0; i < 8; ++i) blocks.push_back(pool.allocate());
    bool exhausted = pool.allocate() == nullptr;
    pool.deallocate(blocks[3]);
    void* again = pool.allocate();
    pool.deallocate(blocks[1]);
    pool.deallocate(blocks[6]);
    void* x = pool.allocate();
    void* y = pool.allocate();
    bool pair = (x == blocks[1] && y == blocks[6]) || (x == blocks[6] && y == blocks[1]);
    std::size_t before = pool.in_use();
    for (int i = 0; i < 8; ++i) pool.deallocate(i == 3 ? again : i == 1 ? x : i == 6 ? y : blocks[i]);
    std::size_t after = pool.in_use();
    // A long churn must never run out: 10 000 allocate/deallocate pairs on a pool of 8.
    long failures = 0;
    for (int i = 0; i < 10000; ++i) {
        void* b = pool.allocate();
        if (!b) failures++;
        pool.deallocate(b);
    }
    bool pass = exhausted && again == blocks[3] && pair && before == 8 && after == 0 && failures == 0;
    result("reuse", pass,
           std::string("pool of 8 full: ") + (exhausted ? "the 9th allocate gave nullptr" : "the 9th allocate gave a block") +
               "; block 3 freed and allocated again: " + (again == blocks[3] ? "same address" : "a different address") +
               "; blocks 1 and 6 freed: " + (pair ? "both handed out again" : "not handed out again") + "; in_use() " +
               std::to_string(before) + " then " + std::to_string(after) + " after freeing all; " + std::to_string(failures) +
               " of 10000 allocate/deallocate pairs got nullptr");
}

static void arena() {
    Arena arena(4096);
    struct Piece { unsigned char* p; std::size_t n; std::size_t align; };
    std::vector<Piece> pieces;
    const std::size_t sizes[] = {1, 3, 8, 13, 24, 7, 64, 5};
    const std::size_t aligns[] = {1, 2, 8, 16, 64, 4, 32, 8};
    for (int round = 0; round < 4; ++round)
        for (int i = 0; i < 8; ++i) {
            auto* p = static_cast<unsigned char*>(arena.allocate(sizes[i], aligns[i]));
            pieces.push_back({p, sizes[i], aligns[i]});
        }
    long nulls = 0, misaligned = 0;
    for (auto& piece : pieces) {
        if (!piece.p) { nulls++; continue; }
        if (reinterpret_cast<std::uintptr_t>(piece.p) % piece.align != 0) misaligned++;
    }
    std::vector<std::pair<unsigned char*, std::size_t>> ranges;
    for (auto& piece : pieces) if (piece.p) ranges.push_back({piece.p, piece.n});
    std::sort(ranges.begin(), ranges.end());
    long overlapping = 0;
    for (std::size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i - 1].first + ranges[i - 1].second > ranges[i].first) overlapping++;
    for (auto& piece : pieces) if (piece.p) std::memset(piece.p, 0xab, piece.n);
    void* too_big = arena.allocate(8192, 8);
    std::size_t used = arena.used();
    arena.reset();
    void* first = arena.allocate(16, 16);
    bool restarted = first != nullptr && first == ranges.front().first;
    bool pass = nulls == 0 && misaligned == 0 && overlapping == 0 && too_big == nullptr && restarted && used <= 4096;
    result("arena", pass,
           std::to_string(pieces.size()) + " allocations of 1 to 64 bytes aligned 1 to 64: " + std::to_string(nulls) +
               " nullptr, " + std::to_string(misaligned) + " misaligned, " + std::to_string(overlapping) + " overlapping; used() " +
               std::to_string(used) + " of 4096; 8192 bytes gave " + (too_big ? "a pointer" : "nullptr") +
               "; after reset() the next allocation " + (restarted ? "starts at the beginning again" : "does not start at the beginning"));
}

static volatile std::uintptr_t sink;

static void speed(long rounds) {
    using Clock = std::chrono::steady_clock;
    const int batch = 64;
    FixedPool pool(kBlock, batch);
    void* held[batch];
    double best_pool = 1e30, best_malloc = 1e30;
    for (int trial = 0; trial < 5; ++trial) {
        auto t0 = Clock::now();
        for (long r = 0; r < rounds; ++r) {
            for (int i = 0; i < batch; ++i) {
                held[i] = pool.allocate();
                if (!held[i]) { std::printf("NOTE the pool ran out during the speed run; no figure\n"); return; }
                *static_cast<char*>(held[i]) = char(i);
            }
            for (int i = batch; i-- > 0;) { sink = sink + reinterpret_cast<std::uintptr_t>(held[i]); pool.deallocate(held[i]); }
        }
        auto t1 = Clock::now();
        for (long r = 0; r < rounds; ++r) {
            for (int i = 0; i < batch; ++i) { held[i] = std::malloc(kBlock); *static_cast<char*>(held[i]) = char(i); }
            for (int i = batch; i-- > 0;) { sink = sink + reinterpret_cast<std::uintptr_t>(held[i]); std::free(held[i]); }
        }
        auto t2 = Clock::now();
        best_pool = std::min(best_pool, std::chrono::duration<double, std::nano>(t1 - t0).count());
        best_malloc = std::min(best_malloc, std::chrono::duration<double, std::nano>(t2 - t1).count());
    }
    double ops = double(rounds) * batch;
    std::printf("FIGURE pool-ns %.2f ns per allocate+deallocate\n", best_pool / ops);
    std::printf("FIGURE malloc-ns %.2f ns per malloc+free\n", best_malloc / ops);
}

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "overlap") overlap();
    else if (mode == "reuse") reuse();
    else if (mode == "arena") arena();
    else if (mode == "all") { overlap(); reuse(); arena(); }
    else if (mode == "speed" && argc == 3) speed(std::atol(argv[2]));
    else { std::fprintf(stderr, "usage: harness overlap|reuse|arena|all|speed ROUNDS\n"); return 64; }
    return 0;
}
