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
/* Second round (size aim of 1.0 MiB). Ciphers and modes: cipher_wrap.c's table references every
 * enabled cipher, so an enabled cipher is linked whether used or not. SSH offers AES-GCM,
 * ChaCha20-Poly1305 and AES-CTR (TetherSSH SSHAlgorithms), TLS offers AEAD suites only, so DES
 * (libssh's 3des-cbc), Blowfish, and the CFB/OFB/XTS modes and CBC paddings go; libssh finds
 * those ciphers missing only if a client insists on one, and then fails that key exchange.
 * CBC itself stays: libssh's mbedTLS backend calls mbedtls_cipher_set_padding_mode, which
 * exists only with it. */
#undef MBEDTLS_DES_C
#undef MBEDTLS_BLOWFISH_C
#undef MBEDTLS_CIPHER_MODE_CFB
#undef MBEDTLS_CIPHER_MODE_OFB
#undef MBEDTLS_CIPHER_MODE_XTS
#undef MBEDTLS_CIPHER_PADDING_PKCS7
#undef MBEDTLS_CIPHER_PADDING_ONE_AND_ZEROS
#undef MBEDTLS_CIPHER_PADDING_ZEROS_AND_LEN
#undef MBEDTLS_CIPHER_PADDING_ZEROS
#undef MBEDTLS_SSL_ENCRYPT_THEN_MAC
/* Curves: TLS and SSH use X25519 and NIST P-256/384/521; the others are never offered. */
#undef MBEDTLS_ECP_DP_SECP192R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP192K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP256K1_ENABLED
#undef MBEDTLS_ECP_DP_BP256R1_ENABLED
#undef MBEDTLS_ECP_DP_BP384R1_ENABLED
#undef MBEDTLS_ECP_DP_BP512R1_ENABLED
#undef MBEDTLS_ECP_DP_CURVE448_ENABLED
/* Nothing in Tether sets a debug callback (MBEDTLS_DEBUG_C keeps every debug string); keys are
 * unencrypted PEM (no PKCS#5); no ALPN, no SCSV fallback, no truncated HMAC. */
#undef MBEDTLS_DEBUG_C
#undef MBEDTLS_PKCS5_C
#undef MBEDTLS_SSL_ALPN
#undef MBEDTLS_SSL_FALLBACK_SCSV
#undef MBEDTLS_SSL_TRUNCATED_HMAC
#undef MBEDTLS_SSL_CONTEXT_SERIALIZATION
