// A deliberately racy queue for the tests: correct blocking, but it counts pushes in a plain
// member outside the lock, from every producer thread at once: a data race that
// ThreadSanitizer reports.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

class BoundedQueue {
public:
    explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
    bool push(long item) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
            if (closed_) return false;
            items_.push_back(item);
        }
        ++pushed_;  // the race: written by every producer with no lock held
        not_empty_.notify_one();
        return true;
    }
    bool pop(long& item) {
        std::unique_lock<std::mutex> lock(mutex_);
        not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
        if (items_.empty()) return false;
        item = items_.front();
        items_.pop_front();
        not_full_.notify_one();
        return true;
    }
    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return items_.size();
    }
    std::size_t pushed() const { return pushed_; }

private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable not_full_, not_empty_;
    std::deque<long> items_;
    bool closed_ = false;
    std::size_t pushed_ = 0;
};
