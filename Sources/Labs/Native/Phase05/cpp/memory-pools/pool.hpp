// pool.hpp: two allocators that take memory from the system once and hand it out fast.
//
// FixedPool: `blocks` blocks of `block_size` bytes carved from one buffer. Free blocks form
// a linked list threaded through the blocks themselves (the first bytes of a free block
// hold the pointer to the next free one), so allocate and deallocate are O(1) pointer swaps
// and a freed block is the next one handed out.
//
// Arena: a bump allocator over one buffer. allocate moves an offset forward (rounded up to
// the alignment asked for); nothing is freed one by one; reset() frees everything at once.
//
// The contract (the lab's harness uses exactly this):
#pragma once
#include <cstddef>

class FixedPool {
public:
    // block_size is at least sizeof(void*) and a multiple of alignof(std::max_align_t).
    FixedPool(std::size_t block_size, std::size_t blocks);
    ~FixedPool();
    FixedPool(const FixedPool&) = delete;
    FixedPool& operator=(const FixedPool&) = delete;

    void* allocate();            // a free block, aligned to alignof(std::max_align_t); nullptr when none is left
    void deallocate(void* block); // gives a block from allocate() back
    std::size_t block_size() const;
    std::size_t capacity() const; // blocks in all
    std::size_t in_use() const;   // blocks handed out and not given back

private:
    std::size_t block_size_;
    std::size_t blocks_;
    std::size_t in_use_;
    unsigned char* storage_;
    void* free_list_;
};

class Arena {
public:
    explicit Arena(std::size_t bytes);
    ~Arena();
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    // n bytes aligned to `align` (a power of two); nullptr when they do not fit.
    void* allocate(std::size_t n, std::size_t align = alignof(std::max_align_t));
    void reset();                // everything allocated so far is free again
    std::size_t used() const;    // bytes from the start up to the end of the last allocation
    std::size_t capacity() const;

private:
    unsigned char* storage_;
    std::size_t capacity_;
    std::size_t offset_;
};
