/*
 * The GraphiQL playground at GET /graphql (for a browser that asks for text/html).
 *
 * The page and its own script (gateway/playground/) are embedded in the binary; the
 * libraries it runs — GraphiQL 3 with React 18 (UMD builds) and the graphql-ws client
 * for subscriptions — come from the npm packages scripts/setup installs, read once at
 * start from GATEWAY_PLAYGROUND_DIR (node_modules by default; the container image
 * carries a copy) and served from memory, gzip-compressed once when the client
 * accepts it, with an ETag. Nothing is fetched from elsewhere at run time: the page
 * works offline, and its Content-Security-Policy allows only this origin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include "gw_gateway.h"
#include "mc_util.h"

extern const char gateway_playground_html[];
extern const size_t gateway_playground_html_len;
extern const char gateway_playground_js[];
extern const size_t gateway_playground_js_len;
extern const char gateway_playground_css[];
extern const size_t gateway_playground_css_len;
extern const char gateway_playground_examples[];
extern const size_t gateway_playground_examples_len;

#define GW_MAX_ASSET_BYTES (16u << 20)

static const struct {
    const char *name, *path, *type;
} asset_files[GW_NASSETS] = {
    {"react.production.min.js", "react/umd/react.production.min.js", "text/javascript; charset=utf-8"},
    {"react-dom.production.min.js", "react-dom/umd/react-dom.production.min.js", "text/javascript; charset=utf-8"},
    {"graphiql.min.js", "graphiql/graphiql.min.js", "text/javascript; charset=utf-8"},
    {"graphiql.min.css", "graphiql/graphiql.min.css", "text/css; charset=utf-8"},
    {"graphql-ws.min.js", "graphql-ws/umd/graphql-ws.min.js", "text/javascript; charset=utf-8"},
};

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                          "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* gzip of data (NULL when compression does not pay or fails). */
static char *gzip(const char *data, size_t len, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong bound = deflateBound(&z, (uLong)len);
    char *out = malloc(bound);
    if (out == NULL) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)bound;
    int r = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END || *outlen >= len) {
        free(out);
        return NULL;
    }
    return out;
}

static void set_asset(gw_asset_t *a, const char *name, const char *type, char *data, size_t len)
{
    a->name = name;
    a->content_type = type;
    a->data = data;
    a->len = len;
    a->gz = gzip(data, len, &a->gzlen);
    uint32_t h = mc_fnv1a(MC_FNV1A_INIT, data, len);
    snprintf(a->etag, sizeof(a->etag), "\"%08x-%zx\"", h, len);
}

int gw_playground_load(gw_gateway_t *g, char *err, size_t errlen)
{
    for (size_t i = 0; i < GW_NASSETS; ++i) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", g->cfg.playground_dir, asset_files[i].path);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            snprintf(err, errlen, "%s is missing (run scripts/setup, set GATEWAY_PLAYGROUND_DIR, or GATEWAY_PLAYGROUND=off)",
                     path);
            return -1;
        }
        char *buf = malloc(GW_MAX_ASSET_BYTES + 1);
        size_t len = buf != NULL ? fread(buf, 1, GW_MAX_ASSET_BYTES + 1, fp) : 0;
        bool bad = buf == NULL || ferror(fp) || len > GW_MAX_ASSET_BYTES || len == 0;
        fclose(fp);
        if (bad) {
            free(buf);
            snprintf(err, errlen, "%s cannot be read (or is empty or over 16 MiB)", path);
            return -1;
        }
        char *shrunk = realloc(buf, len);
        set_asset(&g->assets[i], asset_files[i].name, asset_files[i].type, shrunk != NULL ? shrunk : buf, len);
        g->assets[i].path = asset_files[i].path;
    }
    g->assets_loaded = true;
    return 0;
}

void gw_playground_free(gw_gateway_t *g)
{
    for (size_t i = 0; i < GW_NASSETS; ++i) {
        free(g->assets[i].data);
        free(g->assets[i].gz);
        memset(&g->assets[i], 0, sizeof(g->assets[i]));
    }
    g->assets_loaded = false;
}

static bool accepts_gzip(mc_req_t *req)
{
    const char *p = mc_req_header(req, "accept-encoding");
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ',')
            ++p;
        size_t n = strcspn(p, ",");
        size_t t = strcspn(p, ";, ");
        if (t == 4 && strncasecmp(p, "gzip", 4) == 0) {
            const char *qv = p + t;
            while (qv < p + n && *qv != '=')
                ++qv;
            return qv >= p + n || strtod(qv + 1, NULL) > 0; /* gzip;q=0 refuses it */
        }
        p += n;
    }
    return false;
}

/* Answers with an asset: 304 when the client has it, gzip when accepted. */
static void send_asset(mc_req_t *req, const char *type, const char *data, size_t len, const char *gz, size_t gzlen,
                       const char *etag, const char *cache)
{
    mc_req_add_header(req, "cache-control", cache);
    mc_req_add_header(req, "etag", etag);
    mc_req_add_header(req, "vary", "accept-encoding");
    const char *inm = mc_req_header(req, "if-none-match");
    if (inm != NULL && strstr(inm, etag) != NULL) {
        mc_respond_empty(req, 304);
        return;
    }
    if (gz != NULL && accepts_gzip(req)) {
        mc_req_add_header(req, "content-encoding", "gzip");
        mc_respond_raw(req, 200, type, gz, gzlen);
        return;
    }
    mc_respond_raw(req, 200, type, data, len);
}

/* The embedded files are small: their ETags are computed on first use. */
typedef struct embedded {
    const char *name, *type;
    const char *data;
    const size_t *len;
    char etag[24];
} embedded_t;

static embedded_t embedded[] = {
    {"playground.js", "text/javascript; charset=utf-8", gateway_playground_js, &gateway_playground_js_len, ""},
    {"playground.css", "text/css; charset=utf-8", gateway_playground_css, &gateway_playground_css_len, ""},
    {"examples.graphql", "text/plain; charset=utf-8", gateway_playground_examples, &gateway_playground_examples_len, ""},
};

static void embedded_etag(embedded_t *e)
{
    /* Written the same by every thread that races here: harmless. */
    if (e->etag[0] != '\0')
        return;
    uint32_t h = mc_fnv1a(MC_FNV1A_INIT, e->data, *e->len);
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "\"e%08x-%zx\"", h, *e->len);
    memcpy(e->etag, tmp, sizeof(tmp));
}

void gw_handle_asset(mc_req_t *req)
{
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    const char *name = mc_req_param(req, "file");
    if (!g->cfg.playground || !g->assets_loaded || name == NULL) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "the playground is turned off");
        return;
    }
    for (size_t i = 0; i < sizeof(embedded) / sizeof(embedded[0]); ++i)
        if (strcmp(embedded[i].name, name) == 0) {
            embedded_etag(&embedded[i]);
            send_asset(req, embedded[i].type, embedded[i].data, *embedded[i].len, NULL, 0, embedded[i].etag,
                       "no-cache");
            return;
        }
    for (size_t i = 0; i < GW_NASSETS; ++i) {
        const gw_asset_t *a = &g->assets[i];
        if (strcmp(a->name, name) == 0) {
            send_asset(req, a->content_type, a->data, a->len, a->gz, a->gzlen, a->etag, "public, max-age=86400");
            return;
        }
    }
    mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "no such playground file");
}

void gw_playground_page(mc_req_t *req)
{
    mc_req_add_header(req, "content-security-policy", CSP);
    mc_req_add_header(req, "referrer-policy", "no-referrer");
    mc_req_add_header(req, "vary", "accept");
    mc_respond_raw(req, 200, "text/html; charset=utf-8", gateway_playground_html, gateway_playground_html_len);
}
