// gRPC has four call shapes: unary, server streaming, client streaming and bidirectional.
// Over HTTP/2 a call is one stream; messages flow as frames in both directions while it is
// open, in order, with flow control. A server-streaming call (the price ticker) is one request
// and many answers; a bidirectional call (the chat) lets each side write whenever it likes, so
// a reply can come back before the client has finished talking. Cancelling a call sends
// RST_STREAM: the server's handler is cancelled, and a well-written server stops producing.
// The lab reads a ticker to its end and checks order and completeness, chats with replies
// expected while the client is still sending, and cancels an endless ticker, then asks the
// server (GetTickerStats) whether it really stopped.
// Against your own server: `--url host:port` or `--against 'CMD'` (PORT).
import Foundation
import GRPCCore
import LabKit
import Synchronization

struct GRPCStreamingLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "ticker-skip", "ticker-shuffle", "chat-drop", "chat-buffer", "ignore-cancel"], default: "none",
        help:
            "Breaks the reference server on purpose: ticker-skip (sequence 3 never sent), ticker-shuffle (2 and 3 swapped), chat-drop (the third chat message is never answered), chat-buffer (chat replies held until the client closes its side), ignore-cancel (the ticker keeps producing after the client cancelled)."
    )
    static let ticks = Knob.int("ticks", 3...5_000, default: 200, quick: 20, help: "Ticks the ticker sends (3 at least: the breakers touch sequence 3).")
    static let interval = Knob.int("interval-ms", 0...200, default: 2, quick: 1, help: "Milliseconds between two ticks.")
    static let messages = Knob.int("messages", 3...500, default: 50, quick: 8, help: "Chat messages the client sends (3 at least).")
    static let cancelAfter = Knob.int(
        "cancel-after", 1...100, default: 5, quick: 3, help: "Ticks the client reads from the endless ticker before it cancels the call.")

    static let info = LabInfo(
        id: "grpc-streaming", title: "Server and bidirectional streaming, and cancellation", phase: 9,
        teaches:
            "A server-streaming price ticker arrives in order and complete; a bidirectional chat answers each message while the client is still sending; a client that cancels a stream makes the server stop producing, as the server itself reports.",
        parameters: [breaker.parameter, ticks.parameter, interval.parameter, messages.parameter, cancelAfter.parameter],
        subjects: [.url, .against],
        source: "Sources/Labs/GRPC/Phase09/GRPCStreaming.swift")

    static func starter() -> [StarterFile] {
        GRPCStarter.files(
            info,
            task:
                "Implement PriceTicker (count ticks, or until cancelled when count is 0, one every interval_ms, sequences 1, 2, 3…), GetTickerStats (ticks written so far on a stream_id, and whether it still runs) and Chat (every message straight back with sequence set 1, 2, 3…) of bookshelf.proto. Stop producing when the client cancels. Listen on 127.0.0.1:$PORT, plaintext.",
            checks: [
                ("every tick arrived", "a ticker of N ticks delivers N ticks with sequences 1…N and the symbol asked for"),
                ("ticks in order", "sequences strictly increasing"),
                ("every chat message answered, in order", "replies carry the client's texts in order, sequence 1, 2, 3…"),
                ("chat answers while the client is still sending", "the first reply arrives before the client closes its side"),
                (
                    "cancelling stops the server's stream",
                    "after the client cancels an endless ticker, GetTickerStats reports it inactive and its count stops growing"
                ),
            ])
    }

    func run(_ lab: LabContext) async throws {
        let fault = lab.subject.kind == .reference ? lab[Self.breaker] : "none"
        let faults = GRPCFaults(
            tickerSkip: fault == "ticker-skip", tickerShuffle: fault == "ticker-shuffle", chatBuffer: fault == "chat-buffer",
            chatDrop: fault == "chat-drop", ignoreCancel: fault == "ignore-cancel")
        let target = try await GRPCTarget.resolve(lab, faults: faults)
        if fault != "none" { lab.step("Broken on purpose: \(fault)") }
        try await withBookshelfClient(host: target.host, port: target.port) { client in
            try await ticker(lab, client)
            try await chat(lab, client)
            try await cancellation(lab, client, target: target)
        }
    }

    private func ticker(_ lab: LabContext, _ client: BookshelfClient) async throws {
        let n = lab[Self.ticks], symbol = "BOOK"
        let started = ContinuousClock.now
        let received: [Bookshelf_V1_PriceTick]
        do {
            received = try await client.priceTicker(
                .with {
                    $0.symbol = symbol; $0.count = Int32(n); $0.intervalMs = Int32(lab[Self.interval]); $0.streamID = "ticker-\(UUID().uuidString.prefix(8))"
                }, options: callOptions(timeout: .seconds(60))
            ) { response in
                var ticks: [Bookshelf_V1_PriceTick] = []
                for try await tick in response.messages { ticks.append(tick) }
                return ticks
            }
        } catch {
            lab.check("every tick arrived", false, expected: "\(n) ticks", observed: "the call failed: \(rpcDescription(error))")
            lab.check("ticks in order", false, expected: "sequences strictly increasing", observed: "the call failed")
            return
        }
        let seconds = Measure.seconds(ContinuousClock.now - started)
        let sequences = received.map(\.sequence)
        lab.step(
            "Read the ticker: one request, \(received.count) answers on one HTTP/2 stream",
            String(format: "%.3f s; first sequences %@", seconds, sequences.prefix(6).map(String.init).joined(separator: ", ")))
        lab.figure("ticker messages per second", Double(received.count) / max(seconds, 1e-9), "msg/s")
        let complete = Set(sequences) == Set(1...Int64(n)) && sequences.count == n && received.allSatisfy { $0.symbol == symbol }
        let missing = Set(1...Int64(n)).subtracting(sequences).sorted()
        lab.check(
            "every tick arrived", complete, expected: "\(n) ticks of \(symbol), sequences exactly 1…\(n)",
            observed: "\(received.count) ticks" + (missing.isEmpty ? "" : "; missing \(missing.prefix(5).map(String.init).joined(separator: ", "))")
                + (received.contains { $0.symbol != symbol } ? "; a tick of another symbol" : ""))
        let disorder = zip(sequences, sequences.dropFirst()).first { $0 >= $1 }
        lab.check(
            "ticks in order", disorder == nil && !sequences.isEmpty, expected: "every sequence greater than the one before",
            observed: disorder.map { "\($0.1) came after \($0.0)" } ?? "\(sequences.count) ticks, strictly increasing")
    }

    private func chat(_ lab: LabContext, _ client: BookshelfClient) async throws {
        let n = lab[Self.messages]
        let texts = (1...n).map { "message \($0) " + String(repeating: "·", count: $0 % 7) }
        /// What the two halves of the call share: replies so far, and whether the client closed its side.
        final class Log: Sendable {
            struct Reply { var message: Bookshelf_V1_ChatMessage; var afterClose: Bool }
            let state = Mutex((replies: [Reply](), closed: false))
            func count() -> Int { state.withLock { $0.replies.count } }
        }
        let log = Log()
        do {
            try await client.chat(options: callOptions(timeout: .seconds(60))) { writer in
                var waiting = true
                for (i, text) in texts.enumerated() {
                    try await writer.write(
                        .with {
                            $0.from = "lab"; $0.text = text
                        })
                    // Wait for this message's reply (up to 2 s) before the next one; stop waiting
                    // once a reply has not come, so a server that holds replies costs 2 s, not 2n.
                    guard waiting else { continue }
                    let deadline = ContinuousClock.now + .seconds(2)
                    while log.count() < i + 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
                    if log.count() < i + 1 { waiting = false }
                }
                log.state.withLock { $0.closed = true }
            } onResponse: { response in
                for try await message in response.messages {
                    log.state.withLock { $0.replies.append(.init(message: message, afterClose: $0.closed)) }
                }
            }
        } catch {
            lab.check("every chat message answered, in order", false, expected: "\(n) replies", observed: "the call failed: \(rpcDescription(error))")
            lab.check("chat answers while the client is still sending", false, expected: "a reply before the client closes", observed: "the call failed")
            return
        }
        let replies = log.state.withLock { $0.replies }
        let before = replies.filter { !$0.afterClose }.count
        lab.step(
            "Chatted: \(n) messages sent, \(replies.count) replies",
            "\(before) replies arrived while the client was still sending, \(replies.count - before) after it closed its side")
        let got = replies.map { "\($0.message.sequence):\($0.message.text)" }
        let want = texts.enumerated().map { "\($0.offset + 1):\($0.element)" }
        let firstWrong = zip(got, want).first { $0 != $1 }
        lab.check(
            "every chat message answered, in order", got == want && replies.allSatisfy { $0.message.from == "lab" },
            expected: "\(n) replies, sequence 1…\(n), each with the text sent",
            observed: got == want
                ? "\(n) replies as sent" : "\(replies.count) replies" + (firstWrong.map { "; got \"\($0.0)\" where \"\($0.1)\" was due" } ?? ""))
        lab.check(
            "chat answers while the client is still sending", replies.first.map { !$0.afterClose } ?? false,
            expected: "the first reply arrives before the client closes its side (a bidirectional stream, not a batch)",
            observed: replies.isEmpty
                ? "no reply at all"
                : replies[0].afterClose
                    ? "the first reply came only after the client closed its side"
                    : "the first reply came while the client was still sending (\(before) of \(replies.count) did)")
    }

    private func cancellation(_ lab: LabContext, _ client: BookshelfClient, target: GRPCTarget) async throws {
        let k = lab[Self.cancelAfter], id = "endless-\(UUID().uuidString.prefix(8))"
        let interval = max(lab[Self.interval], 5)
        final class Count: Sendable { let value = Mutex(0) }
        let read = Count()
        let call = Task {
            try await client.priceTicker(
                .with {
                    $0.symbol = "LEFT"; $0.count = 0; $0.intervalMs = Int32(interval); $0.streamID = id
                },
                options: callOptions(timeout: .seconds(60))
            ) { response in
                for try await _ in response.messages { read.value.withLock { $0 += 1 } }
            }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while read.value.withLock({ $0 }) < k, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        call.cancel()
        _ = await call.result
        let readCount = read.value.withLock { $0 }
        // Ask the server: the stream should end promptly, and its count stop growing.
        func stats() async -> Bookshelf_V1_TickerStats? {
            try? await client.getTickerStats(.with { $0.streamID = id }, options: callOptions())
        }
        var first = await stats()
        let until = ContinuousClock.now + .seconds(1)
        while first?.active == true, ContinuousClock.now < until {
            try await Task.sleep(for: .milliseconds(10))
            first = await stats()
        }
        try await Task.sleep(for: .milliseconds(interval * 10))
        let later = await stats()
        lab.step(
            "Read \(readCount) ticks of an endless ticker, then cancelled the call",
            "the server said: \(first.map { "\($0.sent) sent, \($0.active ? "still active" : "ended")" } ?? "nothing"); \(interval * 10) ms later: \(later.map { "\($0.sent) sent, \($0.active ? "still active" : "ended")" } ?? "nothing")"
        )
        let stopped = first.map { !$0.active } == true && later.map { !$0.active && $0.sent == first!.sent } == true
        lab.check(
            "cancelling stops the server's stream", stopped,
            expected: "GetTickerStats: inactive within 1 s of the cancel, and no tick produced after that",
            observed: first == nil
                ? "GetTickerStats did not answer for stream \(id)"
                : "\(first!.sent) sent and \(first!.active ? "active" : "ended") after the cancel; \(later?.sent ?? -1) sent and \(later?.active == true ? "active" : "ended") \(interval * 10) ms later"
        )
    }
}
