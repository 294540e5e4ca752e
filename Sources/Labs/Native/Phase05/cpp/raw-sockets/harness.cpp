// The raw-sockets lab's harness: drives the framing functions (framing.hpp) over real
// loopback TCP and prints "RESULT name pass|fail detail" and "FIGURE name value unit" lines.
//   harness wire | split | partial | nagle ROUNDS
#include "framing.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using Clock = std::chrono::steady_clock;

static void result(const char* name, bool pass, const std::string& detail) {
    std::printf("RESULT %s %s %s\n", name, pass ? "pass" : "fail", detail.c_str());
    std::fflush(stdout);
}

// A connected pair of loopback TCP sockets: [0] the client end, [1] the server end.
static bool tcp_pair(int fds[2]) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
    fds[0] = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fds[0], reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    fds[1] = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    return fds[1] >= 0;
}

// The harness's own raw read of exactly n bytes, giving up after `ms` without data.
static std::string raw_read(int fd, std::size_t n, int ms) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, ms) <= 0) break;
        ssize_t got = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
        if (got <= 0) break;
        out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
}

static std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    unsigned x = seed * 2654435761u + 1;
    for (auto& c : s) { x = x * 1103515245u + 12345u; c = char(x >> 16); }
    return s;
}

// Runs `body` on a thread; false when it has not finished within `ms` (then we exit: a
// frame that never completes would keep a blocked read() waiting for ever).
template <class F> static bool within(int ms, F body, const char* name, const std::string& what) {
    std::atomic<bool> done{false};
    std::thread t([&] { body(); done = true; });
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (!done && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (!done) {
        result(name, false, what);
        std::_Exit(0);
    }
    t.join();
    return true;
}

static void wire() {
    int fds[2];
    if (!tcp_pair(fds)) { result("wire", false, "could not open a loopback TCP pair"); return; }
    bool sent = send_frame(fds[0], "hello");
    std::string raw = raw_read(fds[1], 9, 1000);
    const std::string want("\x00\x00\x00\x05hello", 9);
    // And the other way: bytes framed by hand, read with recv_frame; then a 1 MiB and an empty frame.
    std::string framed("\x00\x00\x01\x00", 4);
    std::string body = pattern(256, 7);
    framed += body;
    write_all(fds[1], framed.data(), framed.size());
    std::string got, empty = "x";
    bool ok1 = false, ok3 = false;
    within(3000, [&] {
        ok1 = recv_frame(fds[0], got);
        send_frame(fds[1], "");
        ok3 = recv_frame(fds[0], empty);
    }, "wire", "recv_frame did not return the hand-framed 256-byte frame (00 00 01 00 then 256 bytes) within 3 s");
    std::string hex;
    for (unsigned char c : raw.substr(0, 4)) { char b[4]; std::snprintf(b, sizeof b, "%02x ", c); hex += b; }
    bool pass = sent && raw == want && ok1 && got == body && ok3 && empty.empty();
    result("wire", pass,
           "send_frame(\"hello\") put " + std::to_string(raw.size()) + " bytes on the wire, header " + hex +
               (raw == want ? "(big-endian 5)" : "(want 00 00 00 05)") + "; a hand-framed 256-byte frame read back " +
               (ok1 && got == body ? "intact" : "wrong") + "; an empty frame " + (ok3 && empty.empty() ? "intact" : "wrong"));
    ::close(fds[0]);
    ::close(fds[1]);
}

static void split() {
    int fds[2];
    if (!tcp_pair(fds)) { result("split", false, "could not open a loopback TCP pair"); return; }
    int one = 1;
    ::setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string body = pattern(10000, 11);
    // The frame as the code under test writes it (so byte order is not this check's business).
    int pair[2];
    ::socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    std::string frame, three;
    std::thread encoder([&] {
        send_frame(pair[0], body);
        for (int i = 0; i < 3; ++i) send_frame(pair[0], "ab" + std::to_string(i));
        ::shutdown(pair[0], SHUT_WR);
    });
    std::string encoded = raw_read(pair[1], 1 << 20, 500);
    encoder.join();
    ::close(pair[0]);
    ::close(pair[1]);
    if (encoded.size() != 4 + body.size() + 3 * 7) {
        result("split", false, "send_frame wrote " + std::to_string(encoded.size()) + " bytes for frames of 10000 + 3 x 3 bytes (want " +
                                   std::to_string(4 + body.size() + 3 * 7) + ")");
        return;
    }
    frame = encoded.substr(0, 4 + body.size());
    three = encoded.substr(4 + body.size());
    // The frame dribbles in: 1 byte, 2 bytes (the header split), then uneven pieces, 5 ms apart.
    std::vector<std::size_t> cuts = {1, 3, 4, 100, 1500, 4000, 7000, frame.size()};
    std::thread writer([&] {
        std::size_t at = 0;
        for (std::size_t cut : cuts) {
            ::send(fds[1], frame.data() + at, cut - at, MSG_NOSIGNAL);
            at = cut;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        // Then three frames in one write: they arrive together.
        ::send(fds[1], three.data(), three.size(), MSG_NOSIGNAL);
    });
    std::string got, a, b, c;
    bool ok = false, ok3 = false;
    within(5000, [&] { ok = recv_frame(fds[0], got); ok3 = recv_frame(fds[0], a) && recv_frame(fds[0], b) && recv_frame(fds[0], c); },
           "split", "recv_frame did not return within 5 s while the frame arrived in 8 pieces");
    writer.join();
    bool whole = ok && got == body;
    bool threeOK = ok3 && a == "ab0" && b == "ab1" && c == "ab2";
    result("split", whole && threeOK,
           std::string("a 10000-byte frame sent in 8 pieces 5 ms apart came back ") +
               (whole ? "whole" : ok ? "wrong (" + std::to_string(got.size()) + " bytes, contents differ)" : "as an error") +
               "; three frames sent in one write came back " + (threeOK ? "as three frames" : "wrong: " + a + "|" + b + "|" + c));
    ::close(fds[0]);
    ::close(fds[1]);
}

static void on_signal(int) {}

static void partial() {
    int fds[2];
    if (!tcp_pair(fds)) { result("partial", false, "could not open a loopback TCP pair"); return; }
    int small = 8192;
    ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct sigaction sa{};
    sa.sa_handler = on_signal;  // no SA_RESTART: a signal cuts a blocked send() short
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGUSR1, &sa, nullptr);
    std::string body = pattern(1 << 20, 5);
    std::atomic<bool> writing{true};
    bool sent = false;
    pthread_t writer_id{};
    std::atomic<bool> started{false};
    std::thread writer([&] {
        writer_id = pthread_self();
        started = true;
        sent = send_frame(fds[0], body);
        writing = false;
    });
    while (!started) std::this_thread::yield();
    long signals = 0;
    std::thread interrupter([&] {
        while (writing) {
            ::pthread_kill(writer_id, SIGUSR1);
            signals++;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    // The reader takes 16 KiB at a time; the writer's small buffer fills and send() blocks.
    std::string header = raw_read(fds[1], 4, 3000), got;
    while (got.size() < body.size()) {
        std::string piece = raw_read(fds[1], std::min<std::size_t>(16384, body.size() - got.size()), 3000);
        if (piece.empty()) break;
        got += piece;
    }
    writing = false;
    interrupter.join();
    ::shutdown(fds[1], SHUT_RDWR);
    writer.join();
    bool pass = sent && header.size() == 4 && got == body;
    result("partial", pass,
           "a 1 MiB frame through an 8 KiB send buffer while the writer took " + std::to_string(signals) +
               " signals (each cuts a blocked send() short): the reader got " + std::to_string(got.size()) + " of " +
               std::to_string(body.size()) + " bytes" + (got == body ? ", intact" : got.size() == body.size() ? ", corrupted" : "") +
               "; send_frame returned " + (sent ? "true" : "false"));
    ::close(fds[0]);
    ::close(fds[1]);
}

// A client that writes a 4-byte header and a 4-byte body separately, then waits for the
// answer: with Nagle's algorithm the second write waits for the ACK of the first, which the
// server delays (about 40 ms on Linux): all the rounds with Nagle, then all without, each on
// its own connection. Right after the body is written, SIOCOUTQNSD tells how many bytes the
// kernel still holds unsent: with Nagle, the body waits there.
struct Conn {
    int fds[2] = {-1, -1};
    std::thread server;
    std::vector<double> times;
    int held = 0;
};

static bool open_conn(Conn& c, bool nodelay) {
    if (!tcp_pair(c.fds)) return false;
    int server_fd = c.fds[1];
    // The server reads the 8-byte request and answers 2 bytes (raw: byte order is not this
    // experiment's business).
    c.server = std::thread([server_fd] {
        const std::size_t request = 8;
        while (raw_read(server_fd, request, 5000).size() == request)
            if (::send(server_fd, "ok", 2, MSG_NOSIGNAL) != 2) break;
    });
    set_nodelay(c.fds[0], nodelay);
    return true;
}

static bool round_trip(Conn& c) {
    auto t0 = Clock::now();
    unsigned char header[4] = {0, 0, 0, 4};
    write_all(c.fds[0], header, 4);
    write_all(c.fds[0], "ping", 4);
    int unsent = 0;
    if (::ioctl(c.fds[0], SIOCOUTQNSD, &unsent) == 0 && unsent > 0) ++c.held;
    char reply[2];
    if (raw_read(c.fds[0], sizeof reply, 5000).size() != sizeof reply) return false;
    c.times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    return true;
}

static double close_conn(Conn& c) {
    ::shutdown(c.fds[0], SHUT_RDWR);
    if (c.server.joinable()) c.server.join();
    ::close(c.fds[0]);
    ::close(c.fds[1]);
    if (c.times.empty()) return -1;
    std::sort(c.times.begin(), c.times.end());
    return c.times[c.times.size() / 2];
}

static void nagle(int rounds) {
    Conn with, without;
    double with_median = -1, without_median = -1;
    if (open_conn(with, false)) {
        for (int i = 0; i < rounds && round_trip(with); ++i) {}
        with_median = close_conn(with);
    }
    if (open_conn(without, true)) {
        for (int i = 0; i < rounds && round_trip(without); ++i) {}
        without_median = close_conn(without);
    }
    int completed = int(std::min(with.times.size(), without.times.size()));
    std::printf("FIGURE nagle-rounds %d rounds\n", completed);
    std::printf("FIGURE nagle-median-us %.1f us\n", with_median);
    std::printf("FIGURE nodelay-median-us %.1f us\n", without_median);
    std::printf("FIGURE nagle-held %d rounds\n", with.held);
    std::printf("FIGURE nodelay-held %d rounds\n", without.held);
}

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "wire") wire();
    else if (mode == "split") split();
    else if (mode == "partial") partial();
    else if (mode == "nagle" && argc == 3) nagle(std::atoi(argv[2]));
    else { std::fprintf(stderr, "usage: harness wire|split|partial|nagle ROUNDS\n"); return 64; }
    return 0;
}
