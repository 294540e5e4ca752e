// Phase 4, async, concurrency and multithreading: Kotlin coroutines become Swift
// structured concurrency (async/await, task groups, AsyncStream, AsyncChannel), threads
// and pools are Foundation `Thread`s and Dispatch, locks and atomics come from the
// Synchronization module.
extension LabCatalog {
    static let concurrency: [LabInfo] = [
        LabInfo(
            id: "coroutines",
            title: "Coroutines: async/await, task groups, flows and channels",
            phase: 4,
            teaches: "Cancelling a parent task cancels every child (and not an unstructured Task {}); a bounded AsyncChannel suspends a fast producer so it never gets more than the buffer ahead; an AsyncStream map/filter flow gives the same result as the eager pipeline.",
            parameters: [
                LabParameter("children", .int(min: 1, max: 5000), default: "1000", quick: "100",
                             help: "Child tasks started under the parent that gets cancelled (and that compute squares)."),
                LabParameter("items", .int(min: 1, max: 100_000), default: "2000", quick: "300",
                             help: "Numbers sent through the channel and streamed through the flow."),
                LabParameter("buffer", .int(min: 0, max: 256), default: "4", quick: "4",
                             help: "Bounded buffer after the channel (0: a bare rendezvous channel); the producer's lead stays ≤ buffer + 1."),
                LabParameter("consumer-delay-us", .int(min: 0, max: 100_000), default: "200", quick: "100",
                             help: "How long the slow consumer sleeps per item, in microseconds."),
            ],
            source: "Sources/Labs/Phase04/Coroutines.swift"
        ),
        LabInfo(
            id: "thread-pools",
            title: "Thread pools and context propagation",
            phase: 4,
            teaches: "A fixed pool of worker threads never runs more jobs at once than it has workers, however many are queued; a @TaskLocal value reaches async let, task-group children and Task {} but not Task.detached or a Dispatch block.",
            parameters: [
                LabParameter("pool-size", .int(min: 1, max: 64), default: "4", quick: "3",
                             help: "Worker threads in the hand-made pool (and the OperationQueue's limit)."),
                LabParameter("jobs", .int(min: 1, max: 10_000), default: "200", quick: "24",
                             help: "Jobs submitted to each pool."),
                LabParameter("job-ms", .int(min: 0, max: 1000), default: "5", quick: "2",
                             help: "Blocking work per job, in milliseconds."),
                LabParameter("iterations", .int(min: 1, max: 1_000_000), default: "100000", quick: "10000",
                             help: "Indices DispatchQueue.concurrentPerform runs over."),
            ],
            source: "Sources/Labs/Phase04/ThreadPools.swift"
        ),
        LabInfo(
            id: "coroutines-vs-threads",
            title: "Coroutines against threads: N concurrent sleepers",
            phase: 4,
            teaches: "Thousands of sleeping tasks share a few OS threads and cost a small heap object each; the same number of sleeping threads cost a kernel thread and stack pages each. The lab measures wall time and resident memory per sleeper on both sides.",
            parameters: [
                LabParameter("sleepers", .int(min: 1, max: 100_000), default: "10000", quick: "1000",
                             help: "Concurrent sleepers run as Swift tasks (and as threads, up to max-threads)."),
                LabParameter("max-threads", .int(min: 1, max: 5000), default: "2000", quick: "200",
                             help: "Cap on the OS-thread side, which gets min(sleepers, max-threads) threads."),
                LabParameter("sleep-ms", .int(min: 1, max: 10_000), default: "500", quick: "50",
                             help: "How long each sleeper sleeps once all are alive, in milliseconds."),
                LabParameter("rounds", .int(min: 1, max: 9), default: "3", quick: "3",
                             help: "Times each side is measured; the figures are medians."),
            ],
            source: "Sources/Labs/Phase04/CoroutinesVsThreads.swift"
        ),
        LabInfo(
            id: "shared-resources",
            title: "Shared resources: a counter, a Mutex and an Atomic",
            phase: 4,
            teaches: "Many threads incrementing one counter lose updates when the read-add-write is not protected; a Mutex or an Atomic makes the total exact. The lab reports how many updates the unsynchronised counter lost.",
            parameters: [
                LabParameter("threads", .int(min: 1, max: 64), default: "4", quick: "2",
                             help: "Threads incrementing the counter at once. Try more threads than cores: every contended Mutex lock on Linux is a futex call, so it slows down sharply."),
                LabParameter("increments", .int(min: 1, max: 5_000_000), default: "250000", quick: "50000",
                             help: "Increments per thread, for each of the three counters."),
            ],
            source: "Sources/Labs/Phase04/SharedResources.swift"
        ),
        LabInfo(
            id: "concurrent-services",
            title: "A concurrency-safe service: a bank actor and actor reentrancy",
            phase: 4,
            teaches: "An actor serialises check-and-act, so concurrent transfers keep the total balance and never overdraw; but an await between the check and the act lets other calls in (reentrancy), and two withdrawals can both pass the check. The lab reproduces the overdraft and fixes it two ways.",
            parameters: [
                LabParameter("accounts", .int(min: 2, max: 1000), default: "10", quick: "5",
                             help: "Accounts in the bank, each opening with 1000."),
                LabParameter("transfers", .int(min: 1, max: 200_000), default: "20000", quick: "2000",
                             help: "Random transfers sent in total."),
                LabParameter("clients", .int(min: 1, max: 256), default: "32", quick: "8",
                             help: "Concurrent client tasks sending the transfers."),
                LabParameter("racers", .int(min: 2, max: 64), default: "2", quick: "3",
                             help: "Concurrent withdrawals of 60 from a balance of 100 in the reentrancy experiment."),
                LabParameter("seed", .int(min: 0, max: 1_000_000), default: "42",
                             help: "Seed of the random transfers, so a run can be repeated."),
                LabParameter("style", .choice(["atomic", "check-await-act"]), default: "atomic",
                             help: "How the bank transfers: check and debit in one go, or with an await in between (try it: the checks catch the overdrafts)."),
            ],
            source: "Sources/Labs/Phase04/ConcurrentServices.swift"
        ),
    ]
}
