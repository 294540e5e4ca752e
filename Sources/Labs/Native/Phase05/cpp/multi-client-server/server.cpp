// One tiny HTTP/1.1 server, three ways to serve many clients at once:
//   thread  one std::thread per connection: simple; a thread (and its stack) per client.
//   pool    a fixed pool of worker threads taking connections from a queue: bounded threads,
//           but a connection holds its worker until it closes, so the rest wait their turn.
//   epoll   one thread, non-blocking sockets and an epoll event loop: no thread per client;
//           every read may bring half a request or three, so each connection keeps a buffer.
// It answers GET /sum?a=X&b=Y with the sum as text, keeps connections alive (HTTP/1.1) and
// answers pipelined requests in order.
//
// Usage: server thread|pool|epoll   (PORT from the environment, 0 for any; WORKERS for the
// pool, default 4). It prints "LISTENING <port>" once it accepts connections, and exits on
// SIGTERM.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

// Takes the first complete request off `buffer` and appends its response to `out`; false
// when the buffer holds no complete request yet. Sets `close_after` for "Connection: close".
static bool take_request(std::string& buffer, std::string& out, bool& close_after) {
    std::size_t end = buffer.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = buffer.substr(0, end);
#ifdef LAB_BREAK_NO_PIPELINING
    buffer.clear();  // broken on purpose: whatever followed this request is dropped
#else
    buffer.erase(0, end + 4);
#endif
    std::string line = head.substr(0, head.find("\r\n"));
    close_after = head.find("Connection: close") != std::string::npos || head.find("connection: close") != std::string::npos;
    long a = 0, b = 0;
    int status = 200;
    std::string body;
    if (line.compare(0, 9, "GET /sum?") == 0 && std::sscanf(line.c_str(), "GET /sum?a=%ld&b=%ld", &a, &b) == 2) {
        body = std::to_string(a + b);
    } else {
#ifdef LAB_BREAK_GARBAGE_OK
        body = "0";  // broken on purpose: anything is answered as if it were a sum
#else
        status = 400;
        body = "bad request";
#endif
    }
    out += "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Bad Request") +
           "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return true;
}

static bool write_all(int fd, const std::string& data) {
    std::size_t at = 0;
    while (at < data.size()) {
        ssize_t n = ::send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        at += static_cast<std::size_t>(n);
    }
    return true;
}

// Serves one connection with blocking reads until the client closes (thread and pool models).
static void serve_blocking(int fd, bool thread_model) {
    std::string buffer, out;
    char chunk[4096];
    bool open = true;
    while (open) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buffer.append(chunk, static_cast<std::size_t>(n));
        bool close_after = false;
        out.clear();
        while (take_request(buffer, out, close_after)) {
            if (close_after) break;
        }
        if (!out.empty() && !write_all(fd, out)) break;
        if (close_after) open = false;
#ifdef LAB_BREAK_THREAD_CLOSE
        if (thread_model) open = false;  // broken on purpose: one answer, then the connection is closed
#else
        (void)thread_model;
#endif
    }
    ::close(fd);
}

static int listen_on(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1024) != 0) {
        std::perror("listen");
        std::exit(1);
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::printf("LISTENING %d\n", ntohs(addr.sin_port));
    std::fflush(stdout);
    return fd;
}

static void thread_per_connection(int listener) {
    while (true) {
        int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) continue;
        std::thread(serve_blocking, fd, true).detach();
    }
}

static void thread_pool(int listener, int workers) {
    std::mutex mu;
    std::condition_variable ready;
    std::deque<int> waiting;
    for (int i = 0; i < workers; ++i)
        std::thread([&] {
            while (true) {
                int fd;
                {
                    std::unique_lock<std::mutex> lock(mu);
                    ready.wait(lock, [&] { return !waiting.empty(); });
                    fd = waiting.front();
                    waiting.pop_front();
                }
                serve_blocking(fd, false);
            }
        }).detach();
    while (true) {
        int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) continue;
        std::lock_guard<std::mutex> lock(mu);
#ifdef LAB_BREAK_POOL_SHED
        if (waiting.size() >= 2) { ::close(fd); continue; }  // broken on purpose: sheds connections when busy
#endif
        waiting.push_back(fd);
        ready.notify_one();
    }
}

static void event_loop(int listener) {
    int ep = ::epoll_create1(0);
    ::fcntl(listener, F_SETFL, ::fcntl(listener, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    struct Conn { std::string in, out; bool closing = false; };
    std::map<int, Conn> conns;
    auto drop = [&](int fd) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns.erase(fd);
    };
    std::vector<epoll_event> events(256);
    char chunk[4096];
    while (true) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                while (true) {
                    int c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
                    if (c < 0) break;
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = c;
                    ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    conns[c];
                }
                continue;
            }
            Conn& conn = conns[fd];
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                bool eof = false;
                while (true) {
                    ssize_t got = ::read(fd, chunk, sizeof chunk);
                    if (got > 0) {
                        conn.in.append(chunk, static_cast<std::size_t>(got));
#ifdef LAB_BREAK_EPOLL_ONE_READ
                        break;  // broken on purpose: one read is taken for one whole request
#endif
                        continue;
                    }
                    if (got == 0) eof = true;
                    else if (errno == EINTR) continue;
                    else if (errno != EAGAIN && errno != EWOULDBLOCK) eof = true;
                    break;
                }
                bool close_after = false;
                while (take_request(conn.in, conn.out, close_after))
                    if (close_after) { conn.closing = true; break; }
#ifdef LAB_BREAK_EPOLL_ONE_READ
                conn.in.clear();  // broken on purpose: half a request is thrown away
#endif
                if (eof && conn.out.empty()) { drop(fd); continue; }
                if (eof) conn.closing = true;
            }
            // Write what we can; the rest waits for EPOLLOUT.
            while (!conn.out.empty()) {
                ssize_t put = ::send(fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
                if (put > 0) { conn.out.erase(0, static_cast<std::size_t>(put)); continue; }
                if (put < 0 && errno == EINTR) continue;
                break;
            }
            if (conn.out.empty() && conn.closing) { drop(fd); continue; }
            epoll_event mod{};
            mod.events = EPOLLIN | (conn.out.empty() ? 0u : static_cast<unsigned>(EPOLLOUT));
            mod.data.fd = fd;
            ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &mod);
        }
    }
}

int main(int argc, char** argv) {
    std::string model = argc > 1 ? argv[1] : "";
    if (model != "thread" && model != "pool" && model != "epoll") {
        std::fprintf(stderr, "usage: server thread|pool|epoll\n");
        return 64;
    }
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    std::thread([stops] {
        int sig = 0;
        sigwait(&stops, &sig);
        std::_Exit(0);
    }).detach();
    const char* port = std::getenv("PORT");
    const char* workers = std::getenv("WORKERS");
    int listener = listen_on(port ? std::atoi(port) : 0);
    if (model == "thread") thread_per_connection(listener);
    else if (model == "pool") thread_pool(listener, workers ? std::max(1, std::atoi(workers)) : 4);
    else event_loop(listener);
    return 0;
}
