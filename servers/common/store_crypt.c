/* AES-256-GCM envelopes for the store (the format is in store_crypt.h).
 * GCM per NIST SP 800-38D with a 96-bit random nonce and a 128-bit tag;
 * one key seals at most a few million rows in practice, far below the 2^32
 * random-nonce limit of section 8.3. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store_backend.h"
#include "store_crypt.h"

#define MAGIC "TSAE"
#define MAGIC_LEN 4
#define VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define HEADER_LEN (MAGIC_LEN + 1 + STORE_KEY_ID_LEN + NONCE_LEN) /* 25 */
#define TEXT_PREFIX "TSAE1:"
#define TEXT_PREFIX_LEN 6

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */
/* ------------------------------------------------------------------------ */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* 64 hex digits or 44 base64 characters (43 + one '=') -> 32 bytes. */
static int decode_key(const char *s, size_t len, unsigned char out[STORE_KEY_LEN])
{
    if (len == 2 * STORE_KEY_LEN) {
        for (size_t k = 0; k < STORE_KEY_LEN; k++) {
            int hi = hex_value(s[2 * k]), lo = hex_value(s[2 * k + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            out[k] = (unsigned char)(hi << 4 | lo);
        }
        return 0;
    }
    if (len == 44 && s[43] == '=') {
        for (size_t k = 0; k < 43; k++)
            if (!is_b64(s[k]))
                return -1;
        unsigned char buf[33];
        if (EVP_DecodeBlock(buf, (const unsigned char *)s, 44) != 33) {
            OPENSSL_cleanse(buf, sizeof buf);
            return -1;
        }
        memcpy(out, buf, STORE_KEY_LEN);
        OPENSSL_cleanse(buf, sizeof buf);
        return 0;
    }
    return -1;
}

static tsa_store_status add_key(store_keyring *kr, const char *var, int entry, const char *s,
                                size_t len, char *err)
{
    char where[64] = "";
    if (entry > 0)
        snprintf(where, sizeof where, " (entry %d)", entry);
    if (kr->n >= STORE_MAX_KEYS)
        return tsa_store_fail(err, TSA_STORE_INVALID, "%s: at most %d previous keys", var,
                              STORE_MAX_KEYS - 1);
    size_t k = kr->n;
    if (decode_key(s, len, kr->key[k]) != 0) {
        OPENSSL_cleanse(kr->key[k], STORE_KEY_LEN);
        return tsa_store_fail(err, TSA_STORE_INVALID,
                              "%s%s: must be 32 bytes written as 64 hex digits or 44 base64 "
                              "characters (got %zu characters)",
                              var, where, len);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(kr->key[k], STORE_KEY_LEN, md, &md_len, EVP_sha256(), NULL) != 1 ||
        md_len != 32)
        return tsa_store_fail(err, TSA_STORE_ERROR, "%s: SHA-256 failed", var);
    memcpy(kr->id[k], md, STORE_KEY_ID_LEN);
    kr->n++;
    return TSA_STORE_OK;
}

tsa_store_status store_keyring_parse(store_keyring *kr, const char *current,
                                     const char *previous, char *err)
{
    memset(kr, 0, sizeof *kr);
    tsa_store_status st = TSA_STORE_OK;
    if (current && *current) {
        st = add_key(kr, "TSA_ENCRYPTION_KEY", 0, current, strlen(current), err);
        kr->has_current = st == TSA_STORE_OK;
    }
    int entry = 0;
    for (const char *p = previous; st == TSA_STORE_OK && p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        while (len > 0 && (*q == ' ' || *q == '\t')) {
            q++;
            len--;
        }
        while (len > 0 && (q[len - 1] == ' ' || q[len - 1] == '\t'))
            len--;
        entry++;
        if (len > 0)
            st = add_key(kr, "TSA_ENCRYPTION_KEY_PREVIOUS", entry, q, len, err);
        p = end ? end + 1 : p + strlen(p);
    }
    if (st != TSA_STORE_OK)
        store_keyring_wipe(kr);
    return st;
}

void store_keyring_wipe(store_keyring *kr)
{
    OPENSSL_cleanse(kr, sizeof *kr);
    kr->n = 0;
    kr->has_current = 0;
}

void store_keyring_current_id(const store_keyring *kr, char out[17])
{
    if (!kr->has_current) {
        out[0] = '\0';
        return;
    }
    tsa_store_hex(kr->id[0], STORE_KEY_ID_LEN, out);
}

/* ------------------------------------------------------------------------ */
/* Envelopes                                                                 */
/* ------------------------------------------------------------------------ */

int store_is_sealed(const void *p, size_t n)
{
    return p && n >= MAGIC_LEN && memcmp(p, MAGIC, MAGIC_LEN) == 0;
}

int store_is_sealed_text(const char *text)
{
    return text && strncmp(text, TEXT_PREFIX, TEXT_PREFIX_LEN) == 0;
}

int store_sealed_current(const store_keyring *kr, const void *p, size_t n)
{
    const unsigned char *b = p;
    return kr->has_current && store_is_sealed(p, n) && n >= HEADER_LEN + TAG_LEN &&
           b[MAGIC_LEN] == VERSION &&
           memcmp(b + MAGIC_LEN + 1, kr->id[0], STORE_KEY_ID_LEN) == 0;
}

/* Feeds the header and the row identity as AAD. */
static int put_aad(EVP_CIPHER_CTX *c, const unsigned char *header, const char *label,
                   const char *row)
{
    int len;
    static const unsigned char nul = 0;
    return EVP_CipherUpdate(c, NULL, &len, header, HEADER_LEN) == 1 &&
           EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)label, (int)strlen(label)) ==
               1 &&
           EVP_CipherUpdate(c, NULL, &len, &nul, 1) == 1 &&
           EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)row, (int)strlen(row)) == 1;
}

/* EVP_CipherUpdate takes int lengths: large blobs go in chunks. */
static int crypt_chunks(EVP_CIPHER_CTX *c, const unsigned char *in, size_t n, unsigned char *out)
{
    const size_t chunk = (size_t)1 << 30;
    while (n > 0) {
        int len = 0, step = (int)(n < chunk ? n : chunk);
        if (EVP_CipherUpdate(c, out, &len, in, step) != 1 || len != step)
            return -1;
        in += step;
        out += step;
        n -= (size_t)step;
    }
    return 0;
}

tsa_store_status store_seal(const store_keyring *kr, const void *p, size_t n,
                            const char *label, const char *row, unsigned char **out,
                            size_t *out_n, char *err)
{
    if (!kr->has_current)
        return tsa_store_fail(err, TSA_STORE_ERROR, "no encryption key");
    unsigned char *buf = malloc(HEADER_LEN + n + TAG_LEN);
    if (!buf)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    memcpy(buf, MAGIC, MAGIC_LEN);
    buf[MAGIC_LEN] = VERSION;
    memcpy(buf + MAGIC_LEN + 1, kr->id[0], STORE_KEY_ID_LEN);
    unsigned char *nonce = buf + MAGIC_LEN + 1 + STORE_KEY_ID_LEN;
    if (RAND_bytes(nonce, NONCE_LEN) != 1) {
        free(buf);
        return tsa_store_fail(err, TSA_STORE_ERROR, "no random bytes for a nonce");
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0;
    int ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
             EVP_EncryptInit_ex(c, NULL, NULL, kr->key[0], nonce) == 1 &&
             put_aad(c, buf, label, row) &&
             crypt_chunks(c, p, n, buf + HEADER_LEN) == 0 &&
             EVP_EncryptFinal_ex(c, buf + HEADER_LEN + n, &len) == 1 && len == 0 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + HEADER_LEN + n) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        free(buf);
        return tsa_store_fail(err, TSA_STORE_ERROR, "AES-256-GCM encryption failed");
    }
    *out = buf;
    *out_n = HEADER_LEN + n + TAG_LEN;
    return TSA_STORE_OK;
}

tsa_store_status store_unseal(const store_keyring *kr, const void *p, size_t n,
                              const char *label, const char *row, unsigned char **out,
                              size_t *out_n, char *err)
{
    const unsigned char *b = p;
    if (!store_is_sealed(p, n) || n < HEADER_LEN + TAG_LEN)
        return tsa_store_fail(err, TSA_STORE_ERROR,
                              "is not a complete encrypted value (%zu bytes)", n);
    if (b[MAGIC_LEN] != VERSION)
        return tsa_store_fail(err, TSA_STORE_ERROR,
                              "uses encryption format version %d, which this build does not read",
                              b[MAGIC_LEN]);
    if (kr->n == 0)
        return tsa_store_fail(err, TSA_STORE_ERROR,
                              "is encrypted, but TSA_ENCRYPTION_KEY is not set");
    const unsigned char *id = b + MAGIC_LEN + 1;
    size_t k = 0;
    while (k < kr->n && memcmp(kr->id[k], id, STORE_KEY_ID_LEN) != 0)
        k++;
    if (k == kr->n) {
        char hid[17];
        tsa_store_hex(id, STORE_KEY_ID_LEN, hid);
        return tsa_store_fail(err, TSA_STORE_ERROR,
                              "was encrypted under key id %s, which is neither "
                              "TSA_ENCRYPTION_KEY nor in TSA_ENCRYPTION_KEY_PREVIOUS (the key "
                              "does not match)",
                              hid);
    }
    size_t len = n - HEADER_LEN - TAG_LEN;
    unsigned char *buf = malloc(len + 1);
    if (!buf)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int fin = 0;
    int ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
             EVP_DecryptInit_ex(c, NULL, NULL, kr->key[k], b + MAGIC_LEN + 1 + STORE_KEY_ID_LEN) ==
                 1 &&
             put_aad(c, b, label, row) && crypt_chunks(c, b + HEADER_LEN, len, buf) == 0 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                                 (void *)(b + HEADER_LEN + len)) == 1 &&
             EVP_DecryptFinal_ex(c, buf + len, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        /* Nothing of an unauthenticated plaintext leaves this function. */
        OPENSSL_cleanse(buf, len);
        free(buf);
        return tsa_store_fail(err, TSA_STORE_ERROR,
                              "cannot be decrypted: authentication failed (the key does not "
                              "match, or the stored value was altered or belongs to another row)");
    }
    buf[len] = '\0';
    *out = buf;
    *out_n = len;
    return TSA_STORE_OK;
}

int store_sealed_text_current(const store_keyring *kr, const char *text)
{
    if (!kr->has_current || !store_is_sealed_text(text))
        return 0;
    /* The key id sits in bytes 5..12 of the envelope: base64 characters
     * 0..19 carry bytes 0..14. */
    const char *b64 = text + TEXT_PREFIX_LEN;
    if (strlen(b64) < 20)
        return 0;
    unsigned char head[15];
    if (EVP_DecodeBlock(head, (const unsigned char *)b64, 20) != 15)
        return 0;
    return head[MAGIC_LEN] == VERSION &&
           memcmp(head + MAGIC_LEN + 1, kr->id[0], STORE_KEY_ID_LEN) == 0;
}

tsa_store_status store_seal_text(const store_keyring *kr, const char *text,
                                 const char *label, const char *row, char **out, char *err)
{
    unsigned char *env = NULL;
    size_t n = 0;
    tsa_store_status st = store_seal(kr, text, strlen(text), label, row, &env, &n, err);
    if (st != TSA_STORE_OK)
        return st;
    size_t cap = TEXT_PREFIX_LEN + 4 * ((n + 2) / 3) + 1;
    char *s = malloc(cap);
    if (!s) {
        free(env);
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    }
    memcpy(s, TEXT_PREFIX, TEXT_PREFIX_LEN);
    EVP_EncodeBlock((unsigned char *)s + TEXT_PREFIX_LEN, env, (int)n);
    free(env);
    *out = s;
    return TSA_STORE_OK;
}

tsa_store_status store_unseal_text(const store_keyring *kr, const char *text,
                                   const char *label, const char *row, char **out,
                                   char *err)
{
    const char *b64 = text + TEXT_PREFIX_LEN;
    size_t len = strlen(b64);
    if (len % 4 != 0 || len < 4)
        return tsa_store_fail(err, TSA_STORE_ERROR,
                              "is not a complete encrypted value (%zu base64 characters)", len);
    unsigned char *env = malloc(len / 4 * 3 + 1);
    if (!env)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    int n = EVP_DecodeBlock(env, (const unsigned char *)b64, (int)len);
    if (n < 0) {
        free(env);
        return tsa_store_fail(err, TSA_STORE_ERROR,
                              "is not a complete encrypted value (bad base64)");
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    size_t bytes = (size_t)n;
    if (b64[len - 1] == '=')
        bytes--;
    if (b64[len - 2] == '=')
        bytes--;
    unsigned char *plain = NULL;
    size_t plain_n = 0;
    tsa_store_status st = store_unseal(kr, env, bytes, label, row, &plain, &plain_n, err);
    free(env);
    if (st != TSA_STORE_OK)
        return st;
    if (memchr(plain, '\0', plain_n)) {
        free(plain);
        return tsa_store_fail(err, TSA_STORE_ERROR, "decrypts to text with a NUL byte");
    }
    *out = (char *)plain;
    return TSA_STORE_OK;
}
