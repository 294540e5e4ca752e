// bounded_queue.hpp: a bounded blocking queue of longs for producers and consumers.
//
// The contract (the lab's harness uses exactly this):
//   explicit BoundedQueue(std::size_t capacity);
//   bool push(long item);     // blocks while the queue holds `capacity` items; false once closed
//   bool pop(long& item);     // blocks while empty and open; false once closed AND drained
//   void close();             // wakes every blocked push and pop; later pushes return false
//   std::size_t size() const; // items in the queue now (safe to call from any thread)
//
// One mutex guards the deque; two condition variables say "not full" and "not empty".
// Waiting is always in a loop on the predicate (spurious wake-ups, stolen items), and close()
// notifies everybody, or a consumer sleeps for ever.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

class BoundedQueue {
public:
    explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

    bool push(long item) {
        std::unique_lock<std::mutex> lock(mutex_);
#ifndef LAB_BREAK_UNBOUNDED
        not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
#endif
        if (closed_) return false;
        items_.push_back(item);
        not_empty_.notify_one();
        return true;
    }

    bool pop(long& item) {
        std::unique_lock<std::mutex> lock(mutex_);
        not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
        if (items_.empty()) return false;  // closed and drained
        item = items_.front();
        items_.pop_front();
#ifdef LAB_BREAK_SKIP_ITEM
        if (items_.size() > 1) items_.pop_front();  // broken on purpose: loses an item
#endif
        not_full_.notify_one();
        return true;
    }

    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
#ifndef LAB_BREAK_CLOSE_NO_WAKE
        not_empty_.notify_all();
        not_full_.notify_all();
#endif
    }

    std::size_t size() const {
#ifndef LAB_BREAK_NO_LOCK
        std::lock_guard<std::mutex> lock(mutex_);
#endif
        return items_.size();
    }

private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable not_full_;
    std::condition_variable not_empty_;
    std::deque<long> items_;
    bool closed_ = false;
};
