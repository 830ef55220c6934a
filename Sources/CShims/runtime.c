#define _GNU_SOURCE
#include "CShimsRuntime.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

/* Kernel buffer per direction of a slot's socketpair; with the yamux window (256 KiB) this
 * bounds the bytes in flight per session. */
enum { SLOT_SOCKET_BUFFER = 64 * 1024 };

int tether_socketpair_nonblock(int fds[2]) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return -errno;
    int size = SLOT_SOCKET_BUFFER;
    for (int i = 0; i < 2; i++) setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return 0;
}

unsigned int tether_geteuid(void) { return (unsigned int)geteuid(); }
