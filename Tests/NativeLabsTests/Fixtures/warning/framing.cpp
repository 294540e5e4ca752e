// Compiles, but with a warning (an unused variable): -Werror makes it an error.
#include "framing.hpp"

bool write_all(int fd, const void* data, std::size_t len) { int unused = 0; (void)fd; (void)data; (void)len; return false; }
bool read_exact(int fd, void* data, std::size_t len) { (void)fd; (void)data; (void)len; return false; }
bool send_frame(int fd, const std::string& payload) { (void)fd; (void)payload; return false; }
bool recv_frame(int fd, std::string& payload) { (void)fd; (void)payload; return false; }
void set_nodelay(int fd, bool on) { (void)fd; (void)on; }
