/*
 * The route table: a handful of routes per service, so matching is a linear scan over
 * pre-split patterns. Among the routes that match a path, those with the most literal
 * segments (earliest first) name the resource ("/api/categories/tree" over
 * "/api/categories/:id"), whatever the order of the table; the method then picks among
 * them, or the answer is 405 with the methods they allow.
 */
#include <stdlib.h>
#include <string.h>
#include "mc_internal.h"
#include "mc_log.h"

/* Splits "/a/b/c" into segments. A trailing slash is ignored ("/a/" is "/a"); empty
 * segments ("//") make the path unmatchable. Returns the count, or -1. */
static int split_path(const char *path, size_t len, h2o_iovec_t *segs, size_t max)
{
    size_t n = 0, i = 0;
    if (len == 0 || path[0] != '/')
        return -1;
    if (len > 1 && path[len - 1] == '/')
        --len;
    if (len == 1)
        return 0;
    i = 1;
    while (i <= len) {
        size_t start = i;
        while (i < len && path[i] != '/')
            ++i;
        if (i == start || n == max)
            return -1;
        segs[n++] = h2o_iovec_init(path + start, i - start);
        ++i;
    }
    return (int)n;
}

int mc_router_init(mc_router_t *r, const mc_route_t *routes, size_t n)
{
    r->routes = calloc(n ? n : 1, sizeof(*r->routes));
    r->nroutes = n;
    for (size_t i = 0; i < n; ++i) {
        mc_route_compiled_t *c = &r->routes[i];
        c->route = &routes[i];
        int k = split_path(routes[i].pattern, strlen(routes[i].pattern), c->segs, MC_MAX_ROUTE_SEGMENTS);
        size_t params = 0;
        for (int s = 0; s < k; ++s)
            if (c->segs[s].base[0] == ':')
                ++params;
        if (k < 0 || params > MC_MAX_ROUTE_PARAMS || routes[i].handler == NULL) {
            mc_log_error("route pattern '%s' is malformed", routes[i].pattern);
            return -1;
        }
        c->nsegs = (size_t)k;
    }
    return 0;
}

void mc_router_dispose(mc_router_t *r)
{
    free(r->routes);
    r->routes = NULL;
    r->nroutes = 0;
}

/* How specific a match is: literal segments weigh by position so that a literal early in
 * the path beats a parameter there. */
static unsigned specificity(const mc_route_compiled_t *c)
{
    unsigned score = 0;
    for (size_t s = 0; s < c->nsegs; ++s)
        score = score * 2 + (c->segs[s].base[0] != ':');
    return score;
}

static bool matches(const mc_route_compiled_t *c, const h2o_iovec_t *segs, size_t n)
{
    if (c->nsegs != n)
        return false;
    for (size_t s = 0; s < n; ++s) {
        if (c->segs[s].base[0] == ':')
            continue;
        if (!h2o_memis(c->segs[s].base, c->segs[s].len, segs[s].base, segs[s].len))
            return false;
    }
    return true;
}

void mc_router_match(const mc_router_t *r, const char *method, size_t mlen, const char *path, size_t plen,
                     mc_route_match_t *m)
{
    h2o_iovec_t segs[MC_MAX_ROUTE_SEGMENTS];
    memset(m, 0, sizeof(*m));
    int n = split_path(path, plen, segs, MC_MAX_ROUTE_SEGMENTS);
    if (n < 0)
        return;
    /* HEAD is answered by the GET handler; h2o drops the body. */
    if (h2o_memis(method, mlen, H2O_STRLIT("HEAD"))) {
        method = "GET";
        mlen = 3;
    }
    /* The resource a path names is the most specific pattern matching it: a literal
     * route ("/things/tree") shadows a parameter route ("/things/:id") for every method,
     * so PATCH /things/tree is a 405, not an update of a thing called "tree". */
    unsigned best_score = 0;
    for (size_t i = 0; i < r->nroutes; ++i) {
        if (!matches(&r->routes[i], segs, (size_t)n))
            continue;
        unsigned score = specificity(&r->routes[i]);
        if (!m->path_known || score > best_score)
            best_score = score;
        m->path_known = true;
    }
    if (!m->path_known)
        return;
    const mc_route_compiled_t *best = NULL;
    size_t alen = 0;
    for (size_t i = 0; i < r->nroutes; ++i) {
        const mc_route_compiled_t *c = &r->routes[i];
        if (!matches(c, segs, (size_t)n) || specificity(c) != best_score)
            continue;
        const char *rm = c->route->method;
        size_t rmlen = strlen(rm);
        if (strstr(m->allow, rm) == NULL && alen + rmlen + 3 < sizeof(m->allow))
            alen += (size_t)snprintf(m->allow + alen, sizeof(m->allow) - alen, "%s%s", alen ? ", " : "", rm);
        if (best == NULL && h2o_memis(rm, rmlen, method, mlen))
            best = c;
    }
    if (best == NULL)
        return;
    m->route = best->route;
    for (size_t s = 0; s < best->nsegs; ++s) {
        if (best->segs[s].base[0] != ':')
            continue;
        m->names[m->nparams] = h2o_iovec_init(best->segs[s].base + 1, best->segs[s].len - 1);
        m->values[m->nparams] = segs[s];
        ++m->nparams;
    }
}
