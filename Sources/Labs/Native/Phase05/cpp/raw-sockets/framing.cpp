// The reference framing (see framing.hpp).
#include "framing.hpp"

#include <cerrno>
#include <cstdint>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

bool write_all(int fd, const void* data, std::size_t len) {
    const char* p = static_cast<const char*>(data);
    while (len > 0) {
        ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
#ifdef LAB_BREAK_SINGLE_WRITE
        return true;  // broken on purpose: trusts one send() to take everything
#endif
        p += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

bool read_exact(int fd, void* data, std::size_t len) {
    char* p = static_cast<char*>(data);
    while (len > 0) {
        ssize_t n = ::read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) return false;  // the peer closed mid-message
#ifdef LAB_BREAK_SINGLE_READ
        return true;  // broken on purpose: trusts one read() to bring the whole message
#endif
        p += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

bool send_frame(int fd, const std::string& payload) {
    std::uint32_t n = static_cast<std::uint32_t>(payload.size());
#ifdef LAB_BREAK_LITTLE_ENDIAN
    unsigned char header[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                               static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
#else
    unsigned char header[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                               static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
#endif
    // One buffer, one write_all: header and payload leave together (no write-write-read).
    std::string frame(reinterpret_cast<char*>(header), 4);
    frame += payload;
    return write_all(fd, frame.data(), frame.size());
}

bool recv_frame(int fd, std::string& payload) {
    unsigned char header[4];
    if (!read_exact(fd, header, 4)) return false;
#ifdef LAB_BREAK_LITTLE_ENDIAN
    std::uint32_t n = std::uint32_t(header[0]) | std::uint32_t(header[1]) << 8 | std::uint32_t(header[2]) << 16 |
                      std::uint32_t(header[3]) << 24;
#else
    std::uint32_t n = std::uint32_t(header[0]) << 24 | std::uint32_t(header[1]) << 16 | std::uint32_t(header[2]) << 8 |
                      std::uint32_t(header[3]);
#endif
    payload.assign(n, '\0');
    return n == 0 || read_exact(fd, &payload[0], n);
}

void set_nodelay(int fd, bool on) {
#ifdef LAB_BREAK_NODELAY_NOOP
    (void)fd;
    (void)on;  // broken on purpose: leaves Nagle's algorithm as it was
#else
    int flag = on ? 1 : 0;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof flag);
#endif
}
