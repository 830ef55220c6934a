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

/* Size: the agent is a TLS 1.2 client that offers ECDHE suites only (Sources/CShims TLS
 * suites list); libssh needs the ciphers, hashes, bignum, ECP and PK parts. Everything below
 * is unused on a board and would only add flash. */
#undef MBEDTLS_SSL_SRV_C
#undef MBEDTLS_SSL_PROTO_DTLS
#undef MBEDTLS_SSL_DTLS_ANTI_REPLAY
#undef MBEDTLS_SSL_DTLS_HELLO_VERIFY
#undef MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE
#undef MBEDTLS_SSL_DTLS_BADMAC_LIMIT
#undef MBEDTLS_SSL_DTLS_CONNECTION_ID
#undef MBEDTLS_SSL_DTLS_SRTP
#undef MBEDTLS_SSL_COOKIE_C
#undef MBEDTLS_SSL_TICKET_C
#undef MBEDTLS_SSL_CACHE_C
#undef MBEDTLS_SSL_CBC_RECORD_SPLITTING
#undef MBEDTLS_SSL_PROTO_TLS1
#undef MBEDTLS_SSL_PROTO_TLS1_1
#undef MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECJPAKE_ENABLED
#undef MBEDTLS_ECJPAKE_C
#undef MBEDTLS_CAMELLIA_C
#undef MBEDTLS_ARIA_C
#undef MBEDTLS_XTEA_C
#undef MBEDTLS_ARC4_C
#undef MBEDTLS_RIPEMD160_C
#undef MBEDTLS_PKCS12_C
#undef MBEDTLS_CCM_C
#undef MBEDTLS_CMAC_C
#undef MBEDTLS_VERSION_FEATURES
#undef MBEDTLS_SELF_TEST
#undef MBEDTLS_CERTS_C
#undef MBEDTLS_X509_CRL_PARSE_C
#undef MBEDTLS_X509_CSR_PARSE_C
#undef MBEDTLS_X509_CREATE_C
#undef MBEDTLS_X509_CRT_WRITE_C
#undef MBEDTLS_X509_CSR_WRITE_C
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_NET_C
