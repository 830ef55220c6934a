// Shims for TetherPlatform: the few libc and mbedTLS entry points Swift cannot call directly
// (variadics, macros, signal handlers, callback trampolines). Behaviour lives in Swift.
#define _GNU_SOURCE
#include "CShims.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

// mbedTLS error codes used by the BIO trampolines (values fixed by the 2.x API; defined here
// so this file does not need the mbedTLS headers on every build).
#define TETHER_MBEDTLS_ERR_SSL_WANT_READ -0x6900
#define TETHER_MBEDTLS_ERR_SSL_WANT_WRITE -0x6880
#define TETHER_MBEDTLS_ERR_NET_RECV_FAILED -0x004C
#define TETHER_MBEDTLS_ERR_NET_SEND_FAILED -0x004E
#define TETHER_MBEDTLS_ERR_NET_CONN_RESET -0x0050

uint64_t tether_clock_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t tether_clock_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

int tether_open(const char *path, int flags, unsigned int mode) {
    int fd;
    do { fd = open(path, flags | O_CLOEXEC, (mode_t)mode); } while (fd < 0 && errno == EINTR);
    return fd;
}

int tether_set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    return 0;
}

int tether_set_cloexec(int fd) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) return -errno;
    return 0;
}

void tether_syslog_open(const char *ident) { openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON); }
void tether_syslog_write(int priority, const char *message) { syslog(priority, "%s", message); }
void tether_syslog_close(void) { closelog(); }

static int signal_fds[2] = {-1, -1};

static void signal_to_pipe(int signo) {
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    // A full pipe drops the byte: the loop only needs to learn that the signal came.
    ssize_t r = write(signal_fds[1], &b, 1);
    (void)r;
    errno = saved;
}

int tether_signal_pipe(void) {
    if (signal_fds[0] >= 0) return signal_fds[0];
    if (pipe2(signal_fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
    return signal_fds[0];
}

int tether_signal_watch(int signo) {
    if (tether_signal_pipe() < 0) return -errno;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_to_pipe;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) == 0 ? 0 : -errno;
}

int tether_signal_restore(int signo) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) == 0 ? 0 : -errno;
}

void tether_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }
int tether_raise(int signo) { return kill(getpid(), signo) == 0 ? 0 : -errno; }

int tether_setsockopt_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : -errno;
}

int tether_getsockopt_int(int fd, int level, int name, int *value) {
    socklen_t len = sizeof *value;
    return getsockopt(fd, level, name, value, &len) == 0 ? 0 : -errno;
}

int tether_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -errno;
    return err;
}

static void resolve_child(int out, const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int rc = getaddrinfo(host, port, &hints, &res);
    unsigned char buf[TETHER_RESOLVE_RECORD * (TETHER_RESOLVE_MAX + 1)];
    size_t used = 0;
    int count = 0;
    if (rc == 0) {
        for (struct addrinfo *ai = res; ai && count < TETHER_RESOLVE_MAX; ai = ai->ai_next) {
            unsigned char *r = buf + used;
            memset(r, 0, TETHER_RESOLVE_RECORD);
            if (ai->ai_family == AF_INET) {
                struct sockaddr_in *s = (struct sockaddr_in *)ai->ai_addr;
                r[0] = 4;
                memcpy(r + 1, &s->sin_addr, 4);
                memcpy(r + 17, &s->sin_port, 2);
            } else if (ai->ai_family == AF_INET6) {
                struct sockaddr_in6 *s = (struct sockaddr_in6 *)ai->ai_addr;
                r[0] = 6;
                memcpy(r + 1, &s->sin6_addr, 16);
                memcpy(r + 17, &s->sin6_port, 2);
            } else {
                continue;
            }
            used += TETHER_RESOLVE_RECORD;
            count++;
        }
        freeaddrinfo(res);
    }
    unsigned char *r = buf + used;
    memset(r, 0, TETHER_RESOLVE_RECORD);
    uint32_t code = (uint32_t)rc;
    for (int i = 0; i < 4; i++) r[1 + i] = (unsigned char)(code >> (8 * i));
    used += TETHER_RESOLVE_RECORD;
    size_t off = 0;
    while (off < used) {
        ssize_t n = write(out, buf + off, used - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
}

// Closes descriptors [lo, hi] in a forked child: close_range(2) (Linux 5.9), else one close(2)
// per number up to the descriptor limit, capped (the agent's fixed tables keep its fds far
// below; a new fd takes the lowest free number). Async-signal-safe: syscalls only.
void tether_close_fds(unsigned lo, unsigned hi) {
    if (lo > hi) return;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lo, hi, 0) == 0) return;
#endif
    struct rlimit rl;
    unsigned top = 1u << 16;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top) top = (unsigned)rl.rlim_cur;
    if (top == 0) return;
    if (hi >= top) hi = top - 1;
    for (unsigned fd = lo; fd <= hi; fd++) close((int)fd);
}

int tether_fork_piped(int fds[2], int pipe_flags) {
    if (pipe2(fds, pipe_flags) != 0) return -errno;
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    if (child == 0) {
        // Keep only the pipe's write end and stdio: a copy of any other fd (a socket, a pty,
        // another child's pipe) would hold it open until this child exits, delaying its EOF.
        unsigned out = (unsigned)fds[1];
        if (out > 3) tether_close_fds(3, out - 1);
        tether_close_fds(out + 1, ~0u);
        if (fds[0] < 3) close(fds[0]);
        // The child must not run the parent's signal handlers (they write to the loop's pipe).
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
    }
    return child;
}

int tether_resolve_spawn(const char *host, const char *port, int *pid) {
    int fds[2];
    pid_t child = tether_fork_piped(fds, O_CLOEXEC);
    if (child < 0) return child;
    if (child == 0) {
        resolve_child(fds[1], host, port);
        _exit(0);
    }
    close(fds[1]);
    int fl = fcntl(fds[0], F_GETFL);
    fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
    *pid = (int)child;
    return fds[0];
}

int tether_reap(int pid) {
    int status;
    pid_t r = waitpid((pid_t)pid, &status, WNOHANG);
    if (r < 0) return -errno;
    return r == 0 ? 0 : 1;
}

int tether_kill(int pid) { return kill((pid_t)pid, SIGKILL) == 0 ? 0 : -errno; }
const char *tether_gai_strerror(int code) { return gai_strerror(code); }

int tether_tls_bio_send(void *ctx, const unsigned char *buf, size_t len) {
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return TETHER_MBEDTLS_ERR_SSL_WANT_WRITE;
        if (errno == EPIPE || errno == ECONNRESET) return TETHER_MBEDTLS_ERR_NET_CONN_RESET;
        return TETHER_MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

int tether_tls_bio_recv(void *ctx, unsigned char *buf, size_t len) {
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return TETHER_MBEDTLS_ERR_SSL_WANT_READ;
        if (errno == EPIPE || errno == ECONNRESET) return TETHER_MBEDTLS_ERR_NET_CONN_RESET;
        return TETHER_MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

int tether_tls_entropy(void *ctx, unsigned char *buf, size_t len) {
    (void)ctx;
    return tether_random_bytes(buf, len) == 0 ? 0 : -0x0034;  // MBEDTLS_ERR_ENTROPY_SOURCE_FAILED
}

// ECDHE only (forward secrecy), AEAD only; RSA and ECDSA server certificates.
static const int tls_suites[] = {
    0xC02B,  // TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256
    0xC02F,  // TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256
    0xCCA9,  // TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256
    0xCCA8,  // TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256
    0xC02C,  // TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384
    0xC030,  // TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384
    0,
};

const int *tether_tls_ciphersuites(void) { return tls_suites; }

int tether_gmtime(int64_t seconds, int *year, int *month, int *day, int *hour, int *minute, int *second) {
    time_t t = (time_t)seconds;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) return -1;
    *year = tm.tm_year + 1900;
    *month = tm.tm_mon + 1;
    *day = tm.tm_mday;
    *hour = tm.tm_hour;
    *minute = tm.tm_min;
    *second = tm.tm_sec;
    return 0;
}
