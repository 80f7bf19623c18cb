/*
 * client.c: the generated typed state client on a running host (SQLite file
 * in the test directory). Inside actors: the zero value when nothing is
 * stored, set/get/delete, the activation cache (used between turns, dropped
 * on writes through the ctx and on deactivation, never handing out the
 * cached value itself), TTL, idempotent delete, and a stored value that
 * does not decode: ACTOR_EDECODE with its path, row untouched. Outside
 * actors: the _at forms.
 */
#include "test.h"

#include "types.gen.h"

static int invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                  const void *req, size_t len, void *payload)
{
    item v;
    int rc;

    if (strcmp(method, "get") == 0) {
        if ((rc = item_state_get(&v, ctx)) != 0)
            return rc;
        rc = item_encode(resp, &v);
        item_free(&v);
        return rc;
    }
    if (strcmp(method, "set") == 0 || strcmp(method, "set_ttl") == 0) {
        if ((rc = item_decode(&v, req, len, NULL)) != 0)
            return rc;
        rc = item_state_set(ctx, &v, method[3] ? 300 : 0);
        item_free(&v);
        return rc;
    }
    if (strcmp(method, "delete") == 0)
        return item_state_delete(ctx);
    if (strcmp(method, "stage") == 0 || strcmp(method, "stage_fail") == 0) {
        /* Stage, read it back in the turn, and fail the turn if asked. */
        item back;
        if ((rc = item_decode(&v, req, len, NULL)) != 0)
            return rc;
        rc = item_state_stage(ctx, &v, 0);
        if (rc == 0 && (rc = item_state_get(&back, ctx)) == 0) {
            if (!item_equal(&back, &v))
                rc = actor_error_set(ACTOR_ERROR, "staged value not read back");
            item_free(&back);
        }
        item_free(&v);
        if (rc == 0 && method[5] == '_')
            rc = actor_error_set(-1003, "failed after staging");
        return rc;
    }
    if (strcmp(method, "mutate_copy") == 0) {
        /* Change what get returned without setting it. */
        if ((rc = item_state_get(&v, ctx)) != 0)
            return rc;
        free(v.name);
        v.name = NULL;
        v.qty = -1;
        item_free(&v);
        return 0;
    }
    return actor_error_set(ACTOR_EINVAL, "unknown method %s", method);
}

static actor_host *start_host(const char *name)
{
    char url[700];
    actor_host_options o;
    actor_type t = ACTOR_TYPE_INIT;
    actor_host *h = NULL;

    actor_host_options_init(&o);
    o.workers = 2;
    t.name = "item";
    t.invoke = invoke;
    if (actor_host_new(&h, t_sqlite_url(url, sizeof(url), name), &o) != 0 ||
        actor_host_register(h, &t, NULL) != 0 || actor_host_start(h) != 0) {
        fprintf(stderr, "host: %s\n", actor_error_last());
        actor_host_free(h);
        return NULL;
    }
    return h;
}

static int call(actor_host *h, const char *id, const char *method, const char *req, actor_buf *resp)
{
    return actor_invoke(resp, h, "item", id, method, req, req ? strlen(req) : 0);
}

static const char *ZERO = "{\"name\":null,\"quantity\":0,\"price\":0,\"tint\":\"COLOR_RED\"}";
static const char *A = "{\"name\":\"a\",\"quantity\":1,\"price\":1.5,\"tint\":\"blue\"}";
static const char *B = "{\"name\":\"b\",\"quantity\":2,\"price\":2.5,\"tint\":\"COLOR_GREEN\"}";

static void test_zero_set_get_delete(void)
{
    actor_host *h = start_host("basic.db");
    actor_buf b = ACTOR_BUF_INIT;
    item v;

    T_ASSERT(h != NULL);
    T_OK(call(h, "x", "get", NULL, &b));
    T_STREQ(b.ptr, ZERO);
    T_OK(call(h, "x", "set", A, &b));
    T_OK(call(h, "x", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    /* Stored as the encoding, readable outside the actor. */
    T_OK(actor_state_get(&b, h, "item", "x"));
    T_STREQ(b.ptr, A);
    T_OK(item_state_get_at(&v, h, "item", "x"));
    T_STREQ(v.name, "a");
    item_free(&v);
    /* Delete is idempotent and leaves the zero value. */
    T_OK(call(h, "x", "delete", NULL, &b));
    T_OK(call(h, "x", "delete", NULL, &b));
    T_OK(call(h, "x", "get", NULL, &b));
    T_STREQ(b.ptr, ZERO);
    T_EQ(actor_state_get(&b, h, "item", "x"), ACTOR_ENOTFOUND);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

/* The typed stage: committed with the answer, readable in its own turn,
 * and neither stored nor left in the cache when the turn fails. */
static void test_stage(void)
{
    actor_host *h = start_host("stage.db");
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    T_OK(call(h, "s", "stage", A, &b));
    T_OK(actor_state_get(&b, h, "item", "s"));
    T_OK(call(h, "s", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    T_EQ(call(h, "s", "stage_fail", B, &b), -1003);
    T_OK(call(h, "s", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    T_OK(actor_state_get(&b, h, "item", "s"));
    T_CONTAINS(b.ptr, "\"name\":\"a\"");
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_cache(void)
{
    actor_host *h = start_host("cache.db");
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    T_OK(call(h, "c", "set", A, &b));
    T_OK(call(h, "c", "get", NULL, &b));
    /* A service-level write does not go through the actor: the active
     * actor keeps serving its cached value... */
    T_OK(actor_state_set(h, "item", "c", B, strlen(B), 0));
    T_OK(call(h, "c", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    /* ...until it is deactivated, which drops the cache. */
    T_OK(actor_host_halt(h, "item", "c"));
    T_OK(call(h, "c", "get", NULL, &b));
    T_STREQ(b.ptr, B);
    /* A write through the ctx replaces the cached value. */
    T_OK(call(h, "c", "set", A, &b));
    T_OK(call(h, "c", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    /* get hands out a copy: changing it changes nothing. */
    T_OK(call(h, "c", "mutate_copy", NULL, &b));
    T_OK(call(h, "c", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    /* Delete through the ctx: the zero value, also cached. */
    T_OK(call(h, "c", "delete", NULL, &b));
    T_OK(actor_state_set(h, "item", "c", B, strlen(B), 0));
    T_OK(call(h, "c", "get", NULL, &b));
    T_STREQ(b.ptr, ZERO);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_ttl(void)
{
    actor_host *h = start_host("ttl.db");
    actor_buf b = ACTOR_BUF_INIT;
    item v;

    T_ASSERT(h != NULL);
    T_OK(call(h, "t", "set_ttl", A, &b));
    T_OK(call(h, "t", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    T_OK(item_state_get_at(&v, h, "item", "t"));
    T_STREQ(v.name, "a");
    item_free(&v);
    /* Expired: gone for the store and for the active actor's cache. */
    T_ASSERT(T_WAIT_UNTIL(actor_state_get(&b, h, "item", "t") == ACTOR_ENOTFOUND, 10000));
    T_OK(item_state_get_at(&v, h, "item", "t"));
    T_CHECK(v.name == NULL && v.qty == 0);
    item_free(&v);
    T_OK(call(h, "t", "get", NULL, &b));
    T_STREQ(b.ptr, ZERO);
    /* The _at forms with a TTL. */
    item_init(&v);
    v.qty = 9;
    T_OK(item_state_set_at(h, "item", "t2", &v, 300));
    T_OK(item_state_get_at(&v, h, "item", "t2"));
    T_EQ(v.qty, 9);
    T_ASSERT(T_WAIT_UNTIL(actor_state_get(&b, h, "item", "t2") == ACTOR_ENOTFOUND, 10000));
    T_OK(item_state_get_at(&v, h, "item", "t2"));
    T_EQ(v.qty, 0);
    T_OK(item_state_delete_at(h, "item", "t2"));
    T_OK(item_state_delete_at(h, "item", "t2"));
    /* A value that already had a TTL when the actor read it: cached with
     * the expiry it was read with, not served past it. */
    T_OK(actor_state_set(h, "item", "t3", A, strlen(A), 300));
    T_OK(call(h, "t3", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    T_ASSERT(T_WAIT_UNTIL(actor_state_get(&b, h, "item", "t3") == ACTOR_ENOTFOUND, 10000));
    T_OK(call(h, "t3", "get", NULL, &b));
    T_STREQ(b.ptr, ZERO);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_undecodable_state(void)
{
    actor_host *h = start_host("bad.db");
    actor_buf b = ACTOR_BUF_INIT;
    const char *bad = "{\"name\":\"a\",\"quantity\":\"lots\"}";
    item v;

    T_ASSERT(h != NULL);
    T_OK(actor_state_set(h, "item", "bad", bad, strlen(bad), 0));
    T_EQ(call(h, "bad", "get", NULL, &b), ACTOR_EDECODE);
    T_CONTAINS(actor_error_last(), "item/bad");
    T_CONTAINS(actor_error_last(), "/quantity: expected an integer, got a string");
    T_EQ(item_state_get_at(&v, h, "item", "bad"), ACTOR_EDECODE);
    T_CONTAINS(actor_error_last(), "/quantity");
    T_CHECK(v.name == NULL);
    /* Twice: nothing was cached, and the row is untouched. */
    T_EQ(call(h, "bad", "get", NULL, &b), ACTOR_EDECODE);
    T_OK(actor_state_get(&b, h, "item", "bad"));
    T_STREQ(b.ptr, bad);
    /* Not JSON at all. */
    T_OK(actor_state_set(h, "item", "bad2", "\xff\x00zz", 4, 0));
    T_EQ(item_state_get_at(&v, h, "item", "bad2"), ACTOR_EDECODE);
    /* The actor still works: a set repairs it. */
    T_OK(call(h, "bad", "set", A, &b));
    T_OK(call(h, "bad", "get", NULL, &b));
    T_STREQ(b.ptr, A);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_outside_turn(void)
{
    item v;
    item_init(&v);
    /* NULL is not a ctx of a running turn. */
    T_CHECK(item_state_set_at(NULL, "item", "x", &v, 0) != 0);
    T_CHECK(item_state_get_at(NULL, NULL, "item", "x") != 0);
}

int main(void)
{
    T_RUN(test_zero_set_get_delete);
    T_RUN(test_cache);
    T_RUN(test_stage);
    T_RUN(test_ttl);
    T_RUN(test_undecodable_state);
    T_RUN(test_outside_turn);
    return t_done();
}
