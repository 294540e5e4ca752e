// The reference FixedPool and Arena (see pool.hpp).
#include "pool.hpp"

#include <cstdint>
#include <new>

FixedPool::FixedPool(std::size_t block_size, std::size_t blocks)
    : block_size_(block_size), blocks_(blocks), in_use_(0), storage_(nullptr), free_list_(nullptr) {
#ifdef LAB_BREAK_OVERFLOW
    // Broken on purpose: one byte short, so the last block's last byte is past the buffer.
    storage_ = static_cast<unsigned char*>(::operator new(block_size * blocks - 1));
#else
    storage_ = static_cast<unsigned char*>(::operator new(block_size * blocks));
#endif
    // Thread the free list through the blocks, first block first.
    for (std::size_t i = blocks; i-- > 0;) {
#ifdef LAB_BREAK_OVERLAP
        unsigned char* block = storage_ + i * (block_size / 2);  // broken on purpose: blocks overlap
#else
        unsigned char* block = storage_ + i * block_size;
#endif
        *reinterpret_cast<void**>(block) = free_list_;
        free_list_ = block;
    }
}

FixedPool::~FixedPool() { ::operator delete(storage_); }

void* FixedPool::allocate() {
    if (free_list_ == nullptr) return nullptr;
    void* block = free_list_;
    free_list_ = *static_cast<void**>(block);
    ++in_use_;
    return block;
}

void FixedPool::deallocate(void* block) {
    if (block == nullptr) return;
    --in_use_;
#ifndef LAB_BREAK_NO_REUSE
    *static_cast<void**>(block) = free_list_;
    free_list_ = block;
#endif
}

std::size_t FixedPool::block_size() const { return block_size_; }
std::size_t FixedPool::capacity() const { return blocks_; }
std::size_t FixedPool::in_use() const { return in_use_; }

Arena::Arena(std::size_t bytes)
    : storage_(static_cast<unsigned char*>(::operator new(bytes, std::align_val_t(alignof(std::max_align_t))))),
      capacity_(bytes), offset_(0) {}

Arena::~Arena() { ::operator delete(storage_, std::align_val_t(alignof(std::max_align_t))); }

void* Arena::allocate(std::size_t n, std::size_t align) {
    std::uintptr_t base = reinterpret_cast<std::uintptr_t>(storage_);
#ifdef LAB_BREAK_MISALIGN
    std::uintptr_t start = base + offset_;  // broken on purpose: ignores the alignment
    (void)align;
#else
    std::uintptr_t start = (base + offset_ + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
#endif
    if (start + n > base + capacity_) return nullptr;
    offset_ = start + n - base;
    return reinterpret_cast<void*>(start);
}

void Arena::reset() { offset_ = 0; }
std::size_t Arena::used() const { return offset_; }
std::size_t Arena::capacity() const { return capacity_; }
