/*
 * state.c: the state API through a host on a real SQLite file: absent,
 * set/get/delete, expiry invisible at once (before any purge), a write
 * without TTL clearing an earlier expiry, empty and 1 MiB values, awkward
 * IDs stored verbatim, the ctx form inside turns (and refused outside),
 * concurrent writers folded into group commits, staged writes
 * (committed when the turn ends, before its caller is answered), and turns
 * parked while their write commits (one turn per actor at a time, in order,
 * still themselves when resumed, no thread each, through a stop).
 */
#include "test.h"

#include <pthread.h>

static actor_host *g_host;

static int invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                  const void *req, size_t len, void *payload)
{
    if (strcmp(method, "set") == 0)
        return actor_ctx_state_set(ctx, req, len, 0);
    if (strcmp(method, "get") == 0) {
        int rc = actor_ctx_state_get(resp, ctx);
        if (rc == ACTOR_ENOTFOUND) {
            actor_buf_clear(resp);
            return actor_buf_puts(resp, "<none>");
        }
        return rc;
    }
    if (strcmp(method, "delete") == 0)
        return actor_ctx_state_delete(ctx);
    if (strcmp(method, "sset") == 0) { /* stage, answer "ok" */
        int rc = actor_ctx_state_stage_set(ctx, req, len, 0);
        return rc ? rc : actor_buf_puts(resp, "ok");
    }
    if (strcmp(method, "sfail") == 0) { /* stage, then fail the turn */
        int rc = actor_ctx_state_stage_set(ctx, req, len, 0);
        return rc ? rc : actor_error_set(-1002, "turn failed after staging");
    }
    if (strcmp(method, "sread") == 0) { /* stage, read it back in the turn */
        int rc = actor_ctx_state_stage_set(ctx, req, len, 0);
        return rc ? rc : actor_ctx_state_get(resp, ctx);
    }
    if (strcmp(method, "sbadttl") == 0)
        return actor_ctx_state_stage_set(ctx, req, len, -1);
    if (strcmp(method, "sdel") == 0)
        return actor_ctx_state_stage_delete(ctx);
    if (strcmp(method, "sthenset") == 0) { /* stage "staged", then a blocking set */
        int rc = actor_ctx_state_stage_set(ctx, "staged", 6, 0);
        return rc ? rc : actor_ctx_state_set(ctx, req, len, 0);
    }
    if (strcmp(method, "setthens") == 0) { /* a blocking set, then stage */
        int rc = actor_ctx_state_set(ctx, "blocking", 8, 0);
        return rc ? rc : actor_ctx_state_stage_set(ctx, req, len, 0);
    }
    if (strcmp(method, "incr") == 0) { /* read the count, stage count + 1 */
        char num[32];
        long n = 0;
        int rc = actor_ctx_state_get(resp, ctx);
        if (rc == 0)
            n = strtol(resp->ptr, NULL, 10);
        else if (rc != ACTOR_ENOTFOUND)
            return rc;
        int k = snprintf(num, sizeof(num), "%ld", n + 1);
        actor_buf_clear(resp);
        return actor_ctx_state_stage_set(ctx, num, (size_t)k, 0);
    }
    if (strcmp(method, "leak") == 0) {
        /* Hand the ctx to the caller (misuse, for the test below). */
        return actor_buf_put(resp, &ctx, sizeof(ctx));
    }
    return actor_error_set(ACTOR_EINVAL, "unknown method %s", method);
}

static int g_hook_rc = 1;

/* Staging is for invoke turns only: the activate hook is refused. */
static int hook_activate(void **instance, actor_ctx *ctx, void *payload)
{
    g_hook_rc = actor_ctx_state_stage_set(ctx, "x", 1, 0);
    return 0;
}

static int hook_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                       const void *req, size_t len, void *payload)
{
    return 0;
}

static actor_host *start_host(const char *name)
{
    char url[700];
    actor_host_options o;
    actor_type t = ACTOR_TYPE_INIT;
    actor_host *h = NULL;

    actor_host_options_init(&o);
    o.workers = 2;
    t.name = "doc";
    t.invoke = invoke;
    actor_type t2 = ACTOR_TYPE_INIT;
    t2.name = "hooked";
    t2.activate = hook_activate;
    t2.invoke = hook_invoke;
    if (actor_host_new(&h, t_sqlite_url(url, sizeof(url), name), &o) != 0 ||
        actor_host_register(h, &t, NULL) != 0 || actor_host_register(h, &t2, NULL) != 0 ||
        actor_host_start(h) != 0) {
        fprintf(stderr, "host: %s\n", actor_error_last());
        actor_host_free(h);
        return NULL;
    }
    g_host = h;
    return h;
}

static void test_absent_set_get_delete(void)
{
    actor_host *h = start_host("basic.db");
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    T_EQ(actor_state_get(&b, h, "doc", "a"), ACTOR_ENOTFOUND);
    T_CONTAINS(actor_error_last(), "doc/a");
    T_EQ(actor_state_delete(h, "doc", "a"), ACTOR_ENOTFOUND);
    T_OK(actor_state_set(h, "doc", "a", "{\"n\":1}", 7, 0));
    T_OK(actor_state_get(&b, h, "doc", "a"));
    T_EQ(b.size, 7);
    T_STREQ(b.ptr, "{\"n\":1}");
    T_OK(actor_state_set(h, "doc", "a", "{\"n\":2}", 7, 0));
    T_OK(actor_state_get(&b, h, "doc", "a"));
    T_STREQ(b.ptr, "{\"n\":2}");
    /* Same ID, other type: separate. */
    T_EQ(actor_state_get(&b, h, "other", "a"), ACTOR_ENOTFOUND);
    T_OK(actor_state_delete(h, "doc", "a"));
    T_EQ(actor_state_get(&b, h, "doc", "a"), ACTOR_ENOTFOUND);
    T_EQ(actor_state_delete(h, "doc", "a"), ACTOR_ENOTFOUND);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_ttl(void)
{
    actor_host *h = start_host("ttl.db");
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    /* Expired state is invisible at once; nothing purges it here. */
    T_OK(actor_state_set(h, "doc", "short", "x", 1, 30));
    T_OK(actor_state_get(&b, h, "doc", "short"));
    T_ASSERT(T_WAIT_UNTIL(actor_state_get(&b, h, "doc", "short") == ACTOR_ENOTFOUND, 10000));
    T_EQ(actor_state_delete(h, "doc", "short"), ACTOR_ENOTFOUND);

    /* A write without TTL clears an earlier expiry: write "keep" with a
     * TTL, then again without; a probe written with the same TTL at the
     * same time expires, "keep" does not. */
    T_OK(actor_state_set(h, "doc", "keep", "1", 1, 60));
    T_OK(actor_state_set(h, "doc", "probe", "1", 1, 60));
    T_OK(actor_state_set(h, "doc", "keep", "2", 1, 0));
    T_ASSERT(T_WAIT_UNTIL(actor_state_get(&b, h, "doc", "probe") == ACTOR_ENOTFOUND, 10000));
    T_OK(actor_state_get(&b, h, "doc", "keep"));
    T_STREQ(b.ptr, "2");

    /* A new TTL replaces an old one. */
    T_OK(actor_state_set(h, "doc", "ext", "1", 1, 40));
    T_OK(actor_state_set(h, "doc", "ext", "2", 1, 3600000));
    T_OK(actor_state_set(h, "doc", "probe2", "1", 1, 40));
    T_ASSERT(T_WAIT_UNTIL(actor_state_get(&b, h, "doc", "probe2") == ACTOR_ENOTFOUND, 10000));
    T_OK(actor_state_get(&b, h, "doc", "ext"));

    T_EQ(actor_state_set(h, "doc", "neg", "1", 1, -5), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "is negative");
    T_EQ(actor_state_set(h, "doc", "neg", "1", 1, ACTOR_TTL_MAX + 1), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "longer than 100 years");
    T_OK(actor_state_set(h, "doc", "long", "1", 1, ACTOR_TTL_MAX));
    T_OK(actor_state_get(&b, h, "doc", "long"));
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_values(void)
{
    actor_host *h = start_host("values.db");
    actor_buf b = ACTOR_BUF_INIT;
    size_t big = 1024 * 1024;
    char *v = malloc(big);

    T_ASSERT(h != NULL && v != NULL);
    T_OK(actor_state_set(h, "doc", "empty", "", 0, 0));
    T_OK(actor_state_get(&b, h, "doc", "empty"));
    T_EQ(b.size, 0);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)(i * 31 + 7); /* includes NUL bytes */
    T_OK(actor_state_set(h, "doc", "big", v, big, 0));
    T_OK(actor_state_get(&b, h, "doc", "big"));
    T_EQ(b.size, big);
    T_CHECK(b.size == big && memcmp(b.ptr, v, big) == 0);
    free(v);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_awkward_ids(void)
{
    static const char *ids[] = {
        "it's",
        "say \"hi\"",
        "back\\slash",
        "100%",
        "under_score",
        "%_%",
        "h\xc3\xa9llo w\xc3\xb6rld",
        "\xe6\x97\xa5\xe6\x9c\xac",
        "\xf0\x9f\x98\x80",
        "'; DROP TABLE actor_state; --",
        "x' OR '1'='1",
        "line\nbreak",
        "tab\there",
        " lead and trail ",
    };
    actor_host *h = start_host("ids.db");
    actor_buf b = ACTOR_BUF_INIT;
    size_t n = sizeof(ids) / sizeof(ids[0]);

    T_ASSERT(h != NULL);
    for (size_t i = 0; i < n; i++) {
        char val[32];
        snprintf(val, sizeof(val), "v%zu", i);
        T_OK(actor_state_set(h, "doc", ids[i], val, strlen(val), 0));
    }
    for (size_t i = 0; i < n; i++) {
        char val[32];
        snprintf(val, sizeof(val), "v%zu", i);
        T_OK(actor_state_get(&b, h, "doc", ids[i]));
        T_STREQ(b.ptr, val);
        /* And through an actor with that ID. */
        T_OK(actor_invoke(&b, h, "doc", ids[i], "get", NULL, 0));
        T_STREQ(b.ptr, val);
    }
    /* Wildcards match only themselves. */
    T_EQ(actor_state_get(&b, h, "doc", "1%"), ACTOR_ENOTFOUND);
    T_EQ(actor_state_get(&b, h, "doc", "under%"), ACTOR_ENOTFOUND);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_ctx_state(void)
{
    actor_host *h = start_host("ctx.db");
    actor_buf b = ACTOR_BUF_INIT;
    actor_ctx *leaked = NULL;

    T_ASSERT(h != NULL);
    T_OK(actor_invoke(&b, h, "doc", "c1", "get", NULL, 0));
    T_STREQ(b.ptr, "<none>");
    T_OK(actor_invoke(&b, h, "doc", "c1", "set", "hello", 5));
    T_OK(actor_invoke(&b, h, "doc", "c1", "get", NULL, 0));
    T_STREQ(b.ptr, "hello");
    T_OK(actor_state_get(&b, h, "doc", "c1"));
    T_STREQ(b.ptr, "hello");
    T_OK(actor_invoke(&b, h, "doc", "c1", "delete", NULL, 0));
    T_EQ(actor_invoke(&b, h, "doc", "c1", "delete", NULL, 0), ACTOR_ENOTFOUND);
    T_EQ(actor_state_get(&b, h, "doc", "c1"), ACTOR_ENOTFOUND);

    /* A ctx used outside its actor's turn is refused, not trusted. */
    T_OK(actor_invoke(&b, h, "doc", "c1", "leak", NULL, 0));
    T_ASSERT(b.size == sizeof(leaked));
    memcpy(&leaked, b.ptr, sizeof(leaked));
    T_EQ(actor_ctx_state_set(leaked, "x", 1, 0), ACTOR_ESTATE);
    T_CONTAINS(actor_error_last(), "outside the turn");
    T_EQ(actor_ctx_state_get(&b, leaked), ACTOR_ESTATE);
    T_EQ(actor_ctx_state_delete(leaked), ACTOR_ESTATE);
    T_EQ(actor_ctx_state_get(&b, NULL), ACTOR_EINVAL);
    T_EQ(actor_state_get(&b, h, "doc", "c1"), ACTOR_ENOTFOUND);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

#define WRITERS 16
#define WRITES  200

static void *writer(void *arg)
{
    long k = (long)arg;
    char id[32], val[32];
    long bad = 0;

    for (int i = 0; i < WRITES; i++) {
        snprintf(id, sizeof(id), "w%ld", k);
        int n = snprintf(val, sizeof(val), "%d", i);
        if (actor_invoke(NULL, g_host, "doc", id, "set", val, (size_t)n) != 0)
            bad++;
    }
    return (void *)bad;
}

static void test_concurrent_writers(void)
{
    actor_host *h = start_host("writers.db");
    pthread_t th[WRITERS];
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    for (long i = 0; i < WRITERS; i++)
        pthread_create(&th[i], NULL, writer, (void *)i);
    for (int i = 0; i < WRITERS; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        T_EQ((long)bad, 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w%d", i);
        T_OK(actor_state_get(&b, h, "doc", id));
        T_STREQ(b.ptr, "199");
    }
    actor_buf_dispose(&b);
    actor_host_free(h);
}

/* Staged writes: committed before the caller is answered, dropped when the
 * turn fails, visible to the turn itself, replaced by a later blocking write
 * of the same turn, and refused outside invoke turns. */
static void test_staged_writes(void)
{
    actor_host *h = start_host("staged.db");
    actor_buf b = ACTOR_BUF_INIT;
    actor_ctx *leaked = NULL;

    T_ASSERT(h != NULL);
    T_OK(actor_invoke(&b, h, "doc", "s1", "sset", "one", 3));
    T_STREQ(b.ptr, "ok");
    /* Answered, so committed: a service-level read sees it. */
    T_OK(actor_state_get(&b, h, "doc", "s1"));
    T_STREQ(b.ptr, "one");

    T_EQ(actor_invoke(&b, h, "doc", "s1", "sfail", "two", 3), -1002);
    T_CONTAINS(actor_error_last(), "turn failed after staging");
    T_OK(actor_state_get(&b, h, "doc", "s1"));
    T_STREQ(b.ptr, "one");

    T_OK(actor_invoke(&b, h, "doc", "s1", "sread", "three", 5));
    T_STREQ(b.ptr, "three");
    T_OK(actor_state_get(&b, h, "doc", "s1"));
    T_STREQ(b.ptr, "three");

    T_OK(actor_invoke(&b, h, "doc", "s1", "sthenset", "four", 4));
    T_OK(actor_state_get(&b, h, "doc", "s1"));
    T_STREQ(b.ptr, "four");
    T_OK(actor_invoke(&b, h, "doc", "s1", "setthens", "five", 4));
    T_OK(actor_state_get(&b, h, "doc", "s1"));
    T_STREQ(b.ptr, "five");

    T_OK(actor_invoke(&b, h, "doc", "s1", "sdel", NULL, 0));
    T_EQ(actor_state_get(&b, h, "doc", "s1"), ACTOR_ENOTFOUND);
    T_OK(actor_invoke(&b, h, "doc", "s1", "sdel", NULL, 0)); /* nothing to delete: fine */

    /* Bad input is refused at the call, and the turn's error reaches the
     * caller. */
    T_EQ(actor_invoke(&b, h, "doc", "s1", "sbadttl", "x", 1), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "TTL -1 ms is negative");

    /* Not from the activate hook, nor outside the turn. */
    T_OK(actor_invoke(&b, h, "hooked", "k1", "x", NULL, 0));
    T_EQ(g_hook_rc, ACTOR_ESTATE);
    T_OK(actor_invoke(&b, h, "doc", "s1", "leak", NULL, 0));
    memcpy(&leaked, b.ptr, sizeof(leaked));
    T_EQ(actor_ctx_state_stage_set(leaked, "x", 1, 0), ACTOR_ESTATE);
    T_EQ(actor_ctx_state_stage_delete(leaked), ACTOR_ESTATE);
    T_EQ(actor_state_get(&b, h, "doc", "s1"), ACTOR_ENOTFOUND);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

/* Each turn reads the count and stages count + 1; the next turn of the
 * actor must start only after the write is committed, or increments are
 * lost. Several senders, several actors, asynchronous invokes. */
#define INCR_ACTORS  4
#define INCR_SENDERS 4
#define INCR_EACH    150

static int g_incr_fail;

static void incr_done(int error, const void *resp, size_t len, void *payload)
{
    if (error)
        __atomic_add_fetch(&g_incr_fail, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch((long *)payload, 1, __ATOMIC_SEQ_CST);
}

static void *incr_sender(void *arg)
{
    long *answered = arg;
    char id[32];

    for (int i = 0; i < INCR_EACH; i++)
        for (int k = 0; k < INCR_ACTORS; k++) {
            snprintf(id, sizeof(id), "n%d", k);
            if (actor_invoke_async(g_host, "doc", id, "incr", NULL, 0, incr_done, answered) != 0)
                __atomic_add_fetch(&g_incr_fail, 1000, __ATOMIC_SEQ_CST);
        }
    return NULL;
}

static void test_staged_increments(void)
{
    actor_host *h = start_host("incr.db");
    pthread_t th[INCR_SENDERS];
    actor_buf b = ACTOR_BUF_INIT;
    long answered = 0;
    const long total = (long)INCR_SENDERS * INCR_EACH * INCR_ACTORS;

    T_ASSERT(h != NULL);
    for (int i = 0; i < INCR_SENDERS; i++)
        pthread_create(&th[i], NULL, incr_sender, &answered);
    for (int i = 0; i < INCR_SENDERS; i++)
        pthread_join(th[i], NULL);
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&answered, __ATOMIC_SEQ_CST) == total, 60000));
    T_EQ(g_incr_fail, 0);
    for (int k = 0; k < INCR_ACTORS; k++) {
        char id[32];
        snprintf(id, sizeof(id), "n%d", k);
        T_OK(actor_state_get(&b, h, "doc", id));
        T_EQ(strtol(b.ptr, NULL, 10), (long)INCR_SENDERS * INCR_EACH);
    }
    actor_buf_dispose(&b);
    actor_host_free(h);
}

/* ---- turns parked on the group commit -------------------------------------
 * A turn waiting for its write to commit is parked, and its worker runs
 * other actors meanwhile. Each "step" turn: checks that no other turn of its
 * actor runs (one at a time, even while it is parked), writes its number
 * with a blocking set, then stages "<n>s" through its ctx (refused unless
 * the turn is still itself on its thread after resuming). */
#define PARK_ACTORS 64
#define PARK_STEPS  20

struct parker {
    int busy;
    int seen; /* steps turned, in order */
};

static int g_park_bad;

static void park_bad(const char *what)
{
    if (__atomic_add_fetch(&g_park_bad, 1, __ATOMIC_SEQ_CST) == 1)
        fprintf(stderr, "parked turn: %s\n", what);
}

static int parker_activate(void **instance, actor_ctx *ctx, void *payload)
{
    *instance = calloc(1, sizeof(struct parker));
    return *instance ? 0 : ACTOR_ENOMEM;
}

static void parker_deactivate(void *instance, actor_ctx *ctx, void *payload)
{
    free(instance);
}

static int parker_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                         const void *req, size_t len, void *payload)
{
    struct parker *pk = instance;
    char val[32];
    long n;
    int k, rc;

    if (len != sizeof(n))
        return actor_error_set(ACTOR_EINVAL, "step wants a long");
    memcpy(&n, req, sizeof(n));
    if (pk->busy)
        park_bad("two turns of one actor at once");
    if (n != pk->seen)
        park_bad("steps out of order");
    pk->busy = 1;
    k = snprintf(val, sizeof(val), "%ld", n);
    if ((rc = actor_ctx_state_set(ctx, val, (size_t)k, 0)) != 0) {
        pk->busy = 0;
        return rc;
    }
    /* Staging checks that ctx is the turn running on this thread. */
    k = snprintf(val, sizeof(val), "%lds", n);
    rc = actor_ctx_state_stage_set(ctx, val, (size_t)k, 0);
    pk->seen++;
    pk->busy = 0;
    return rc;
}

struct park_count {
    long answered;
    long failed;
    long refused; /* ACTOR_ESHUTDOWN: the host stopped first */
};

static void park_done(int error, const void *resp, size_t len, void *payload)
{
    struct park_count *pc = payload;

    if (error == ACTOR_ESHUTDOWN)
        __atomic_add_fetch(&pc->refused, 1, __ATOMIC_SEQ_CST);
    else if (error)
        __atomic_add_fetch(&pc->failed, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&pc->answered, 1, __ATOMIC_SEQ_CST);
}

/* A host with one worker and one type on SQLite file `name`; started
 * unless `start` is 0. */
static actor_host *one_worker_host(const char *name, const actor_type *t, int start)
{
    char url[700];
    actor_host_options o;
    actor_host *h = NULL;

    actor_host_options_init(&o);
    o.workers = 1;
    if (actor_host_new(&h, t_sqlite_url(url, sizeof(url), name), &o) != 0 ||
        actor_host_register(h, t, NULL) != 0 || (start && actor_host_start(h) != 0)) {
        fprintf(stderr, "host: %s\n", actor_error_last());
        actor_host_free(h);
        return NULL;
    }
    return h;
}

static actor_host *start_parker_host(const char *name)
{
    actor_type t = ACTOR_TYPE_INIT;

    t.name = "parker";
    t.activate = parker_activate;
    t.deactivate = parker_deactivate;
    t.invoke = parker_invoke;
    return one_worker_host(name, &t, 1);
}

/* Send every actor its steps, actor after actor, step after step. */
static int send_steps(actor_host *h, struct park_count *pc)
{
    char id[32];

    for (long n = 0; n < PARK_STEPS; n++)
        for (int i = 0; i < PARK_ACTORS; i++) {
            snprintf(id, sizeof(id), "p%d", i);
            int rc = actor_invoke_async(h, "parker", id, "step", &n, sizeof(n), park_done, pc);
            if (rc != 0)
                return rc;
        }
    return 0;
}

static void test_parked_turns(void)
{
    actor_host *h = start_parker_host("parked.db");
    actor_buf b = ACTOR_BUF_INIT;
    struct park_count pc = {0, 0, 0};
    const long total = (long)PARK_ACTORS * PARK_STEPS;
    long before, after;
    char id[32], want[32];

    T_ASSERT(h != NULL);
    g_park_bad = 0;
    before = t_process_threads();
    T_ASSERT(before > 0);
    T_OK(send_steps(h, &pc));
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&pc.answered, __ATOMIC_SEQ_CST) == total, 60000));
    T_EQ(pc.failed, 0);
    T_EQ(g_park_bad, 0);
    for (int i = 0; i < PARK_ACTORS; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        snprintf(want, sizeof(want), "%ds", PARK_STEPS - 1);
        T_OK(actor_state_get(&b, h, "parker", id));
        T_STREQ(b.ptr, want);
    }
    /* 64 turns waited on the store at once on one worker: parked, they
     * needed no thread each (a blocked thread each would be 64 more). */
    after = t_process_threads();
    if (after - before >= 8)
        T_FAIL("%ld threads before the writes, %ld after", before, after);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

/* Stopping the host while turns are parked: each message is answered
 * exactly once (done, or refused because the host stopped), nothing
 * hangs, and what was answered as done is stored. */
static void test_parked_turns_stop(void)
{
    actor_host *h = start_parker_host("parkstop.db");
    struct park_count pc = {0, 0, 0};
    const long total = (long)PARK_ACTORS * PARK_STEPS;

    T_ASSERT(h != NULL);
    g_park_bad = 0;
    T_OK(send_steps(h, &pc));
    /* Some turns are in flight or parked when the stop begins. */
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&pc.answered, __ATOMIC_SEQ_CST) > 0, 60000));
    T_OK(actor_host_stop(h));
    T_EQ(__atomic_load_n(&pc.answered, __ATOMIC_SEQ_CST), total);
    T_EQ(pc.failed, 0);
    T_EQ(g_park_bad, 0);
    actor_host_free(h);
}

/* Hooks that write: each activate ends with "a" and each deactivate with
 * "d", with blocking sets that park the hook; 32 actors on one worker, the
 * deactivations run by the stop. */
#define HOOK_ACTORS 32

/* Two writes each: the second is refused unless the hook is still itself
 * on its thread after the first parked it. */
static int hookw_activate(void **instance, actor_ctx *ctx, void *payload)
{
    int rc = actor_ctx_state_set(ctx, "x", 1, 0);
    return rc ? rc : actor_ctx_state_set(ctx, "a", 1, 0);
}

static void hookw_deactivate(void *instance, actor_ctx *ctx, void *payload)
{
    if (actor_ctx_state_set(ctx, "x", 1, 0) != 0 || actor_ctx_state_set(ctx, "d", 1, 0) != 0)
        park_bad(actor_error_last());
}

static int hookw_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                        const void *req, size_t len, void *payload)
{
    return actor_ctx_state_get(resp, ctx);
}

static void test_parked_hooks(void)
{
    char id[32];
    actor_type t = ACTOR_TYPE_INIT;
    actor_host *h;
    actor_buf b = ACTOR_BUF_INIT;
    struct park_count pc = {0, 0, 0};

    t.name = "hookw";
    t.activate = hookw_activate;
    t.deactivate = hookw_deactivate;
    t.invoke = hookw_invoke;
    g_park_bad = 0;
    h = one_worker_host("hooks.db", &t, 1);
    T_ASSERT(h != NULL);
    for (int i = 0; i < HOOK_ACTORS; i++) {
        snprintf(id, sizeof(id), "h%d", i);
        T_OK(actor_invoke_async(h, "hookw", id, "get", NULL, 0, park_done, &pc));
    }
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&pc.answered, __ATOMIC_SEQ_CST) == HOOK_ACTORS, 60000));
    T_EQ(pc.failed, 0);
    for (int i = 0; i < HOOK_ACTORS; i++) {
        snprintf(id, sizeof(id), "h%d", i);
        T_OK(actor_state_get(&b, h, "hookw", id));
        T_STREQ(b.ptr, "a");
    }
    /* The stop deactivates them all; their hooks write on the way out. */
    T_OK(actor_host_stop(h));
    T_EQ(g_park_bad, 0);
    actor_host_free(h);
    /* Read back through a host on the same file, not started. */
    h = one_worker_host("hooks.db", &t, 0);
    T_ASSERT(h != NULL);
    for (int i = 0; i < HOOK_ACTORS; i++) {
        snprintf(id, sizeof(id), "h%d", i);
        T_OK(actor_state_get(&b, h, "hookw", id));
        T_STREQ(b.ptr, "d");
    }
    actor_buf_dispose(&b);
    actor_host_free(h);
}

int main(void)
{
    T_RUN(test_absent_set_get_delete);
    T_RUN(test_ttl);
    T_RUN(test_values);
    T_RUN(test_awkward_ids);
    T_RUN(test_ctx_state);
    T_RUN(test_concurrent_writers);
    T_RUN(test_staged_writes);
    T_RUN(test_staged_increments);
    T_RUN(test_parked_turns);
    T_RUN(test_parked_turns_stop);
    T_RUN(test_parked_hooks);
    return t_done();
}
