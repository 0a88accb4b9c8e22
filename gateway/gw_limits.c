/*
 * Implementation of gw_limits.h.
 */
#include <string.h>
#include "gw_gateway.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "mc_config.h"

void gw_limits_config_load(gw_config_t *cfg, bool production)
{
    gql_limits *l = &cfg->limits;
    l->max_tokens = (uint32_t)mc_env_int("GATEWAY_MAX_TOKENS", 10000, 100, 1000000);
    l->max_depth = (uint32_t)mc_env_int("GATEWAY_MAX_DEPTH", 15, 2, 128);
    l->max_aliases = (uint32_t)mc_env_int("GATEWAY_MAX_ALIASES", 30, 0, 100000);
    l->max_directives = (uint32_t)mc_env_int("GATEWAY_MAX_DIRECTIVES", 50, 0, 100000);
    l->max_root_fields = (uint32_t)mc_env_int("GATEWAY_MAX_ROOT_FIELDS", 20, 0, 100000);
    l->max_cost = (uint64_t)mc_env_int("GATEWAY_MAX_COST", 20000, 0, 1000000000000LL);
    l->default_list_size = (uint32_t)mc_env_int("GATEWAY_DEFAULT_LIST_SIZE", 10, 1, 100000);
    l->ignore_introspection = true;
    cfg->introspection = mc_env_bool("GATEWAY_INTROSPECTION", !production);
    cfg->suggestions = mc_env_bool("GATEWAY_SUGGESTIONS", !production);
}

/* The limits in gql_limits_check's order, with their measurement and maximum. */
static unsigned limits_exceeded(const gql_limits *l, const gql_operation_stats *st, const char **names,
                                uint64_t *measured, uint64_t *maximum, gw_counter_t *counters)
{
    unsigned n = 0;
#define CHECK(name, counter, m, max)                                                                                   \
    do {                                                                                                               \
        if ((max) != 0 && (uint64_t)(m) > (uint64_t)(max)) {                                                           \
            names[n] = (name);                                                                                         \
            measured[n] = (m);                                                                                         \
            maximum[n] = (max);                                                                                        \
            counters[n] = (counter);                                                                                   \
            ++n;                                                                                                       \
        }                                                                                                              \
    } while (0)
    CHECK("tokens", GW_C_LIMIT_TOKENS, st->tokens, l->max_tokens);
    CHECK("depth", GW_C_LIMIT_DEPTH, st->depth, l->max_depth);
    CHECK("aliases", GW_C_LIMIT_ALIASES, st->aliases, l->max_aliases);
    CHECK("directives", GW_C_LIMIT_DIRECTIVES, st->directives, l->max_directives);
    CHECK("rootFields", GW_C_LIMIT_ROOT_FIELDS, st->root_fields, l->max_root_fields);
    CHECK("cost", GW_C_LIMIT_COST, st->cost, l->max_cost);
#undef CHECK
    return n;
}

uint32_t gw_limits_apply(const gw_config_t *cfg, const gql_schema *s, const gql_document *doc,
                         const char *operation_name, json_t *variables, gql_operation_stats *st, gql_errors *errs)
{
    gql_errors mine;
    gql_errors_init(&mine);
    uint32_t n = gql_limits_check(s, doc, operation_name, variables, &cfg->limits, st, &mine);
    if (n > 0) {
        const char *names[6];
        uint64_t measured[6], maximum[6];
        gw_counter_t counters[6];
        unsigned k = limits_exceeded(&cfg->limits, st, names, measured, maximum, counters);
        /* The engine adds its errors in the same order; one more may come first when
         * fragments nest too deeply to be measured. */
        unsigned skip = n > k ? n - k : 0;
        unsigned i = 0;
        for (gql_error *e = mine.head; e != NULL; e = e->next, ++i) {
            json_t *ext = json_pack("{s:s}", "code", "BAD_USER_INPUT");
            if (i >= skip && i - skip < k) {
                unsigned j = i - skip;
                json_object_set_new(ext, "limit", json_string(names[j]));
                json_object_set_new(ext, "measured", json_integer((json_int_t)measured[j]));
                json_object_set_new(ext, "maximum", json_integer((json_int_t)maximum[j]));
                gw_metrics_count(counters[j]);
            }
            gql_error_set_extensions(e, ext);
        }
    }
    gql_errors_move(errs, &mine); /* copies, and frees mine */
    return n;
}

void gw_limits_mark_tokens(const gw_config_t *cfg, gql_errors *errs)
{
    for (gql_error *e = errs->head; e != NULL; e = e->next) {
        if (e->extensions != NULL || strstr(e->message, " tokens. Parsing aborted.") == NULL)
            continue;
        gql_error_set_extensions(e, json_pack("{s:s,s:s,s:I}", "code", "BAD_USER_INPUT", "limit", "tokens", "maximum",
                                              (json_int_t)cfg->limits.max_tokens));
        gw_metrics_count(GW_C_LIMIT_TOKENS);
    }
}

gql_validate_options gw_limits_validate_options(const gw_config_t *cfg)
{
    gql_validate_options o;
    memset(&o, 0, sizeof(o));
    o.rules = GQL_RULES_SPECIFIED;
    if (!cfg->introspection)
        o.rules |= GQL_RULE_BIT(GQL_RULE_NO_SCHEMA_INTROSPECTION);
    return o;
}

void gw_limits_count_introspection(const gql_errors *errs)
{
    for (gql_error *e = errs->head; e != NULL; e = e->next)
        if (strncmp(e->message, "GraphQL introspection has been disabled", 39) == 0) {
            gw_metrics_count(GW_C_INTROSPECTION);
            return;
        }
}

size_t gw_message_hide_suggestion(char *msg, size_t len)
{
    /* As Apollo Server does: / ?Did you mean(.+?)\?$/ → "" */
    static const char needle[] = "Did you mean";
    const size_t nl = sizeof(needle) - 1;
    if (len < nl + 2 || msg[len - 1] != '?')
        return len;
    for (size_t i = 0; i + nl + 1 < len; ++i) {
        if (memcmp(msg + i, needle, nl) != 0)
            continue;
        size_t cut = i > 0 && msg[i - 1] == ' ' ? i - 1 : i;
        msg[cut] = '\0';
        return cut;
    }
    return len;
}

void gw_errors_hide_suggestions(gql_errors *errs)
{
    for (gql_error *e = errs->head; e != NULL; e = e->next) {
        /* The message belongs to the list's arena: shortening it in place is safe. */
        char *m = (char *)e->message;
        e->message_len = (uint32_t)gw_message_hide_suggestion(m, e->message_len);
    }
}
