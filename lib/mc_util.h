/*
 * mc_util: small pure helpers every module needs — time in RFC 3339, secure random
 * bytes, hex, ObjectId syntax, URL decoding, constant-time comparison, FNV-1a hashing
 * and a growable byte buffer with a hard maximum (curl's habit: exceeding the cap is an
 * error).
 */
#ifndef MC_UTIL_H
#define MC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* FNV-1a over n bytes, continuing from h (MC_FNV1A_INIT to start): the hash of the
 * processes' in-memory tables and ETags. Fast and well spread, but not keyed: not for
 * anything whose collisions an attacker must not be able to choose. */
#define MC_FNV1A_INIT 2166136261u
static inline uint32_t mc_fnv1a(uint32_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i)
        h = (h ^ b[i]) * 16777619u;
    return h;
}
/* The same over a NUL-terminated string. */
static inline uint32_t mc_fnv1a_str(uint32_t h, const char *s)
{
    for (; *s != '\0'; ++s)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t mc_now_ms(void);
/* Monotonic nanoseconds, for durations. */
uint64_t mc_mono_ns(void);

/* Writes `ms` since the epoch as RFC 3339 UTC with milliseconds, e.g.
 * "2026-11-21T19:40:00.123Z", into buf (at least MC_TIME_BUFSZ bytes). Returns buf. */
#define MC_TIME_BUFSZ 32
char *mc_time_format(int64_t ms, char *buf);
/* Parses RFC 3339 (with 'Z' or a numeric offset, optional fraction). Returns 0 and sets
 * *ms on success, -1 on malformed input. */
int mc_time_parse(const char *s, int64_t *ms);

/* Fills buf with cryptographically secure random bytes (getrandom). Aborts the process
 * if the kernel cannot supply them: running on without randomness is never safe. */
void mc_random_bytes(void *buf, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void mc_hex_encode(const void *in, size_t len, char *out);
/* Decodes exactly 2*outlen hex digits; -1 on a bad digit or length. */
int mc_hex_decode(const char *in, size_t inlen, void *out, size_t outlen);
/* Base64url without padding (JWT / token alphabet). Returns the length written;
 * out needs 4*ceil(len/3)+1 bytes. */
size_t mc_base64url_encode(const void *in, size_t len, char *out);

/* Strict base64url without padding: decodes len characters into out (capacity outcap).
 * Returns the decoded length, or -1 on a character outside the alphabet, an impossible
 * length, or output that would not fit. */
long mc_base64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap);

/* True when s is exactly 24 hex digits (a MongoDB ObjectId in its string form). */
bool mc_is_object_id(const char *s, size_t len);

/* Constant-time equality of two byte strings of the same length (false if lengths differ;
 * the length itself is not secret). */
bool mc_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Percent-decodes `in` (and '+' as space when form is true) into out (inlen+1 bytes).
 * Returns the decoded length, or -1 on a malformed escape or a decoded NUL byte. */
long mc_url_decode(const char *in, size_t inlen, char *out, bool form);

/* Turns a name into a URL slug: lower-case ASCII letters and digits separated by
 * single '-'; common Latin accents are folded, other bytes become separators. Writes at
 * most outsz-1 bytes and NUL-terminates; returns the length (0 if nothing usable). */
size_t mc_slugify(const char *in, size_t inlen, char *out, size_t outsz);

/* Growable byte buffer with a hard cap. */
typedef struct mc_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* appends that would exceed this fail */
} mc_buf_t;
void mc_buf_init(mc_buf_t *b, size_t max);
/* Appends; returns 0, or -1 (buffer unchanged) when the cap would be exceeded. */
int mc_buf_append(mc_buf_t *b, const void *p, size_t n);
int mc_buf_appendf(mc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mc_buf_free(mc_buf_t *b);

#endif
