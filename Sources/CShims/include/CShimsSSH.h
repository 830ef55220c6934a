// C helpers for the SSH service (TetherSSH): libssh accessors that 0.10 marks deprecated (the
// message API is the one that lets a single-threaded server answer later), crypt(3), ptys and
// the child side of fork/exec, which must run async-signal-safe C between fork and exec.
#ifndef TETHER_CSHIMS_SSH_H
#define TETHER_CSHIMS_SSH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// libssh handles as incomplete structs (Swift sees OpaquePointer, the same as through CLibSSH);
// libssh's headers stay out of this module so that they are imported by CLibSSH only.
struct ssh_message_struct;
struct ssh_key_struct;
typedef struct ssh_message_struct *tether_ssh_message;
typedef struct ssh_key_struct *tether_ssh_key;
struct ssh_channel_struct;
typedef struct ssh_channel_struct *tether_ssh_channel;
struct ssh_session_struct;
typedef struct ssh_session_struct *tether_ssh_session;

#ifdef __cplusplus
extern "C" {
#endif

// --- libssh message accessors (deprecated in 0.10, still the only non-callback route) ---
const char *tether_ssh_msg_auth_password(tether_ssh_message msg);
tether_ssh_key tether_ssh_msg_auth_pubkey(tether_ssh_message msg);
/// SSH_PUBLICKEY_STATE_NONE (query), _VALID (signature checked by libssh), _WRONG.
int tether_ssh_msg_auth_pubkey_state(tether_ssh_message msg);
const char *tether_ssh_msg_pty_term(tether_ssh_message msg);
int tether_ssh_msg_pty_width(tether_ssh_message msg);
int tether_ssh_msg_pty_height(tether_ssh_message msg);
int tether_ssh_msg_pty_pxwidth(tether_ssh_message msg);
int tether_ssh_msg_pty_pxheight(tether_ssh_message msg);
/// Base64 of a public key's wire blob into `out` (NUL-terminated). Returns 0, or -1.
int tether_ssh_key_base64(tether_ssh_key key, char *out, size_t cap);
/// Agent forwarding: libssh 0.10 reports `auth-agent-req@openssh.com` only through a channel
/// callback. This installs one (ssh_callbacks_init done here: it is a macro) and returns a
/// watch to poll with tether_ssh_agent_requested; remove it before freeing the channel.
void *tether_ssh_watch_agent_request(tether_ssh_channel channel);
int tether_ssh_agent_requested(void *watch);
void tether_ssh_unwatch_agent_request(tether_ssh_channel channel, void *watch);
/// libssh log level for the whole process (0 = none ... 4 = functions).
void tether_ssh_set_log_level(int level);
/// One keepalive@openssh.com (want_reply 1) unless the previous one's reply has not come yet:
/// collects that reply first. Returns 1 when a request went out, 0 when it still waits.
int tether_ssh_keepalive(tether_ssh_session session);

// --- crypt(3) ---
/// Hashes `key` with the method and salt in `setting` (a full shadow hash works). Writes the
/// NUL-terminated result to `out`. Returns 0, or -1 when the method is unsupported.
int tether_crypt(const char *key, const char *setting, char *out, size_t cap);
/// 1 when crypt(3) knows the method of `setting` (crypt_checksalt; without libxcrypt always 1,
/// and the child below answers "unsupported" instead). Cheap: no hashing.
int tether_crypt_supported(const char *setting);
/// crypt_r(key, hash) in a forked child (closes every fd but stdio and its pipe, lowest
/// priority), compared in constant time with `hash` there (a `decoy` never matches); the child
/// writes one byte and _exits. Returns the parent's read end (non-blocking, close-on-exec) and
/// the pid in *pid, or -errno.
int tether_crypt_start(const char *key, const char *hash, int decoy, int *pid);
/// The child's answer: TETHER_CRYPT_WAIT while it computes (nothing changed), else the fd is
/// closed, the child killed if it did not answer (or `give_up`) and reaped if it already
/// ended (*reaped 1; 0: waitpid it later).
int tether_crypt_finish(int fd, int pid, int give_up, int *reaped);
enum { TETHER_CRYPT_WAIT = -1, TETHER_CRYPT_MISMATCH = 0, TETHER_CRYPT_MATCH = 1,
       TETHER_CRYPT_UNSUPPORTED = 2, TETHER_CRYPT_NO_ANSWER = 3 };

// --- fds, ptys, processes ---
// (tether_set_nonblocking, tether_set_cloexec, tether_socket_error and tether_ignore_sigpipe
// come from CShims.h.)
/// open(path, O_RDONLY|O_CLOEXEC) (open is variadic, so Swift cannot call it). fd or -errno.
int tether_open_read(const char *path);
/// open(path, flags, mode) for the built-in SFTP server. fd or -errno.
int tether_open_mode(const char *path, int flags, unsigned mode);
/// opendir/closedir (dirent.h stays out of the Swift surface).
void *tether_opendir(const char *path);
void tether_closedir(void *dir);
/// rename(2) (stdio.h is not part of the shim surface).
int tether_rename(const char *from, const char *to);
/// utimes(2) with whole seconds; `fd` >= 0 uses futimens on it instead of the path.
int tether_set_times(const char *path, int fd, int64_t atime, int64_t mtime);
/// Name of a directory entry from readdir(3) on a DIR* (NULL at the end or on error).
const char *tether_readdir_name(void *dir);
/// pipe2(O_CLOEXEC); `nonblock_end` (0, 1 or -1 for none) is made non-blocking. 0 or -errno.
int tether_pipe(int fds[2], int nonblock_end);
/// A pty pair; the master is non-blocking and close-on-exec. Returns 0 or -errno.
int tether_openpty(int *master, int *slave, int rows, int cols);
/// TIOCSWINSZ on a pty master. Returns 0 or -errno.
int tether_set_winsize(int fd, int rows, int cols, int pxwidth, int pxheight);
/// Path of a pty master's slave ("/dev/pts/3") into `out`. 0 or -errno.
int tether_ptsname(int master, char *out, size_t cap);
/// One login (`login` = 1) or logout record for `tty` ("/dev/pts/3") in glibc's utmp format,
/// which every Linux `who`/`last` reads: the utmp slot of that line is replaced (or appended)
/// and a record appended to wtmp. Files that do not exist are left alone (boards without
/// them); NULL skips one. Returns 0, or -errno of the first failure.
int tether_utmp_record(const char *utmp_path, const char *wtmp_path, int login, pid_t pid,
                       const char *tty, const char *user, const char *host);
/// pidfd_open(2): a fd that polls readable when the child exits; -errno when unsupported.
int tether_pidfd_open(pid_t pid);

/// What the child does between fork and exec.
struct tether_spawn {
    const char *path;            // program to exec
    char *const *argv;           // NULL-terminated
    char *const *envp;           // NULL-terminated
    const char *home;            // chdir target ("/" when it fails)
    const char *user;            // for initgroups when dropping privileges
    uid_t uid;
    gid_t gid;
    int drop_privileges;         // 1: initgroups, setgid, setuid before exec
    int pty_slave;               // >= 0: new session, controlling tty, stdio on it
    int stdin_fd, stdout_fd, stderr_fd; // used when pty_slave < 0
    int close_from;              // close every fd >= this in the child (after dup2)
};
/// fork + (child: setsid, tty, stdio, privileges, chdir, exec; exit 127 on failure).
/// Returns the child's pid or -errno.
pid_t tether_spawn(const struct tether_spawn *spec);
/// waitpid(WNOHANG). Returns 0 while running, pid when reaped (status in *code: exit code, or
/// 128 + signal), -errno on error.
pid_t tether_ssh_reap(pid_t pid, int *code);

// --- sockets for direct-tcpip and the debug listener ---
/// Starts a non-blocking TCP connect to host:port (numeric address, "localhost", or a name
/// resolved with getaddrinfo, which blocks). Returns the fd (connect maybe in progress) or -errno.
int tether_tcp_connect_start(const char *host, int port);
/// A listening, non-blocking TCP socket on addr:port (IPv4). Returns the fd or -errno.
int tether_tcp_listen(const char *addr, int port, int backlog);
/// socketpair(AF_UNIX, SOCK_STREAM), both ends non-blocking and close-on-exec, with SO_SNDBUF
/// and SO_RCVBUF set to `bufsize` when > 0 (bounded memory per session slot). 0 or -errno.
int tether_socketpair_stream(int fds[2], int bufsize);
/// A listening, non-blocking Unix stream socket at `path` (mode 0600). fd or -errno.
int tether_unix_listen(const char *path);
/// accept4(SOCK_NONBLOCK|SOCK_CLOEXEC); peer address as text into `peer`. Returns fd or -errno.
int tether_tcp_accept(int listen_fd, char *peer, size_t cap);

#ifdef __cplusplus
}
#endif
/// 1 when this build can sign with Ed25519 host keys; 0 on board builds, which leave libssh's
/// Ed25519 code out (see ssh_shims.c).
int tether_ssh_signs_ed25519(void);

#endif
