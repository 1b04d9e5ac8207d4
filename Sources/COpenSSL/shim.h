// The OpenSSL headers RaftKV uses, plus `static inline` functions for the macros Swift cannot
// import (function-like macros, and constants built from casts or shifts). Nothing here computes
// anything cryptographic: each function forwards to one OpenSSL call.
#ifndef RAFTKV_COPENSSL_SHIM_H
#define RAFTKV_COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

// MARK: Memory

static inline void RaftKV_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }

// MARK: BIO

static inline long RaftKV_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
static inline int RaftKV_BIO_set_mem_eof_return(BIO *bio, int value) { return (int)BIO_set_mem_eof_return(bio, value); }
static inline size_t RaftKV_BIO_ctrl_pending(BIO *bio) { return BIO_ctrl_pending(bio); }

// MARK: SSL_CTX

static inline int RaftKV_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int RaftKV_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
/// No renegotiation (TLS 1.2), no compression, the server's cipher order.
static inline void RaftKV_SSL_CTX_set_safe_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}
/// Lets SSL_write be called again with a moved buffer after a retry, and frees idle read and
/// write buffers (many mostly idle connections).
static inline void RaftKV_SSL_CTX_set_default_modes(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}
static inline int RaftKV_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
static inline int RaftKV_TLS1_3_VERSION(void) { return TLS1_3_VERSION; }

// MARK: SSL

static inline int RaftKV_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

// MARK: EVP / HMAC

/// Keys an HMAC context for SHA-256 (the digest is an OSSL_PARAM, built here rather than in Swift).
/// With `key` NULL, restarts the context with the key it already holds.
static inline int RaftKV_EVP_MAC_init_sha256(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keyLength) {
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(ctx, key, keyLength, key == NULL ? NULL : params);
}

/// A new key on the named curve (e.g. "P-256").
static inline EVP_PKEY *RaftKV_EVP_EC_gen(const char *curve) { return EVP_EC_gen(curve); }
static inline EVP_PKEY *RaftKV_EVP_RSA_gen(unsigned int bits) { return EVP_RSA_gen(bits); }

// MARK: X509

static inline unsigned long RaftKV_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
static inline void RaftKV_X509V3_set_ctx_nodb(X509V3_CTX *ctx) { X509V3_set_ctx_nodb(ctx); }

#endif
