#define _GNU_SOURCE
#include "CShims.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef TETHER_BOARD
#define TETHER_BOARD "host"
#endif
#ifndef TETHER_LIBC
#if defined(__GLIBC__)
#define TETHER_LIBC "glibc"
#else
#define TETHER_LIBC "musl"
#endif
#endif
#ifndef TETHER_KEY_PATH
#define TETHER_KEY_PATH "/etc/shellhub.key"
#endif
#ifndef TETHER_LOG_TARGET
#define TETHER_LOG_TARGET "stderr"
#endif
#ifndef TETHER_SESSION_SLOTS
#define TETHER_SESSION_SLOTS 8
#endif
#ifndef TETHER_MIDDLEBOX_IDLE
#define TETHER_MIDDLEBOX_IDLE 60
#endif

int tether_errno(void) { return errno; }
void tether_set_errno(int value) { errno = value; }

int tether_write_all(int fd, const void *buf, size_t len) {
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tether_log_open_stderr(int *is_socket) {
    struct stat st;
    *is_socket = 0;
    if (fstat(2, &st) != 0) return 2;
    if (S_ISSOCK(st.st_mode)) { *is_socket = 1; return 2; }
    if (S_ISREG(st.st_mode)) return 2;
    int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    return fd >= 0 ? fd : 2;
}

long tether_log_write(int fd, int is_socket, const void *buf, size_t len) {
    for (;;) {
        ssize_t n = is_socket ? send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, buf, len);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return -errno;
    }
}

enum { ARGS_MAX_BYTES = 8192, ARGS_MAX = 64 };
static char args_buf[ARGS_MAX_BYTES];
static const char *args_ptr[ARGS_MAX];
static int args_count = -1;

static void args_load(void) {
    if (args_count >= 0) return;
    args_count = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, args_buf + used, sizeof(args_buf) - 1 - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        used += (size_t)n;
        if (used >= sizeof(args_buf) - 1) break;
    }
    close(fd);
    args_buf[used] = 0;
    size_t i = 0;
    while (i < used && args_count < ARGS_MAX) {
        args_ptr[args_count++] = args_buf + i;
        i += strlen(args_buf + i) + 1;
    }
}

int tether_argc(void) { args_load(); return args_count; }
const char *tether_argv(int index) {
    args_load();
    return (index >= 0 && index < args_count) ? args_ptr[index] : NULL;
}

const char *tether_getenv(const char *name) { return getenv(name); }

const char *tether_build_board(void) { return TETHER_BOARD; }
const char *tether_build_libc(void) { return TETHER_LIBC; }
const char *tether_default_key_path(void) { return TETHER_KEY_PATH; }
const char *tether_default_log_target(void) { return TETHER_LOG_TARGET; }
int tether_default_session_slots(void) { return TETHER_SESSION_SLOTS; }
int tether_default_middlebox_idle(void) { return TETHER_MIDDLEBOX_IDLE; }

int tether_random_bytes(void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != ENOSYS) return -errno;
            int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
            if (fd < 0) return -errno;
            while (len > 0) {
                n = read(fd, p, len);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) { int e = errno ? errno : EIO; close(fd); return -e; }
                p += n; len -= (size_t)n;
            }
            close(fd);
            return 0;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tether_uname_machine(char *buf, size_t len) {
    struct utsname u;
    if (uname(&u) != 0 || len == 0) return -1;
    strncpy(buf, u.machine, len - 1);
    buf[len - 1] = 0;
    return 0;
}

#if !defined(__GLIBC__)
/* Embedded Swift's runtime draws random bytes (hash seeds, SystemRandomNumberGenerator) from
 * arc4random_buf, which musl 1.2.3 does not have. Same contract: never fails. */
void arc4random_buf(void *buf, size_t len) {
    if (tether_random_bytes(buf, len) != 0) abort();
}
#endif
