// framing.hpp: messages over a TCP byte stream.
//
// TCP delivers bytes, not messages: one write() can arrive as three read()s, three writes
// as one read, and a write() may take only part of what it was given (a full send buffer,
// a signal). So every message goes out as a frame, a 4-byte big-endian length and then that
// many bytes, and both sides loop until they have moved exactly what they meant to.
//
// The contract (the lab's harness uses exactly this):
#pragma once
#include <cstddef>
#include <string>

// Writes all `len` bytes: loops over partial writes and retries on EINTR. false on error.
bool write_all(int fd, const void* data, std::size_t len);
// Reads exactly `len` bytes: loops over short reads and retries on EINTR. false on EOF or error.
bool read_exact(int fd, void* data, std::size_t len);
// One frame: the payload's length as 4 bytes, most significant first, then the payload.
bool send_frame(int fd, const std::string& payload);
// The next frame's payload; false on EOF or error.
bool recv_frame(int fd, std::string& payload);
// Turns Nagle's algorithm off (on = true) or back on for a TCP socket (TCP_NODELAY).
void set_nodelay(int fd, bool on);
