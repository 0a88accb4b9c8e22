/*
 * Implementation of gw_scalars.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_scalars.h"
#include "mc_util.h"

static bool is_named(const gql_type *t, const char *name)
{
    return t->name != NULL && strcmp(t->name, name) == 0;
}

/* A JSON value as the message quotes it (short). */
static void quote(gql_buf *err, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        gql_buf_puts(err, "(a value)");
        return;
    }
    size_t n = strlen(s);
    if (n > 80) {
        gql_buf_append(err, s, 77);
        gql_buf_puts(err, "...");
    } else {
        gql_buf_append(err, s, n);
    }
    free(s);
}

static int check_datetime(json_t *v, gql_buf *err, const char *what)
{
    int64_t ms;
    if (json_is_string(v) && json_string_length(v) <= 64 && mc_time_parse(json_string_value(v), &ms) == 0)
        return 0;
    gql_buf_printf(err, "DateTime cannot %s ", what);
    quote(err, v);
    gql_buf_puts(err, ": expected an RFC 3339 date-time such as \"2026-11-21T19:40:00Z\"");
    return -1;
}

static int check_long(json_t *v, gql_buf *err, const char *what)
{
    if (json_is_integer(v) && json_integer_value(v) >= -GW_LONG_MAX && json_integer_value(v) <= GW_LONG_MAX)
        return 0;
    gql_buf_printf(err, "Long cannot %s ", what);
    quote(err, v);
    gql_buf_puts(err, ": expected a whole number between -9007199254740991 and 9007199254740991");
    return -1;
}

static int hook_serialize(void *ud, const gql_type *t, json_t *v, json_t **out, gql_buf *err)
{
    (void)ud;
    (void)out;
    if (is_named(t, "DateTime"))
        return check_datetime(v, err, "represent");
    if (is_named(t, "Long"))
        return check_long(v, err, "represent");
    return 0;
}

static int hook_parse(void *ud, const gql_type *t, json_t *v, json_t **out, gql_buf *err)
{
    (void)ud;
    (void)out;
    if (is_named(t, "DateTime"))
        return check_datetime(v, err, "parse");
    if (is_named(t, "Long"))
        return check_long(v, err, "parse");
    return 0;
}

gql_scalar_hooks gw_scalar_hooks(void)
{
    gql_scalar_hooks h;
    memset(&h, 0, sizeof(h));
    h.serialize = hook_serialize;
    h.parse_value = hook_parse;
    h.parse_literal = hook_parse;
    return h;
}

/* ISO 4217 minor units that are not 2, and the symbols people expect. */
static const struct {
    const char *code;
    int decimals;
    const char *symbol; /* before the number; NULL: the code after it */
} currencies[] = {
    {"USD", 2, "$"},   {"EUR", 2, "€"},   {"GBP", 2, "£"},   {"JPY", 0, "¥"},   {"CNY", 2, "CN¥"},
    {"INR", 2, "₹"},   {"KRW", 0, "₩"},   {"CAD", 2, "CA$"}, {"AUD", 2, "A$"},  {"NZD", 2, "NZ$"},
    {"BRL", 2, "R$"},  {"MXN", 2, "MX$"}, {"CHF", 2, NULL},  {"SEK", 2, NULL},  {"NOK", 2, NULL},
    {"DKK", 2, NULL},  {"PLN", 2, NULL},  {"CZK", 2, NULL},  {"HUF", 2, NULL},  {"ISK", 0, NULL},
    {"CLP", 0, NULL},  {"VND", 0, NULL},  {"BHD", 3, NULL},  {"KWD", 3, NULL},  {"OMR", 3, NULL},
    {"JOD", 3, NULL},  {"TND", 3, NULL},  {"ILS", 2, "₪"},
};

int gw_currency_decimals(const char *currency)
{
    for (size_t i = 0; currency != NULL && i < sizeof(currencies) / sizeof(currencies[0]); ++i)
        if (strcmp(currencies[i].code, currency) == 0)
            return currencies[i].decimals;
    return 2;
}

size_t gw_money_format_to(int64_t amount, const char *currency, char *out, size_t cap)
{
    const char *symbol = NULL;
    int decimals = 2;
    for (size_t i = 0; currency != NULL && i < sizeof(currencies) / sizeof(currencies[0]); ++i)
        if (strcmp(currencies[i].code, currency) == 0) {
            decimals = currencies[i].decimals;
            symbol = currencies[i].symbol;
        }
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    uint64_t scale = 1;
    for (int i = 0; i < decimals; ++i)
        scale *= 10;
    uint64_t whole = mag / scale, frac = mag % scale;
    char digits[32], grouped[48];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)whole);
    size_t g = 0;
    for (int i = 0; i < n; ++i) {
        if (i > 0 && (n - i) % 3 == 0)
            grouped[g++] = ',';
        grouped[g++] = digits[i];
    }
    grouped[g] = '\0';
    char fraction[8] = ""; /* "." and up to 3 decimals */
    if (decimals > 0) {
        fraction[0] = '.';
        for (int i = decimals; i >= 1; --i) {
            fraction[i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        fraction[decimals + 1] = '\0';
    }
    int w;
    if (symbol != NULL)
        w = snprintf(out, cap, "%s%s%s%s", amount < 0 ? "-" : "", symbol, grouped, fraction);
    else if (currency != NULL && currency[0] != '\0')
        w = snprintf(out, cap, "%s%s%s %s", amount < 0 ? "-" : "", grouped, fraction, currency);
    else
        w = snprintf(out, cap, "%s%s%s", amount < 0 ? "-" : "", grouped, fraction);
    if (w < 0)
        return 0;
    return (size_t)w < cap ? (size_t)w : cap - 1;
}

void gw_money_format(int64_t amount, const char *currency, gql_buf *out)
{
    char text[160];
    gql_buf_append(out, text, gw_money_format_to(amount, currency, text, sizeof(text)));
}
