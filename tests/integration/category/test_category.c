/*
 * Integration tests of the category service against real FerretDB and Redis processes:
 * every route, every refusal, what happens while Redis or FerretDB is down, concurrent
 * moves that would make a cycle, and a clean shutdown.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

static mh_service_t *svc;
static char *admin, *customer, *seller;

static int setup(void **state)
{
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    svc = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (svc == NULL)
        return -1;
    admin = mh_token(MH_TEST_USER_ID, "admin");
    customer = mh_token(MH_TEST_USER_ID, "customer");
    seller = mh_token(MH_TEST_USER_ID, "seller");
    return 0;
}

static int teardown(void **state)
{
    free(admin);
    free(customer);
    free(seller);
    /* A clean exit (status 0) after SIGTERM is part of what is tested. */
    return svc != NULL && mh_service_stop(svc) == 0 ? 0 : -1;
}

/* --- helpers ------------------------------------------------------------------------------ */

static const char *url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *url(const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return mh_url(svc, path);
}

/* Creates a category as admin and returns its id (static ring of buffers). */
static const char *create(const char *name, const char *parent)
{
    static char ids[16][25];
    static int next;
    json_t *body = json_pack("{s:s}", "name", name);
    if (parent != NULL)
        json_object_set_new(body, "parentId", json_string(parent));
    mh_response_t r = mh_send("POST", url("/api/categories"), admin, body);
    assert_int_equal(r.status, 201);
    char *id = ids[next++ % 16];
    snprintf(id, 25, "%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);
    return id;
}

static void expect(mh_response_t r, long status, const char *code)
{
    if (r.status != status || (code != NULL && (mh_error_code(&r) == NULL || strcmp(mh_error_code(&r), code) != 0)))
        fail_msg("expected %ld %s, got %ld: %s", status, code ? code : "", r.status, r.body);
    mh_response_free(&r);
}

static json_t *get_json(const char *u)
{
    mh_response_t r = mh_get(u, NULL);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", u, r.status, r.body);
    json_t *j = json_incref(r.json);
    mh_response_free(&r);
    return j;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* --- reads and writes ------------------------------------------------------------------------ */

static void create_read_update_delete(void **state)
{
    mh_response_t r = mh_send("POST", url("/api/categories"), admin,
                              json_pack("{s:s,s:s,s:i}", "name", "  Garden & Patio ", "description", "Outdoor living\nand more",
                                        "position", 3));
    assert_int_equal(r.status, 201);
    assert_string_equal(str(r.json, "name"), "Garden & Patio"); /* trimmed */
    assert_string_equal(str(r.json, "slug"), "garden-patio");   /* generated */
    assert_true(json_is_null(json_object_get(r.json, "parentId")));
    assert_true(json_is_true(json_object_get(r.json, "isActive")));
    assert_non_null(str(r.json, "createdAt"));
    char id[25], loc[64];
    snprintf(id, sizeof(id), "%s", str(r.json, "id"));
    snprintf(loc, sizeof(loc), "/api/categories/%s", id);
    assert_string_equal(mh_header(&r, "location"), loc);
    mh_response_free(&r);

    json_t *one = get_json(url("/api/categories/%s", id));
    assert_string_equal(str(one, "description"), "Outdoor living\nand more");
    json_decref(one);
    one = get_json(url("/api/categories/slug/garden-patio"));
    assert_string_equal(str(one, "id"), id);
    json_decref(one);

    /* a second one with the same name gets a suffixed slug; an explicit taken slug is a 409 */
    r = mh_send("POST", url("/api/categories"), admin, json_pack("{s:s}", "name", "Garden & Patio"));
    assert_int_equal(r.status, 201);
    assert_string_equal(str(r.json, "slug"), "garden-patio-2");
    char id2[25];
    snprintf(id2, sizeof(id2), "%s", str(r.json, "id"));
    mh_response_free(&r);
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:s}", "name", "X", "slug", "garden-patio")), 409,
           "CONFLICT");
    expect(mh_send("PATCH", url("/api/categories/%s", id2), admin, json_pack("{s:s}", "slug", "garden-patio")), 409,
           "CONFLICT");

    r = mh_send("PATCH", url("/api/categories/%s", id), admin,
                json_pack("{s:s,s:n,s:b,s:s}", "name", "Garden", "description", "isActive", 0, "image",
                          "https://img.example/garden.png"));
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "name"), "Garden");
    assert_true(json_is_null(json_object_get(r.json, "description")));
    assert_true(json_is_false(json_object_get(r.json, "isActive")));
    assert_string_equal(str(r.json, "slug"), "garden-patio"); /* unchanged */
    mh_response_free(&r);

    /* the write is visible at once (never a stale cached read) */
    one = get_json(url("/api/categories/%s", id));
    assert_string_equal(str(one, "name"), "Garden");
    json_decref(one);

    r = mh_send("DELETE", url("/api/categories/%s", id), admin, NULL);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    mh_response_free(&r);
    expect(mh_get(url("/api/categories/%s", id), NULL), 404, "NOT_FOUND");
    expect(mh_send("DELETE", url("/api/categories/%s", id), admin, NULL), 404, "NOT_FOUND");
    expect(mh_send("DELETE", url("/api/categories/%s", id2), admin, NULL), 204, NULL);
}

static void tree_ancestors_descendants_batch(void **state)
{
    const char *root = create("Tree Root", NULL);
    const char *b = create("Tree B", root);
    const char *a = create("Tree A", root);
    const char *leaf = create("Tree Leaf", b);
    char r_id[25], a_id[25], b_id[25], leaf_id[25];
    strcpy(r_id, root), strcpy(a_id, a), strcpy(b_id, b), strcpy(leaf_id, leaf);

    json_t *t = get_json(url("/api/categories/tree?rootId=%s", r_id));
    json_t *items = json_object_get(t, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *children = json_object_get(json_array_get(items, 0), "children");
    assert_int_equal(json_array_size(children), 2);
    /* equal positions: ordered by name */
    assert_string_equal(str(json_array_get(children, 0), "name"), "Tree A");
    json_t *tree_b = json_array_get(children, 1);
    assert_string_equal(str(tree_b, "name"), "Tree B");
    assert_int_equal(json_array_size(json_object_get(tree_b, "children")), 1);
    assert_string_equal(str(json_array_get(json_object_get(tree_b, "children"), 0), "name"), "Tree Leaf");
    json_decref(t);

    /* deactivating B hides B and its subtree from the active tree */
    expect(mh_send("PATCH", url("/api/categories/%s", b_id), admin, json_pack("{s:b}", "isActive", 0)), 200, NULL);
    t = get_json(url("/api/categories/tree?isActive=true&rootId=%s", r_id));
    char *dump = json_dumps(t, 0);
    assert_null(strstr(dump, "Tree Leaf"));
    assert_null(strstr(dump, "Tree B"));
    assert_non_null(strstr(dump, "Tree A"));
    free(dump);
    json_decref(t);

    json_t *anc = get_json(url("/api/categories/%s/ancestors", leaf_id));
    assert_int_equal(json_array_size(json_object_get(anc, "items")), 2);
    assert_string_equal(str(json_array_get(json_object_get(anc, "items"), 0), "id"), r_id);
    json_decref(anc);
    anc = get_json(url("/api/categories/%s/ancestors?includeSelf=true", leaf_id));
    assert_int_equal(json_array_size(json_object_get(anc, "items")), 3);
    json_decref(anc);

    json_t *d = get_json(url("/api/categories/%s/descendants", r_id));
    assert_int_equal(json_array_size(json_object_get(d, "ids")), 3);
    json_decref(d);

    char missing[25];
    mh_oid(missing);
    json_t *batch = get_json(url("/api/categories/batch?ids=%s,%s,%s,%s", leaf_id, missing, a_id, leaf_id));
    assert_int_equal(json_array_size(json_object_get(batch, "items")), 2);
    assert_string_equal(str(json_array_get(json_object_get(batch, "items"), 0), "id"), leaf_id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(batch, "missing"), 0)), missing);
    json_decref(batch);

    /* children listing with cursor pagination */
    json_t *page = get_json(url("/api/categories?parentId=%s&limit=1", r_id));
    assert_int_equal(json_integer_value(json_object_get(page, "totalCount")), 2);
    json_t *pi = json_object_get(page, "pageInfo");
    assert_true(json_is_true(json_object_get(pi, "hasNextPage")));
    /* one cursor per item, the last one being endCursor */
    assert_int_equal(json_array_size(json_object_get(page, "cursors")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(page, "cursors"), 0)), str(pi, "endCursor"));
    char cursor[512];
    snprintf(cursor, sizeof(cursor), "%s", str(pi, "endCursor"));
    json_decref(page);
    page = get_json(url("/api/categories?parentId=%s&limit=1&cursor=%s", r_id, cursor));
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_string_equal(str(json_array_get(json_object_get(page, "items"), 0), "name"), "Tree B");
    assert_true(json_is_false(json_object_get(json_object_get(page, "pageInfo"), "hasNextPage")));
    json_decref(page);
    page = get_json(url("/api/categories?parentId=%s&isActive=false", r_id));
    assert_int_equal(json_integer_value(json_object_get(page, "totalCount")), 1);
    json_decref(page);
    /* a cursor stays valid when the category it came from is deleted: the next page
     * starts after its sort key */
    char extra[25];
    strcpy(extra, create("Tree AA", r_id));
    page = get_json(url("/api/categories?parentId=%s&limit=2", r_id));
    snprintf(cursor, sizeof(cursor), "%s", str(json_object_get(page, "pageInfo"), "endCursor"));
    json_decref(page);
    expect(mh_send("DELETE", url("/api/categories/%s", extra), admin, NULL), 204, NULL);
    page = get_json(url("/api/categories?parentId=%s&cursor=%s", r_id, cursor));
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_string_equal(str(json_array_get(json_object_get(page, "items"), 0), "name"), "Tree B");
    json_decref(page);
    expect(mh_get(url("/api/categories?cursor=not-a-cursor"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories?cursor=1.zz.%s", r_id), NULL), 400, "BAD_REQUEST");

    /* deleting a category with children is refused */
    expect(mh_send("DELETE", url("/api/categories/%s", r_id), admin, NULL), 409, "CONFLICT");
}

static void moves_and_cycles(void **state)
{
    char top[25], mid[25], low[25], other[25];
    strcpy(top, create("Move Top", NULL));
    strcpy(mid, create("Move Mid", top));
    strcpy(low, create("Move Low", mid));
    strcpy(other, create("Move Other", NULL));

    /* under itself, under its child, under its grandchild: refused, nothing changes */
    expect(mh_send("POST", url("/api/categories/%s/move", top), admin, json_pack("{s:s}", "parentId", top)), 409, "CONFLICT");
    expect(mh_send("POST", url("/api/categories/%s/move", top), admin, json_pack("{s:s}", "parentId", mid)), 409, "CONFLICT");
    expect(mh_send("POST", url("/api/categories/%s/move", top), admin, json_pack("{s:s}", "parentId", low)), 409, "CONFLICT");
    json_t *c = get_json(url("/api/categories/%s", top));
    assert_true(json_is_null(json_object_get(c, "parentId")));
    json_decref(c);

    /* unknown parent */
    char ghost[25];
    mh_oid(ghost);
    expect(mh_send("POST", url("/api/categories/%s/move", mid), admin, json_pack("{s:s}", "parentId", ghost)), 404,
           "NOT_FOUND");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:s}", "name", "Orphan", "parentId", ghost)), 404,
           "NOT_FOUND");

    /* a real move, then to the top level with a position */
    mh_response_t r = mh_send("POST", url("/api/categories/%s/move", mid), admin, json_pack("{s:s}", "parentId", other));
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "parentId"), other);
    mh_response_free(&r);
    json_t *anc = get_json(url("/api/categories/%s/ancestors", low));
    assert_string_equal(str(json_array_get(json_object_get(anc, "items"), 0), "id"), other);
    json_decref(anc);
    r = mh_send("POST", url("/api/categories/%s/move", mid), admin, json_pack("{s:n,s:i}", "parentId", "position", -5));
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "parentId")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "position")), -5);
    mh_response_free(&r);
    /* parentId in PATCH is refused: moves go through /move */
    expect(mh_send("PATCH", url("/api/categories/%s", low), admin, json_pack("{s:s}", "parentId", other)), 400, "BAD_REQUEST");
    /* move body must name the parent */
    expect(mh_send("POST", url("/api/categories/%s/move", low), admin, json_pack("{}")), 400, "BAD_REQUEST");
}

static void depth_limit(void **state)
{
    char parent[25] = "";
    for (int i = 1; i <= 8; ++i) {
        char name[32];
        snprintf(name, sizeof(name), "Deep %d", i);
        strcpy(parent, create(name, i == 1 ? NULL : parent));
    }
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:s}", "name", "Deep 9", "parentId", parent)), 422,
           "UNPROCESSABLE");
}

/* Two admins move A under B and B under A at the same moment, many times over: at most
 * one of each pair may win, and the tree never holds a cycle. The requests run as two
 * curl processes started together. */
static void concurrent_moves_never_make_a_cycle(void **state)
{
    for (int round = 0; round < 10; ++round) {
        char a[25], b[25], name[32];
        snprintf(name, sizeof(name), "Race A%d", round);
        strcpy(a, create(name, NULL));
        snprintf(name, sizeof(name), "Race B%d", round);
        strcpy(b, create(name, NULL));
        pid_t pids[2];
        for (int k = 0; k < 2; ++k) {
            char u[256], body[64], auth[1024];
            snprintf(u, sizeof(u), "%s", url("/api/categories/%s/move", k ? b : a));
            snprintf(body, sizeof(body), "{\"parentId\":\"%s\"}", k ? a : b);
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s", admin);
            if ((pids[k] = fork()) == 0) {
                execlp("curl", "curl", "-s", "-o", "/dev/null", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                       auth, "-d", body, u, (char *)NULL);
                _exit(127);
            }
        }
        for (int k = 0; k < 2; ++k)
            waitpid(pids[k], NULL, 0);
        json_t *ca = get_json(url("/api/categories/%s", a)), *cb = get_json(url("/api/categories/%s", b));
        bool a_under_b = str(ca, "parentId") != NULL && strcmp(str(ca, "parentId"), b) == 0;
        bool b_under_a = str(cb, "parentId") != NULL && strcmp(str(cb, "parentId"), a) == 0;
        assert_false(a_under_b && b_under_a);
        json_decref(ca);
        json_decref(cb);
    }
}

/* --- refusals ------------------------------------------------------------------------------------ */

static void bad_input_is_refused(void **state)
{
    char id[25];
    strcpy(id, create("Refusals", NULL));
    char missing[25];
    mh_oid(missing);
    /* invalid and unknown ids */
    expect(mh_get(url("/api/categories/not-an-id"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories/%s", missing), NULL), 404, "NOT_FOUND");
    expect(mh_get(url("/api/categories/%s/ancestors", missing), NULL), 404, "NOT_FOUND");
    expect(mh_get(url("/api/categories/zzzzzzzzzzzzzzzzzzzzzzzz/descendants"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories/slug/Not_A_Slug"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories/slug/no-such-slug"), NULL), 404, "NOT_FOUND");
    expect(mh_get(url("/api/categories/batch?ids=abc"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories/batch"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories?limit=0"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories?limit=100000"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories?parentId=%%24ne"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/categories?unknown=1"), NULL), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/nothing-here"), NULL), 404, "NOT_FOUND");
    expect(mh_send("PUT", url("/api/categories/%s", id), admin, json_pack("{}")), 405, "METHOD_NOT_ALLOWED");

    /* malformed and hostile bodies */
    mh_response_t r;
    mh_http(&(mh_request_t){.method = "POST", .url = url("/api/categories"), .token = admin, .body = "{\"name\":",
                            .content_type = "application/json"},
            &r);
    expect(r, 400, "BAD_REQUEST");
    mh_http(&(mh_request_t){.method = "POST", .url = url("/api/categories"), .token = admin, .body = "{\"name\":\"a\",\"name\":\"b\"}",
                            .content_type = "application/json"},
            &r);
    expect(r, 400, "BAD_REQUEST");
    mh_http(&(mh_request_t){.method = "POST", .url = url("/api/categories"), .token = admin, .body = "name=x",
                            .content_type = "application/x-www-form-urlencoded"},
            &r);
    expect(r, 415, "UNSUPPORTED_MEDIA_TYPE");
    mh_http(&(mh_request_t){.method = "POST", .url = url("/api/categories"), .token = admin, .body = "[1,2]",
                            .content_type = "application/json"},
            &r);
    expect(r, 400, "BAD_REQUEST");
    /* a body over MAX_BODY_BYTES (1 MiB by default) */
    size_t big = (1 << 20) + 100;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "{\"name\":\"x\"", 11);
    huge[big - 1] = '}';
    huge[big] = '\0';
    mh_http(&(mh_request_t){.method = "POST", .url = url("/api/categories"), .token = admin, .body = huge,
                            .content_type = "application/json"},
            &r);
    free(huge);
    expect(r, 413, "PAYLOAD_TOO_LARGE");

    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:{s:n}}", "name", "$ne")), 400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:{s:i}}", "name", "x", "parentId", "$gt", 0)), 400,
           "BAD_REQUEST");
    char longname[202];
    memset(longname, 'n', 201);
    longname[201] = '\0';
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s}", "name", longname)), 400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s}", "name", "")), 400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s}", "name", "tab\there")), 400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:s}", "name", "x", "image", "javascript:alert(1)")),
           400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:f}", "name", "x", "position", 1.5)), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:s}", "name", "x", "isActive", "yes")), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:s}", "name", "x", "slug", "Bad Slug")), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/categories"), admin, json_pack("{s:s,s:i}", "name", "x", "_id", 1)), 400, "BAD_REQUEST");
    expect(mh_send("PATCH", url("/api/categories/%s", id), admin, json_pack("{}")), 400, "BAD_REQUEST");

    /* the error lists every field at once */
    r = mh_send("POST", url("/api/categories"), admin, json_pack("{s:i,s:s}", "name", 5, "slug", "A"));
    assert_int_equal(r.status, 400);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r.json, "error"), "details")), 2);
    mh_response_free(&r);

    /* nothing above changed the category */
    json_t *c = get_json(url("/api/categories/%s", id));
    assert_string_equal(str(c, "name"), "Refusals");
    json_decref(c);
}

static void writes_need_an_admin_token(void **state)
{
    char id[25];
    strcpy(id, create("Guarded", NULL));
    json_t *body = json_pack("{s:s}", "name", "Intruder");
    const char *paths[][2] = {{"POST", "/api/categories"}, {"PATCH", NULL}, {"DELETE", NULL}, {"POST", "move"}};
    for (size_t i = 0; i < 4; ++i) {
        const char *u = paths[i][1] == NULL                  ? url("/api/categories/%s", id)
                        : strcmp(paths[i][1], "move") == 0 ? url("/api/categories/%s/move", id)
                                                           : url("%s", paths[i][1]);
        json_t *b = strcmp(paths[i][0], "DELETE") == 0 ? NULL
                    : paths[i][1] != NULL && strcmp(paths[i][1], "move") == 0 ? json_pack("{s:n}", "parentId")
                                                                              : json_incref(body);
        /* no token */
        expect(mh_send(paths[i][0], u, NULL, json_incref(b)), 401, "UNAUTHENTICATED");
        /* customer and seller tokens */
        expect(mh_send(paths[i][0], u, customer, json_incref(b)), 403, "FORBIDDEN");
        expect(mh_send(paths[i][0], u, seller, json_incref(b)), 403, "FORBIDDEN");
        /* forged: signed with another secret, alg none, expired, tampered */
        json_t *claims = mh_claims(MH_TEST_USER_ID, "admin", time(NULL));
        char *other = mh_token_sign(NULL, claims, "another-secret-another-secret-0123456789", 40);
        expect(mh_send(paths[i][0], u, other, json_incref(b)), 401, "UNAUTHENTICATED");
        free(other);
        char *none = mh_token_sign(json_pack("{s:s,s:s}", "alg", "none", "typ", "JWT"), claims, NULL, 0);
        expect(mh_send(paths[i][0], u, none, json_incref(b)), 401, "UNAUTHENTICATED");
        free(none);
        json_decref(claims);
        char *expired = mh_token_at(MH_TEST_USER_ID, "admin", time(NULL) - 7200);
        expect(mh_send(paths[i][0], u, expired, json_incref(b)), 401, "UNAUTHENTICATED");
        free(expired);
        char *tampered = strdup(customer);
        char *dot = strchr(tampered, '.');
        dot[2] = dot[2] == 'A' ? 'B' : 'A';
        expect(mh_send(paths[i][0], u, tampered, json_incref(b)), 401, "UNAUTHENTICATED");
        free(tampered);
        json_decref(b);
    }
    json_decref(body);
    json_t *c = get_json(url("/api/categories/%s", id));
    assert_string_equal(str(c, "name"), "Guarded");
    json_decref(c);
}

static void serves_its_openapi_document(void **state)
{
    json_t *doc = get_json(url("/openapi.json"));
    assert_string_equal(str(doc, "openapi"), "3.0.3");
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/api/categories/{id}/move"));
    json_decref(doc);
    mh_response_t r = mh_get(url("/health"), NULL);
    assert_int_equal(r.status, 200);
    /* the request id is echoed when valid, replaced when hostile */
    mh_response_free(&r);
    mh_http(&(mh_request_t){.url = url("/health"), .headers = (const char *const[]){"X-Request-Id: abc-123", NULL}}, &r);
    assert_string_equal(mh_header(&r, "x-request-id"), "abc-123");
    mh_response_free(&r);
    mh_http(&(mh_request_t){.url = url("/health"), .headers = (const char *const[]){"X-Request-Id: a\"b{}", NULL}}, &r);
    assert_string_not_equal(mh_header(&r, "x-request-id"), "a\"b{}");
    mh_response_free(&r);
}

/* --- dependencies going away ------------------------------------------------------------------ */

static bool ready_is(void *arg)
{
    mh_response_t r = mh_get(url("/ready"), NULL);
    bool ok = r.json != NULL && strcmp(str(r.json, "status") ? str(r.json, "status") : "", (const char *)arg) == 0;
    mh_response_free(&r);
    return ok;
}

static void keeps_serving_without_redis(void **state)
{
    char id[25];
    strcpy(id, create("Before Redis Stops", NULL));
    json_decref(get_json(url("/api/categories/%s", id))); /* warm the cache */

    assert_int_equal(mh_redis_stop(), 0);
    assert_true(mh_wait_until(ready_is, "degraded", 10000));
    mh_response_t r = mh_get(url("/ready"), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(json_object_get(json_object_get(r.json, "checks"), "redis"), "status"), "down");
    mh_response_free(&r);

    /* reads come from MongoDB, writes still work and are visible at once */
    json_t *c = get_json(url("/api/categories/%s", id));
    json_decref(c);
    expect(mh_send("PATCH", url("/api/categories/%s", id), admin, json_pack("{s:s}", "name", "Changed Without Redis")), 200,
           NULL);
    c = get_json(url("/api/categories/%s", id));
    assert_string_equal(str(c, "name"), "Changed Without Redis");
    json_decref(c);

    /* Redis comes back (empty: no persistence): the service reconnects by itself */
    assert_int_equal(mh_redis_start(), 0);
    assert_true(mh_wait_until(ready_is, "ready", 15000));
    c = get_json(url("/api/categories/%s", id));
    assert_string_equal(str(c, "name"), "Changed Without Redis");
    json_decref(c);
    /* and caches again: the version key exists */
    assert_non_null(mh_redis_cli("GET category:ver"));
    assert_true(strlen(mh_redis_cli("GET category:ver")) == 32);
}

static void answers_503_without_the_database_and_recovers(void **state)
{
    if (!mh_mongo_controllable())
        skip();
    char id[25];
    strcpy(id, create("Before Mongo Stops", NULL));
    json_decref(get_json(url("/api/categories/%s", id))); /* the tree is now cached in Redis */
    assert_int_equal(mh_mongo_stop(), 0);
    /* Writes fail with a clear 503 and change nothing. */
    mh_response_t r = mh_send("POST", url("/api/categories"), admin, json_pack("{s:s}", "name", "During Outage"));
    assert_int_equal(r.status, 503);
    assert_string_equal(mh_error_code(&r), "UNAVAILABLE");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")), "unavailable"));
    mh_response_free(&r);
    assert_true(mh_wait_until(ready_is, "unavailable", 10000));
    r = mh_get(url("/ready"), NULL);
    assert_int_equal(r.status, 503);
    mh_response_free(&r);
    /* Redis still holds the cached tree: reads keep working from it. */
    json_t *c = get_json(url("/api/categories/%s", id));
    json_decref(c);

    assert_int_equal(mh_mongo_start(), 0);
    assert_true(mh_wait_until(ready_is, "ready", 20000));
    expect(mh_send("PATCH", url("/api/categories/%s", id), admin, json_pack("{s:s}", "name", "After Mongo Returns")), 200,
           NULL);
    json_t *list = get_json(url("/api/categories?limit=500"));
    char *dump = json_dumps(list, 0);
    assert_null(strstr(dump, "During Outage"));
    free(dump);
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_read_update_delete),
        cmocka_unit_test(tree_ancestors_descendants_batch),
        cmocka_unit_test(moves_and_cycles),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(concurrent_moves_never_make_a_cycle),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(writes_need_an_admin_token),
        cmocka_unit_test(serves_its_openapi_document),
        cmocka_unit_test(keeps_serving_without_redis),
        cmocka_unit_test(answers_503_without_the_database_and_recovers),
    };
    return mh_run_group("category", tests, setup, teardown);
}
