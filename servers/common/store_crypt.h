/* Encryption at rest for the store (DESIGN.md section 7): AES-256-GCM
 * envelopes around model files and JSON payloads, with the keys from
 * TSA_ENCRYPTION_KEY and TSA_ENCRYPTION_KEY_PREVIOUS.
 *
 * An envelope is
 *
 *   "TSAE"  4 bytes magic
 *   0x01    format version
 *   key id  8 bytes: the first 8 bytes of SHA-256(key)
 *   nonce   12 bytes from RAND_bytes, new for every envelope
 *   ciphertext, as long as the plaintext
 *   tag     16 bytes
 *
 * The additional authenticated data is the 25-byte header followed by the
 * row identity, "<table>.<column>" NUL "<model name or row id>", so a blob
 * copied into another row (or column) fails authentication like a flipped
 * byte does. TEXT columns hold "TSAE1:" + base64 of the envelope. A value
 * without the magic (or prefix) is a plaintext row written before
 * encryption was turned on and is returned as it is.
 *
 * Internal to the store; thread-safe (a keyring is read-only once parsed). */
#ifndef TSA_SERVERS_STORE_CRYPT_H
#define TSA_SERVERS_STORE_CRYPT_H

#include <stddef.h>

#include "store.h"

/* The current key and up to 8 previous ones. */
#define STORE_MAX_KEYS 9
#define STORE_KEY_LEN 32
#define STORE_KEY_ID_LEN 8

typedef struct store_keyring {
    int has_current;  /* keys[0] is the current key (writes are encrypted) */
    size_t n;         /* keys in use, current first */
    unsigned char key[STORE_MAX_KEYS][STORE_KEY_LEN];
    unsigned char id[STORE_MAX_KEYS][STORE_KEY_ID_LEN];
} store_keyring;

/* Parses @current (NULL or "" = no current key) and @previous
 * (comma-separated, NULL or "" = none). Each key is 32 bytes written as 64
 * hex digits or 44 base64 characters. Messages name the variable
 * (TSA_ENCRYPTION_KEY, TSA_ENCRYPTION_KEY_PREVIOUS) and never the key.
 * Codes: INVALID, ERROR (OpenSSL). */
tsa_store_status store_keyring_parse(store_keyring *kr, const char *current,
                                     const char *previous, char *err);

/* Zeroes the key material. */
void store_keyring_wipe(store_keyring *kr);

/* @out receives 16 lowercase hex digits + NUL: the current key's id. */
void store_keyring_current_id(const store_keyring *kr, char out[17]);

/* Whether @p (@n bytes) starts like an envelope (binary form). */
int store_is_sealed(const void *p, size_t n);
/* Whether @text starts like an envelope (text form). */
int store_is_sealed_text(const char *text);

/* Whether the envelope at @p was written under the current key. */
int store_sealed_current(const store_keyring *kr, const void *p, size_t n);
int store_sealed_text_current(const store_keyring *kr, const char *text);

/* Encrypts @n bytes under the current key for the row @label/@row; @out
 * (malloc'ed, free()) receives the envelope. Codes: ERROR. */
tsa_store_status store_seal(const store_keyring *kr, const void *p, size_t n,
                            const char *label, const char *row, unsigned char **out,
                            size_t *out_n, char *err);

/* Decrypts an envelope of @n bytes; @out (malloc'ed, NUL-terminated, free())
 * receives the plaintext. On failure @err says why without a prefix:
 * "is encrypted but TSA_ENCRYPTION_KEY is not set", "was encrypted under
 * key id ..., which is not TSA_ENCRYPTION_KEY ...", "cannot be decrypted:
 * ...". Codes: ERROR. */
tsa_store_status store_unseal(const store_keyring *kr, const void *p, size_t n,
                              const char *label, const char *row, unsigned char **out,
                              size_t *out_n, char *err);

/* The text forms: @out is a malloc'ed NUL-terminated string. */
tsa_store_status store_seal_text(const store_keyring *kr, const char *text,
                                 const char *label, const char *row, char **out, char *err);
tsa_store_status store_unseal_text(const store_keyring *kr, const char *text,
                                   const char *label, const char *row, char **out,
                                   char *err);

#endif
