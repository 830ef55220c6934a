// C helpers for what Swift cannot call directly (macros, variadics, errno, argv under Embedded
// Swift, build-time board defaults). Keep each shim tiny; behaviour lives in Swift.
#ifndef TETHER_CSHIMS_H
#define TETHER_CSHIMS_H

// The libc surface the agent uses, re-exported through this module so that the same
// `import CShims` works on the host (glibc) and in Embedded builds (musl), where no Glibc
// overlay module exists.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#ifdef __cplusplus
extern "C" {
#endif

/// errno of the calling thread (errno is a macro in every libc).
int tether_errno(void);
void tether_set_errno(int value);

/// Writes all of `len` bytes to `fd`, retrying on EINTR/short writes. Returns 0 or -errno.
int tether_write_all(int fd, const void *buf, size_t len);

/// Command line: Embedded Swift has no CommandLine, so argv is read from /proc/self/cmdline
/// once (Linux and qemu-user both provide it). Returns argc; argv strings stay valid forever.
int tether_argc(void);
const char *tether_argv(int index);

/// Environment lookup (getenv is fine, but keeps one door for tests).
const char *tether_getenv(const char *name);

/// Build-time facts, set by cross/build.sh from board-configs/<board>.conf (-D flags);
/// host builds report "host" and the generic defaults.
const char *tether_build_board(void);
const char *tether_build_libc(void);
const char *tether_default_key_path(void);
const char *tether_default_log_target(void);
int tether_default_session_slots(void);
int tether_default_middlebox_idle(void);

/// Fills `buf` with `len` bytes from the kernel's CSPRNG (getrandom, falling back to
/// /dev/urandom). Returns 0 or -errno.
int tether_random_bytes(void *buf, size_t len);

/// Machine name from uname(2) (e.g. "aarch64", "armv7l"), copied into buf.
int tether_uname_machine(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
