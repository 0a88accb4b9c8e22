/*
 * Implementation of mc_trace.h.
 *
 * Ids come from a per-thread xoshiro256** generator seeded from the kernel's random
 * source on first use: trace and span ids must be unique, not secret, and a system call
 * per upstream call would be a waste. The binding table is a fixed array of buckets per
 * thread, each a list; bindings live inside the requests they belong to, so binding and
 * unbinding never allocate.
 */
#include <string.h>
#include "mc_trace.h"
#include "mc_util.h"

/* --- ids ---------------------------------------------------------------------------------- */

static _Thread_local uint64_t rng_s[4];
static _Thread_local bool rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        do
            mc_random_bytes(rng_s, sizeof(rng_s));
        while ((rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]) == 0);
        rng_seeded = true;
    }
    uint64_t result = rotl(rng_s[1] * 5, 7) * 9;
    uint64_t t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return result;
}

static void hex64(uint64_t v, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
        out[i] = digits[v & 15];
        v >>= 4;
    }
}

void mc_trace_span_id(char *out)
{
    uint64_t v;
    do
        v = rng_next();
    while (v == 0);
    hex64(v, out);
    out[16] = '\0';
}

void mc_trace_new(mc_trace_t *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t hi, lo;
    do {
        hi = rng_next();
        lo = rng_next();
    } while ((hi | lo) == 0);
    hex64(hi, out->trace_id);
    hex64(lo, out->trace_id + 16);
    out->trace_id[32] = '\0';
    mc_trace_span_id(out->span_id);
}

/* --- traceparent -------------------------------------------------------------------------------- */

/* n lower-case hex digits, not all zero when nonzero is set. */
static bool hex_field(const char *s, size_t n, bool nonzero)
{
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        any = any || c != '0';
    }
    return any || !nonzero;
}

int mc_trace_parse(const char *tp, size_t len, mc_trace_t *out)
{
    /* version "-" trace-id "-" parent-id "-" trace-flags, then (later versions only)
     * "-" and more fields */
    if (tp == NULL || len < MC_TRACEPARENT_LEN)
        return -1;
    if (!hex_field(tp, 2, false) || (tp[0] == 'f' && tp[1] == 'f'))
        return -1;
    bool v00 = tp[0] == '0' && tp[1] == '0';
    if (v00 ? len != MC_TRACEPARENT_LEN : (len > MC_TRACEPARENT_LEN && tp[MC_TRACEPARENT_LEN] != '-'))
        return -1;
    if (tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
        return -1;
    if (!hex_field(tp + 3, 32, true) || !hex_field(tp + 36, 16, true) || !hex_field(tp + 53, 2, false))
        return -1;
    memset(out, 0, sizeof(*out));
    memcpy(out->trace_id, tp + 3, 32);
    memcpy(out->span_id, tp + 36, 16);
    unsigned f = 0;
    for (int i = 53; i < 55; ++i)
        f = f * 16 + (unsigned)(tp[i] <= '9' ? tp[i] - '0' : tp[i] - 'a' + 10);
    out->flags = (uint8_t)f;
    return 0;
}

/* tracestate is a list of key=value members of printable ASCII; we pass it on unchanged,
 * so it only has to be safe in a header and not absurdly long. */
static bool plausible_tracestate(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; ++n)
        if (n >= MC_TRACESTATE_MAX || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return false;
    return n > 0;
}

void mc_trace_for_request(const char *traceparent, size_t len, const char *tracestate, mc_trace_t *out)
{
    if (traceparent != NULL && mc_trace_parse(traceparent, len, out) == 0) {
        mc_trace_span_id(out->span_id); /* ours; the caller's span is our parent */
        out->tracestate = tracestate != NULL && plausible_tracestate(tracestate) ? tracestate : NULL;
        return;
    }
    mc_trace_new(out); /* a tracestate without a valid traceparent is dropped (spec 3.3) */
}

void mc_trace_child(const mc_trace_t *t, char *out)
{
    static const char digits[] = "0123456789abcdef";
    memcpy(out, "00-", 3);
    memcpy(out + 3, t->trace_id, 32);
    out[35] = '-';
    mc_trace_span_id(out + 36);
    out[52] = '-';
    out[53] = digits[(t->flags >> 4) & 15];
    out[54] = digits[t->flags & 15];
    out[55] = '\0';
}

/* --- bindings ------------------------------------------------------------------------------------ */

#define BUCKETS 1024u

static _Thread_local mc_trace_binding_t *table[BUCKETS];

static uint32_t id_hash(const char *s)
{
    return mc_fnv1a_str(MC_FNV1A_INIT, s);
}

void mc_trace_bind(mc_trace_binding_t *b, const char *request_id, const mc_trace_t *trace)
{
    b->request_id = request_id;
    b->trace = trace;
    b->hash = id_hash(request_id);
    mc_trace_binding_t **head = &table[b->hash % BUCKETS];
    b->next = *head;
    *head = b;
}

void mc_trace_unbind(mc_trace_binding_t *b)
{
    if (b->request_id == NULL)
        return;
    for (mc_trace_binding_t **pp = &table[b->hash % BUCKETS]; *pp != NULL; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    b->next = NULL;
    b->request_id = NULL;
}

const mc_trace_t *mc_trace_find(const char *request_id)
{
    if (request_id == NULL)
        return NULL;
    uint32_t h = id_hash(request_id);
    for (mc_trace_binding_t *b = table[h % BUCKETS]; b != NULL; b = b->next)
        if (b->hash == h && strcmp(b->request_id, request_id) == 0)
            return b->trace;
    return NULL;
}
