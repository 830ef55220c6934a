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
#include <dirent.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/// errno of the calling thread (errno is a macro in every libc).
int tether_errno(void);
void tether_set_errno(int value);

/// Writes all of `len` bytes to `fd`, retrying on EINTR/short writes. Returns 0 or -errno.
int tether_write_all(int fd, const void *buf, size_t len);
/// A descriptor for writing log lines to stderr that never blocks the one thread: a pipe, tty or
/// other device is reopened through /proc/self/fd/2 with O_NONBLOCK (its own open file
/// description, so the flag does not reach the parent or siblings sharing stderr); a regular
/// file, or anything that cannot be reopened, is fd 2 itself. *is_socket is set for a socket
/// (journald's stdout stream), which is written with send(MSG_DONTWAIT) instead.
int tether_log_open_stderr(int *is_socket);
/// One write without blocking: bytes written, or -errno (-EAGAIN: the reader is stalled).
long tether_log_write(int fd, int is_socket, const void *buf, size_t len);

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


// ---- TetherPlatform shims (platform.c) ----

/// Monotonic and wall clocks in nanoseconds (clock_gettime; CLOCK_* are macros).
uint64_t tether_clock_monotonic_ns(void);
int64_t tether_clock_realtime_ns(void);

/// open(2) is variadic; this passes the mode explicitly. O_CLOEXEC is always added.
int tether_open(const char *path, int flags, unsigned int mode);
/// fcntl(2) is variadic: set O_NONBLOCK and FD_CLOEXEC. Return 0 or -errno.
int tether_set_nonblocking(int fd);
int tether_set_cloexec(int fd);

/// syslog(3) is variadic: the message is passed through "%s", never as a format.
void tether_syslog_open(const char *ident);
void tether_syslog_write(int priority, const char *message);
void tether_syslog_close(void);

/// Self-pipe for signals: `tether_signal_pipe()` creates (once) a non-blocking pipe and returns
/// its read end; `tether_signal_watch(signo)` installs a handler that writes the signal number
/// as one byte into it. `tether_signal_restore(signo)` puts back SIG_DFL.
int tether_signal_pipe(void);
int tether_signal_watch(int signo);
int tether_signal_restore(int signo);
/// Ignores SIGPIPE so that writes to closed sockets return EPIPE instead of killing us.
void tether_ignore_sigpipe(void);
/// Sends `signo` to this process (tests).
int tether_raise(int signo);

/// Socket option helpers (int-valued setsockopt/getsockopt). Return 0 or -errno.
int tether_setsockopt_int(int fd, int level, int name, int value);
int tether_getsockopt_int(int fd, int level, int name, int *value);
/// Pending error of a socket (SO_ERROR) after a non-blocking connect: 0, an errno, or -errno
/// when getsockopt itself failed.
int tether_socket_error(int fd);

/// In a forked child: closes descriptors lo..hi (close_range(2), else one close(2) per number
/// up to the descriptor limit). Async-signal-safe.
void tether_close_fds(unsigned lo, unsigned hi);
/// pipe2(fds, pipe_flags) and fork(). In the child (returns 0) only stdio and the write end
/// fds[1] stay open and SIGTERM/SIGINT/SIGHUP are default again. Returns the pid, or -errno.
int tether_fork_piped(int fds[2], int pipe_flags);

/// Name resolution in a forked child: the child runs getaddrinfo(host, port, AF_UNSPEC,
/// SOCK_STREAM) and writes the records to a pipe, then _exits; it closes every descriptor but
/// stdio and the pipe first (no copy of an agent socket or pty outlives its close). Returns the non-blocking read end
/// (and the child's pid in *pid) or -errno. Record format: one byte family (4 or 6), then 16
/// address bytes (IPv4 uses the first 4), then 2 bytes port (network order); a final record
/// with family 0 carries the getaddrinfo error code in the next 4 bytes (little endian).
int tether_resolve_spawn(const char *host, const char *port, int *pid);
enum { TETHER_RESOLVE_RECORD = 19, TETHER_RESOLVE_MAX = 16 };
/// waitpid(pid, WNOHANG): 1 when reaped, 0 when still running, -errno on error.
int tether_reap(int pid);
/// kill(pid, SIGKILL).
int tether_kill(int pid);
/// gai_strerror text for a getaddrinfo error code.
const char *tether_gai_strerror(int code);

/// mbedTLS BIO callbacks over a non-blocking fd; `ctx` points to an int holding the fd.
/// EAGAIN becomes MBEDTLS_ERR_SSL_WANT_READ/WANT_WRITE, EINTR is retried.
int tether_tls_bio_send(void *ctx, const unsigned char *buf, size_t len);
int tether_tls_bio_recv(void *ctx, unsigned char *buf, size_t len);
/// CTR-DRBG entropy callback: getrandom(2).
int tether_tls_entropy(void *ctx, unsigned char *buf, size_t len);
/// The TLS 1.2 suites offered: ECDHE with AES-GCM or ChaCha20-Poly1305, zero-terminated,
/// static storage (mbedtls_ssl_conf_ciphersuites keeps the pointer).
const int *tether_tls_ciphersuites(void);

/// Calendar fields (UTC) of a Unix time, via gmtime_r.
int tether_gmtime(int64_t seconds, int *year, int *month, int *day, int *hour, int *minute, int *second);

#ifdef __cplusplus
}
#endif
#endif
