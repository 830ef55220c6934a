/* Tether's adjustments to mbedTLS 2.28's default configuration for board builds
 * (MBEDTLS_USER_CONFIG_FILE, read after include/mbedtls/config.h).
 *
 * Threading: the agent is single-threaded, but libssh's mbedTLS backend refuses to initialise
 * ("Error in auto_init()") unless mbedTLS has pthread threading when libssh found pthreads,
 * so it stays on, as in Debian's build; musl's libc.a carries pthreads.
 * Outgoing records are small (the agent sends keepalive answers and SSH packets); incoming
 * records must stay at 16 KiB unless the server honours the max fragment length extension. */
#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD
#undef MBEDTLS_SSL_OUT_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096
