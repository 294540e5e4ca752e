// The cpp-threads lab's harness: drives a BoundedQueue (bounded_queue.hpp) from real
// std::threads and prints what it saw as "RESULT name pass|fail detail" lines.
//   harness exactly-once PRODUCERS CONSUMERS ITEMS_PER_PRODUCER CAPACITY
//   harness blocking
//   harness shutdown CONSUMERS
#include "bounded_queue.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

static void result(const char* name, bool pass, const std::string& detail) {
    std::printf("RESULT %s %s %s\n", name, pass ? "pass" : "fail", detail.c_str());
    std::fflush(stdout);
}

// Waits until `done` reaches `want` or `ms` pass.
static bool wait_for(const std::atomic<int>& done, int want, int ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (done.load() < want) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

static int exactly_once(int producers, int consumers, long per, std::size_t capacity) {
    BoundedQueue queue(capacity);
    const long total = producers * per;
    std::vector<std::vector<long>> seen(consumers);
    std::atomic<int> finished{0};
    std::atomic<bool> stop_monitor{false};
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c)
        threads.emplace_back([&, c] {
            long item;
            // -1 is the end-of-work sentinel, one per consumer.
            while (queue.pop(item) && item >= 0) seen[c].push_back(item);
            finished++;
        });
    std::vector<std::thread> makers;
    for (int p = 0; p < producers; ++p)
        makers.emplace_back([&, p] {
            for (long i = 0; i < per; ++i) queue.push(p * per + i);
        });
    // A monitor reads size() while everything runs, as a dashboard would.
    std::size_t largest = 0;
    std::thread monitor([&] {
        while (!stop_monitor.load()) {
            std::size_t s = queue.size();
            if (s > largest) largest = s;
            std::this_thread::yield();
        }
    });
    for (auto& t : makers) t.join();
    for (int c = 0; c < consumers; ++c) queue.push(-1);
    bool ended = wait_for(finished, consumers, 5000);
    // A lost end-of-work item leaves a consumer waiting: close() wakes it, and the count says what was lost.
    bool stuck = !ended;
    if (stuck) {
        queue.close();
        ended = wait_for(finished, consumers, 3000);
    }
    stop_monitor = true;
    monitor.join();
    if (!ended) {
        result("exactly-once", false, "consumers did not all return within 8 s of the last push, nor after close()");
        std::fflush(stdout);
        std::_Exit(0);
    }
    for (auto& t : threads) t.join();
    queue.close();
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<int> count(total, 0);
    long strange = 0;
    for (auto& v : seen)
        for (long x : v) {
            if (x < 0 || x >= total) strange++;
            else count[x]++;
        }
    long missing = 0, duplicated = 0;
    for (long i = 0; i < total; ++i) {
        if (count[i] == 0) missing++;
        if (count[i] > 1) duplicated++;
    }
    result("exactly-once", missing == 0 && duplicated == 0 && strange == 0 && !stuck,
           std::string(stuck ? "a consumer never got its end-of-work item (close() had to wake it); " : "") + std::to_string(total) + " items from " + std::to_string(producers) + " producers to " + std::to_string(consumers) +
               " consumers: " + std::to_string(missing) + " missing, " + std::to_string(duplicated) + " consumed twice, " +
               std::to_string(strange) + " never produced; size() peaked at " + std::to_string(largest) + " (capacity " +
               std::to_string(capacity) + ")");
    std::printf("FIGURE throughput %.0f items/s\n", total / seconds);
    return 0;
}

static int blocking() {
    BoundedQueue queue(2);
    std::atomic<int> pushed{0};
    std::thread producer([&] {
        for (long i = 0; i < 3; ++i) {
            queue.push(i);
            pushed++;
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int before = pushed.load();
    long item = -1;
    queue.pop(item);
    bool third = wait_for(pushed, 3, 3000);
    producer.join();
    long a, b;
    queue.pop(a);
    queue.pop(b);
    // Now empty: a consumer must wait until something is pushed.
    std::atomic<int> popped{0};
    long got = -1;
    std::thread consumer([&] {
        queue.pop(got);
        popped++;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int early = popped.load();
    queue.push(42);
    bool woke = wait_for(popped, 1, 3000);
    if (!woke) {
        result("blocking", false, "a pop blocked on an empty queue did not wake within 3 s of a push");
        std::_Exit(0);
    }
    consumer.join();
    bool pass = before == 2 && item == 0 && third && early == 0 && got == 42;
    result("blocking", pass,
           "capacity 2: " + std::to_string(before) + " of 3 pushes returned before any pop" +
               (third ? ", the third after one pop" : ", the third did not return after a pop") +
               "; a pop on the empty queue " + (early == 0 ? "waited" : "returned at once") + " and got " + std::to_string(got) +
               " after the push");
    return 0;
}

static int shutdown(int consumers) {
    BoundedQueue queue(4);
    std::atomic<int> returned{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c)
        threads.emplace_back([&] {
            long item;
            if (!queue.pop(item)) refused++;
            returned++;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    queue.close();
    bool all = wait_for(returned, consumers, 3000);
    bool push_after = queue.push(1);
    if (!all) {
        result("shutdown", false,
               std::to_string(returned.load()) + " of " + std::to_string(consumers) +
                   " consumers blocked in pop() returned within 3 s of close()");
        std::_Exit(0);
    }
    for (auto& t : threads) t.join();
    result("shutdown", refused.load() == consumers && !push_after,
           std::to_string(consumers) + " consumers blocked in pop() all returned after close(), " + std::to_string(refused.load()) +
               " with false; push after close() returned " + (push_after ? "true" : "false"));
    return 0;
}

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "exactly-once" && argc == 6)
        return exactly_once(std::atoi(argv[2]), std::atoi(argv[3]), std::atol(argv[4]), std::strtoul(argv[5], nullptr, 10));
    if (mode == "blocking") return blocking();
    if (mode == "shutdown" && argc == 3) return shutdown(std::atoi(argv[2]));
    std::fprintf(stderr, "usage: harness exactly-once P C N CAP | blocking | shutdown C\n");
    return 64;
}
