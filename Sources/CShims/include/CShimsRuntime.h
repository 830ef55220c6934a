// Shims for the runtime in Sources/tether (session slots, process facts).
#ifndef TETHER_CSHIMS_RUNTIME_H
#define TETHER_CSHIMS_RUNTIME_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// socketpair(AF_UNIX, SOCK_STREAM) with both ends non-blocking and close-on-exec, and send
/// buffers bounded so a session slot's memory stays fixed. Returns 0 or -errno.
int tether_socketpair_nonblock(int fds[2]);

/// Effective user id (0 = root).
unsigned int tether_geteuid(void);

#ifdef __cplusplus
}
#endif
#endif
