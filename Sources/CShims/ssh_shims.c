// Shims for TetherSSH; see include/CShimsSSH.h. The child side of tether_spawn runs between
// fork and exec, so it calls only async-signal-safe functions (plus initgroups, which reads
// /etc/group: acceptable in a single-threaded parent).
#define _GNU_SOURCE
#include "CShims.h"
#include "CShimsSSH.h"

#include <crypt.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

const char *tether_ssh_msg_auth_password(tether_ssh_message msg) { return ssh_message_auth_password(msg); }
tether_ssh_key tether_ssh_msg_auth_pubkey(tether_ssh_message msg) { return ssh_message_auth_pubkey(msg); }
int tether_ssh_msg_auth_pubkey_state(tether_ssh_message msg) { return (int)ssh_message_auth_publickey_state(msg); }
const char *tether_ssh_msg_pty_term(tether_ssh_message msg) { return ssh_message_channel_request_pty_term(msg); }
int tether_ssh_msg_pty_width(tether_ssh_message msg) { return ssh_message_channel_request_pty_width(msg); }
int tether_ssh_msg_pty_height(tether_ssh_message msg) { return ssh_message_channel_request_pty_height(msg); }
int tether_ssh_msg_pty_pxwidth(tether_ssh_message msg) { return ssh_message_channel_request_pty_pxwidth(msg); }
int tether_ssh_msg_pty_pxheight(tether_ssh_message msg) { return ssh_message_channel_request_pty_pxheight(msg); }

int tether_ssh_key_base64(tether_ssh_key key, char *out, size_t cap) {
    char *b64 = NULL;
    if (key == NULL || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK || b64 == NULL) return -1;
    int rc = -1;
    if (strlen(b64) < cap) {
        strcpy(out, b64);
        rc = 0;
    }
    ssh_string_free_char(b64);
    return rc;
}

struct agent_watch {
    struct ssh_channel_callbacks_struct cb;
    int requested;
};

static void on_auth_agent_req(ssh_session session, ssh_channel channel, void *userdata) {
    (void)session;
    (void)channel;
    ((struct agent_watch *)userdata)->requested = 1;
}

void *tether_ssh_watch_agent_request(tether_ssh_channel channel) {
    struct agent_watch *w = calloc(1, sizeof(*w));
    if (w == NULL) return NULL;
    ssh_callbacks_init(&w->cb);
    w->cb.userdata = w;
    w->cb.channel_auth_agent_req_function = on_auth_agent_req;
    if (ssh_set_channel_callbacks(channel, &w->cb) != SSH_OK) {
        free(w);
        return NULL;
    }
    return w;
}

int tether_ssh_agent_requested(void *watch) {
    return watch != NULL && ((struct agent_watch *)watch)->requested;
}

void tether_ssh_unwatch_agent_request(tether_ssh_channel channel, void *watch) {
    if (watch == NULL) return;
    if (channel != NULL) (void)ssh_remove_channel_callbacks(channel, &((struct agent_watch *)watch)->cb);
    free(watch);
}

// libssh logs through one callback per thread (ours is single-threaded). Lines at or under the
// configured level go to stderr as libssh's own would; during tether_ssh_keepalive the level is
// raised to SSH_LOG_PACKET only to learn whether a call sent its request.
static int tether_ssh_level;
static int tether_ssh_watching_send;
static int tether_ssh_saw_send;

static void tether_ssh_log(int priority, const char *function, const char *buffer, void *userdata) {
    (void)function;
    (void)userdata;
    if (tether_ssh_watching_send && strstr(buffer, "Sent a SSH_MSG_GLOBAL_REQUEST") != NULL)
        tether_ssh_saw_send = 1;
    if (priority <= tether_ssh_level) fprintf(stderr, "libssh[%d] %s\n", priority, buffer);
}

void tether_ssh_set_log_level(int level) {
    tether_ssh_level = level;
    (void)ssh_set_log_callback(tether_ssh_log);
    (void)ssh_set_log_level(level);
}

int tether_ssh_keepalive(tether_ssh_session session) {
    // ssh_send_keepalive keeps one global request pending per session and hides its result:
    // a call sends only when nothing is pending, otherwise it collects (or keeps waiting for)
    // the earlier reply and sends nothing. Its reply can come back within the very call that
    // sent it, so "call twice" can send twice; the first call's log line says whether it sent.
    if (ssh_get_log_callback() != tether_ssh_log) (void)ssh_set_log_callback(tether_ssh_log);
    tether_ssh_watching_send = 1;
    tether_ssh_saw_send = 0;
    (void)ssh_set_log_level(SSH_LOG_PACKET);
    (void)ssh_send_keepalive(session);
    int sent = tether_ssh_saw_send;
    if (!sent) {
        (void)ssh_send_keepalive(session);
        sent = tether_ssh_saw_send;
    }
    (void)ssh_set_log_level(tether_ssh_level);
    tether_ssh_watching_send = 0;
    return sent;
}

int tether_crypt(const char *key, const char *setting, char *out, size_t cap) {
    // struct crypt_data is ~32 KiB with libxcrypt: heap, not stack, and zeroed as required.
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (data == NULL) return -1;
    const char *res = crypt_r(key, setting, data);
    int rc = -1;
    // libxcrypt returns a string starting with '*' on failure instead of NULL.
    if (res != NULL && res[0] != '*' && strlen(res) < cap) {
        strcpy(out, res);
        rc = 0;
    }
    explicit_bzero(data, sizeof(*data));
    free(data);
    return rc;
}

int tether_crypt_supported(const char *setting) {
#ifdef CRYPT_SALT_OK
    int r = crypt_checksalt(setting);
    return r != CRYPT_SALT_INVALID && r != CRYPT_SALT_METHOD_DISABLED;
#else
    (void)setting;
    return 1;
#endif
}

// Both NUL-terminated. No exit before the shorter string ends, so the time taken tells its
// length only (fixed for a scheme), not how many bytes matched; a longer string differs at the
// other's NUL, so lengths any distance apart never compare equal.
static int equal_ct(const char *a, const char *b) {
    unsigned diff = 0;
    for (size_t i = 0;; i++) {
        diff |= (unsigned char)(a[i] ^ b[i]);
        if (a[i] == '\0' || b[i] == '\0') break;
    }
    return diff == 0;
}

int tether_crypt_start(const char *key, const char *hash, int decoy, int *pid) {
    int fds[2];
    pid_t child = tether_fork_piped(fds, O_CLOEXEC | O_NONBLOCK);
    if (child < 0) return child;
    if (child == 0) {
        // The lowest priority (never above the agent's): on a one-core board a burst of tries
        // yields the CPU to the agent's loop.
        (void)setpriority(PRIO_PROCESS, 0, 19);
        char buf[512];
        char r = 'u';
        if (tether_crypt(key, hash, buf, sizeof(buf)) == 0) {
            r = !decoy && equal_ct(buf, hash) ? 'y' : 'n';
            explicit_bzero(buf, sizeof(buf));
        }
        (void)write(fds[1], &r, 1);
        _exit(0);
    }
    close(fds[1]);
    *pid = (int)child;
    return fds[0];
}

int tether_crypt_finish(int fd, int pid, int give_up, int *reaped) {
    int rc = TETHER_CRYPT_NO_ANSWER;
    if (!give_up) {
        unsigned char r = 0;
        ssize_t n;
        do { n = read(fd, &r, 1); } while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return TETHER_CRYPT_WAIT;
        if (n == 1 && r == 'y') rc = TETHER_CRYPT_MATCH;
        if (n == 1 && r == 'n') rc = TETHER_CRYPT_MISMATCH;
        if (n == 1 && r == 'u') rc = TETHER_CRYPT_UNSUPPORTED;
    }
    close(fd);
    // Not reaped yet, so the pid cannot belong to another process.
    if (rc == TETHER_CRYPT_NO_ANSWER) (void)kill((pid_t)pid, SIGKILL);
    int status;
    pid_t w;
    do { w = waitpid((pid_t)pid, &status, WNOHANG); } while (w < 0 && errno == EINTR);
    *reaped = w != 0;
    return rc;
}

int tether_open_read(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int tether_open_mode(const char *path, int flags, unsigned mode) {
    int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
    return fd < 0 ? -errno : fd;
}

void *tether_opendir(const char *path) { return opendir(path); }
void tether_closedir(void *dir) { if (dir != NULL) closedir((DIR *)dir); }
int tether_rename(const char *from, const char *to) { return rename(from, to) == 0 ? 0 : -errno; }

int tether_set_times(const char *path, int fd, int64_t atime, int64_t mtime) {
    struct timespec ts[2] = { { .tv_sec = (time_t)atime }, { .tv_sec = (time_t)mtime } };
    int rc = fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, path, ts, 0);
    return rc == 0 ? 0 : -errno;
}

const char *tether_readdir_name(void *dir) {
    struct dirent *e = readdir((DIR *)dir);
    return e == NULL ? NULL : e->d_name;
}

int tether_openpty(int *master, int *slave, int rows, int cols) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    if (grantpt(m) != 0 || unlockpt(m) != 0) { int e = errno; close(m); return -e; }
    char name[128];
    if (ptsname_r(m, name, sizeof(name)) != 0) { int e = errno; close(m); return -e; }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) { int e = errno; close(m); return -e; }
    struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
    (void)ioctl(m, TIOCSWINSZ, &ws);
    if (tether_set_nonblocking(m) != 0) { int e = errno; close(m); close(s); return -e; }
    *master = m;
    *slave = s;
    return 0;
}

int tether_set_winsize(int fd, int rows, int cols, int pxwidth, int pxheight) {
    struct winsize ws = {
        .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols,
        .ws_xpixel = (unsigned short)pxwidth, .ws_ypixel = (unsigned short)pxheight,
    };
    return ioctl(fd, TIOCSWINSZ, &ws) == 0 ? 0 : -errno;
}

int tether_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return -errno;
    (void)tether_set_cloexec((int)fd);
    return (int)fd;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

static void child_fail(void) { _exit(127); }

pid_t tether_spawn(const struct tether_spawn *s) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid > 0) return pid;

    // Child. Signals the agent ignores or handles must be default again for the program.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) (void)sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    if (setsid() < 0) child_fail();
    if (s->pty_slave >= 0) {
        if (ioctl(s->pty_slave, TIOCSCTTY, 0) < 0) child_fail();
        if (dup2(s->pty_slave, 0) < 0 || dup2(s->pty_slave, 1) < 0 || dup2(s->pty_slave, 2) < 0)
            child_fail();
    } else {
        if (dup2(s->stdin_fd, 0) < 0 || dup2(s->stdout_fd, 1) < 0 || dup2(s->stderr_fd, 2) < 0)
            child_fail();
    }
    // stdio must be blocking for ordinary programs (the pipe ends we hand out are fresh, but be
    // sure: O_NONBLOCK lives on the open file description).
    for (int fd = 0; fd <= 2; fd++) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    // Every inherited fd above stdio, whatever its number (the agent's tables may hold more
    // than 1024 with many slots).
    tether_close_fds(s->close_from > 3 ? (unsigned)s->close_from : 3u, ~0u);

    if (s->drop_privileges) {
        if (initgroups(s->user, s->gid) != 0) child_fail();
        if (setgid(s->gid) != 0) child_fail();
        if (setuid(s->uid) != 0) child_fail();
        if (setuid(0) == 0 && s->uid != 0) child_fail(); // privileges must not come back
    }
    if (s->home == NULL || chdir(s->home) != 0) (void)chdir("/");
    execve(s->path, s->argv, s->envp);
    child_fail();
    return -1;
}

pid_t tether_ssh_reap(pid_t pid, int *code) {
    int status = 0;
    pid_t r;
    do { r = waitpid(pid, &status, WNOHANG); } while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    if (r == 0) return 0;
    if (WIFEXITED(status)) *code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) *code = 128 + WTERMSIG(status);
    else *code = 1;
    return r;
}

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

static int connect_addr(const struct sockaddr *sa, socklen_t len) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int tether_tcp_connect_start(const char *host, int port) {
    if (port <= 0 || port > 65535) return -EINVAL;
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof(v4));
    v4.sin_family = AF_INET;
    v4.sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1)
        return connect_addr((struct sockaddr *)&v4, sizeof(v4));
    struct sockaddr_in6 v6;
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1)
        return connect_addr((struct sockaddr *)&v6, sizeof(v6));
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL) return -EHOSTUNREACH;
    int fd = connect_addr(res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return fd;
}

int tether_tcp_listen(const char *addr, int port, int backlog) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int tether_tcp_accept(int listen_fd, char *peer, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return -errno;
    if (peer != NULL && cap > 0) {
        peer[0] = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
            snprintf(peer, cap, "%s %d", ip, ntohs(a->sin_port));
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int tether_pipe(int fds[2], int nonblock_end) {
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    if (nonblock_end == 0 || nonblock_end == 1) (void)tether_set_nonblocking(fds[nonblock_end]);
    return 0;
}

int tether_socketpair_stream(int fds[2], int bufsize) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return -errno;
    if (bufsize > 0) {
        for (int i = 0; i < 2; i++) {
            (void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
            (void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
        }
    }
    return 0;
}

int tether_ptsname(int master, char *out, size_t cap) {
    return ptsname_r(master, out, cap) == 0 ? 0 : -errno;
}

// glibc's struct utmp (384 bytes, 32-bit times on every Linux ABI that has utmp files). musl's
// own utmp functions are stubs, so the record is written here byte for byte.
struct utmp_record {
    int16_t type;
    int16_t pad;
    int32_t pid;
    char line[32];
    char id[4];
    char user[32];
    char host[256];
    int16_t exit_termination;
    int16_t exit_status;
    int32_t session;
    int32_t tv_sec;
    int32_t tv_usec;
    int32_t addr_v6[4];
    char unused[20];
};
_Static_assert(sizeof(struct utmp_record) == 384, "utmp record layout");

enum { UTMP_USER_PROCESS = 7, UTMP_DEAD_PROCESS = 8 };

static void copy_field(char *dst, size_t cap, const char *src) {
    memset(dst, 0, cap);
    if (src != NULL) strncpy(dst, src, cap);  // utmp fields are not NUL-terminated when full
}

int tether_utmp_record(const char *utmp_path, const char *wtmp_path, int login, pid_t pid,
                       const char *tty, const char *user, const char *host) {
    struct utmp_record r;
    memset(&r, 0, sizeof(r));
    const char *line = strncmp(tty, "/dev/", 5) == 0 ? tty + 5 : tty;
    size_t len = strlen(line);
    r.type = login ? UTMP_USER_PROCESS : UTMP_DEAD_PROCESS;
    r.pid = (int32_t)pid;
    copy_field(r.line, sizeof(r.line), line);
    // As OpenSSH: the id is the last four characters of the line ("ts/3").
    copy_field(r.id, sizeof(r.id), len > 4 ? line + len - 4 : line);
    if (login) {
        copy_field(r.user, sizeof(r.user), user);
        copy_field(r.host, sizeof(r.host), host);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    r.tv_sec = (int32_t)now.tv_sec;
    r.tv_usec = (int32_t)(now.tv_nsec / 1000);
    r.session = (int32_t)pid;

    int rc = 0;
    if (utmp_path != NULL) {
        int fd = open(utmp_path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            struct utmp_record cur;
            off_t slot = -1, free_slot = -1, off = 0;
            while (pread(fd, &cur, sizeof(cur), off) == (ssize_t)sizeof(cur)) {
                if (memcmp(cur.id, r.id, sizeof(r.id)) == 0 && (cur.type == UTMP_USER_PROCESS ||
                        cur.type == UTMP_DEAD_PROCESS || cur.type == 6 /* LOGIN */)) {
                    slot = off;
                    break;
                }
                if (free_slot < 0 && cur.type == 0) free_slot = off;
                off += (off_t)sizeof(cur);
            }
            if (slot < 0) slot = free_slot >= 0 ? free_slot : off;
            if (pwrite(fd, &r, sizeof(r), slot) != (ssize_t)sizeof(r)) rc = -errno;
            close(fd);
        }
    }
    if (wtmp_path != NULL) {
        int fd = open(wtmp_path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r) && rc == 0) rc = -errno;
            close(fd);
        }
    }
    return rc;
}

#include <sys/un.h>

int tether_unix_listen(const char *path) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || listen(fd, 8) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

#ifndef TETHER_BOARD
int tether_ssh_signs_ed25519(void) { return 1; }
#else
int tether_ssh_signs_ed25519(void) { return 0; }

// Board builds link libssh with `--wrap` on its three Ed25519 entry points (cross/build.sh), so
// its Ed25519 code and the 109 KB base-point table it drags in are left out of the binary.
// Nothing is lost: the host key is the device's RSA key (PROTOCOL.md 7.2) and user keys must be
// RSA anyway (ShellHub's gateway logs in with a minted RSA key, 7.1; SSHServerConnection refuses
// any other type). Should libssh reach one of these, it gets the failure its callers handle.
int __wrap_crypto_sign_ed25519_keypair(unsigned char *pk, unsigned char *sk) {
    (void)pk; (void)sk;
    return -1;
}
int __wrap_crypto_sign_ed25519(unsigned char *sm, unsigned long long *smlen,
                               const unsigned char *m, unsigned long long mlen,
                               const unsigned char *sk) {
    (void)sm; (void)m; (void)mlen; (void)sk;
    if (smlen) *smlen = 0;
    return -1;
}
int __wrap_crypto_sign_ed25519_open(unsigned char *m, unsigned long long *mlen,
                                    const unsigned char *sm, unsigned long long smlen,
                                    const unsigned char *pk) {
    (void)m; (void)sm; (void)smlen; (void)pk;
    if (mlen) *mlen = 0;
    return -1;
}
#endif
