/*
 * conformance.c: the provider conformance suite. One program for every
 * provider: it opens the store named on the command line through
 * actor_provider_open() and checks every member of sys/provider.h against
 * the contract (state, TTL, batches, fencing, hosts, leases, cleanup, bad
 * input, concurrent use). Each run uses its own random table prefix, so runs
 * sharing a server never collide.
 *
 * Usage: conformance URL | conformance sqlite:@tmp | conformance env:NAME
 * (env:NAME reads the URL from $NAME; unset means skipped (77), or a failure
 * when CI=true).
 */
#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <pthread.h>

#include "test.h"

/* Hosts die this long after their last heartbeat; small so the dead-host
 * cases finish quickly, large enough for a live host to stay alive between
 * a heartbeat and the check that follows it. */
#define DEADLINE_MS 1000
#define WAIT_MS     10000

static const char *store_url;
static char table_prefix[48];
static actor_provider *P;

static void config_init(actor_provider_config *cfg, const char *url)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->version = ACTOR_PROVIDER_CONFIG_VERSION;
    cfg->url = url;
    cfg->table_prefix = table_prefix;
    cfg->timeout_ms = 10000;
    cfg->pool_size = 4;
    cfg->lease_deadline_ms = DEADLINE_MS;
}

/* ---- op helpers ---------------------------------------------------------- */

static actor_store_op op_set(const char *type, const char *id, const char *val, int64_t ttl)
{
    actor_store_op op = {.kind = ACTOR_STORE_STATE_SET};
    op.type = type;
    op.id = id;
    op.value = val;
    op.value_len = val ? strlen(val) : 0;
    op.ttl_ms = ttl;
    return op;
}

static actor_store_op op_del(const char *type, const char *id)
{
    actor_store_op op = {.kind = ACTOR_STORE_STATE_DELETE};
    op.type = type;
    op.id = id;
    return op;
}

static actor_store_op op_acquire(const char *type, const char *id, const char *host)
{
    actor_store_op op = {.kind = ACTOR_STORE_LEASE_ACQUIRE};
    op.type = type;
    op.id = id;
    op.fence_host = host;
    return op;
}

static actor_store_op op_release(const char *type, const char *id, const char *host, uint64_t epoch)
{
    actor_store_op op = {.kind = ACTOR_STORE_LEASE_RELEASE};
    op.type = type;
    op.id = id;
    op.fence_host = host;
    op.fence_epoch = epoch;
    return op;
}

static actor_store_op fenced(actor_store_op op, const char *host, uint64_t epoch)
{
    op.fence_host = host;
    op.fence_epoch = epoch;
    return op;
}

/* Apply one op in its own batch; the batch must commit. Returns op->result. */
#define APPLY1(opp)                                                                                \
    ({                                                                                             \
        actor_store_op *t_op_ = (opp);                                                             \
        T_OK(P->apply(P, &t_op_, 1));                                                              \
        t_op_->result;                                                                             \
    })

static int do_set(const char *type, const char *id, const char *val, int64_t ttl)
{
    actor_store_op op = op_set(type, id, val, ttl);
    actor_store_op *p = &op;
    int rc = P->apply(P, &p, 1);
    return rc ? rc : op.result;
}

static int do_del(const char *type, const char *id)
{
    actor_store_op op = op_del(type, id);
    actor_store_op *p = &op;
    int rc = P->apply(P, &p, 1);
    return rc ? rc : op.result;
}

/* Acquire; returns the result and the epoch. */
static int do_acquire(const char *type, const char *id, const char *host, uint64_t *epoch)
{
    actor_store_op op = op_acquire(type, id, host);
    actor_store_op *p = &op;
    int rc = P->apply(P, &p, 1);
    if (rc == 0)
        rc = op.result;
    if (epoch)
        *epoch = op.out_epoch;
    actor_store_op_dispose(&op);
    return rc;
}

static int do_release(const char *type, const char *id, const char *host, uint64_t epoch)
{
    actor_store_op op = op_release(type, id, host, epoch);
    actor_store_op *p = &op;
    int rc = P->apply(P, &p, 1);
    return rc ? rc : op.result;
}

static int state_rc(const char *type, const char *id)
{
    actor_buf b = ACTOR_BUF_INIT;
    int rc = P->state_get(&b, P, type, id);
    actor_buf_dispose(&b);
    return rc;
}

/* Expect (type, id) to read back `want`, reporting what came back if not. */
#define T_STATE(type, id, want)                                                                    \
    do {                                                                                           \
        actor_buf t_b_ = ACTOR_BUF_INIT;                                                           \
        int t_rc_ = P->state_get(&t_b_, P, (type), (id));                                          \
        if (t_rc_ != 0)                                                                            \
            T_FAIL("state_get(%s, %s) returned %d: %s", (type), (id), t_rc_, actor_error_last());  \
        else                                                                                       \
            T_STREQ(t_b_.ptr, (want));                                                             \
        actor_buf_dispose(&t_b_);                                                                  \
    } while (0)

/* Remove everything cleanup can remove now, so the next counts are exact. */
static void drain(void)
{
    for (int i = 0; i < 1000; i++) {
        actor_cleanup_counts c = {0};
        T_OK(P->cleanup(&c, P, 10000));
        if (c.expired_state == 0 && c.dead_hosts == 0 && c.dead_leases == 0)
            return;
    }
    T_FAIL("cleanup never reached zero");
}

/* ---- state ---------------------------------------------------------------- */

static void test_state_absent(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    T_EQ(P->state_get(&b, P, "t_absent", "nobody"), ACTOR_ENOTFOUND);
    T_CHECK(b.ptr == NULL);
    actor_buf_dispose(&b);
}

static void test_state_set_get_overwrite(void)
{
    T_EQ(do_set("t_set", "a", "{\"n\":1}", 0), 0);
    T_STATE("t_set", "a", "{\"n\":1}");
    T_EQ(do_set("t_set", "a", "{\"n\":2,\"longer\":true}", 0), 0);
    T_STATE("t_set", "a", "{\"n\":2,\"longer\":true}");
    T_EQ(do_set("t_set", "a", "{}", 0), 0);
    T_STATE("t_set", "a", "{}");
}

static void test_state_empty_value(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    actor_store_op op = op_set("t_empty", "e", NULL, 0);
    T_EQ(APPLY1(&op), 0);
    T_OK(P->state_get(&b, P, "t_empty", "e"));
    T_EQ(b.size, 0);
    actor_buf_dispose(&b);
    /* An empty value is a value: it can be deleted, once. */
    T_EQ(do_del("t_empty", "e"), 0);
    T_EQ(state_rc("t_empty", "e"), ACTOR_ENOTFOUND);
}

static void test_state_large_value(void)
{
    size_t n = 1024 * 1024;
    unsigned char *v = malloc(n);
    actor_buf b = ACTOR_BUF_INIT;
    actor_store_op op;
    uint32_t x = 2463534242u;

    T_ASSERT(v != NULL);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v[i] = (unsigned char)x;
    }
    v[0] = 0; /* binary, with NUL bytes */
    v[n / 2] = 0;
    op = op_set("t_large", "big", NULL, 0);
    op.value = v;
    op.value_len = n;
    if (P->apply(P, (actor_store_op *[]){&op}, 1) != 0 || op.result != 0) {
        T_FAIL("1 MiB write failed: %s", actor_error_last());
        free(v);
        return;
    }
    T_EQ(P->state_get(&b, P, "t_large", "big"), 0);
    T_EQ(b.size, n);
    T_CHECK(b.size == n && memcmp(b.ptr, v, n) == 0);
    actor_buf_dispose(&b);
    free(v);
}

static void test_state_delete(void)
{
    T_EQ(do_set("t_del", "d", "x", 0), 0);
    T_EQ(do_del("t_del", "d"), 0);
    T_EQ(state_rc("t_del", "d"), ACTOR_ENOTFOUND);
    T_EQ(do_del("t_del", "d"), ACTOR_ENOTFOUND);
    T_EQ(do_del("t_del", "never"), ACTOR_ENOTFOUND);
    /* A write after a delete creates it again. */
    T_EQ(do_set("t_del", "d", "y", 0), 0);
    T_STATE("t_del", "d", "y");
}

static void test_state_ttl_expiry(void)
{
    actor_store_op ops[2];
    actor_cleanup_counts c = {0};

    drain();
    ops[0] = op_set("t_ttl", "gone", "x", 1);
    ops[1] = op_set("t_ttl", "gone2", "y", 1);
    T_OK(P->apply(P, (actor_store_op *[]){&ops[0], &ops[1]}, 2));
    T_EQ(ops[0].result, 0);
    T_EQ(ops[1].result, 0);
    /* Invisible as soon as it expires, before any purge. */
    T_CHECK(T_WAIT_UNTIL(state_rc("t_ttl", "gone") == ACTOR_ENOTFOUND, WAIT_MS));
    T_CHECK(T_WAIT_UNTIL(state_rc("t_ttl", "gone2") == ACTOR_ENOTFOUND, WAIT_MS));
    /* Deleting an expired value: absent (ENOTFOUND), and the row goes. */
    T_EQ(do_del("t_ttl", "gone2"), ACTOR_ENOTFOUND);
    /* The other row is still stored until cleanup removes it. */
    T_OK(P->cleanup(&c, P, 1000));
    T_EQ(c.expired_state, 1);
    memset(&c, 0, sizeof(c));
    T_OK(P->cleanup(&c, P, 1000));
    T_EQ(c.expired_state, 0);
    /* A write after expiry is a fresh value. */
    T_EQ(do_set("t_ttl", "gone", "again", 0), 0);
    T_STATE("t_ttl", "gone", "again");
}

static void test_state_ttl_cleared_and_extended(void)
{
    actor_store_op ops[3];

    /* Three values with the same 1 ms expiry, in one batch. */
    ops[0] = op_set("t_ttl2", "cleared", "a", 1);
    ops[1] = op_set("t_ttl2", "extended", "b", 1);
    ops[2] = op_set("t_ttl2", "witness", "c", 1);
    T_OK(P->apply(P, (actor_store_op *[]){&ops[0], &ops[1], &ops[2]}, 3));
    /* Rewrite two of them: without a TTL, and with a long one. */
    T_EQ(do_set("t_ttl2", "cleared", "a2", 0), 0);
    T_EQ(do_set("t_ttl2", "extended", "b2", 600000), 0);
    /* Once the witness expired, the old expiry of the others has passed. */
    T_CHECK(T_WAIT_UNTIL(state_rc("t_ttl2", "witness") == ACTOR_ENOTFOUND, WAIT_MS));
    T_STATE("t_ttl2", "cleared", "a2");
    T_STATE("t_ttl2", "extended", "b2");
    /* And a TTL can be put back on a value that had none. */
    T_EQ(do_set("t_ttl2", "cleared", "a3", 1), 0);
    T_CHECK(T_WAIT_UNTIL(state_rc("t_ttl2", "cleared") == ACTOR_ENOTFOUND, WAIT_MS));
    T_STATE("t_ttl2", "extended", "b2");
}

/* state_get_ttl: the remaining lifetime comes back with the value. */
static void test_state_get_ttl(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    int64_t ttl = -1;

    if (P->state_get_ttl == NULL)
        T_SKIP("state_get_ttl is optional and this provider has none");
    T_EQ(do_set("t_gttl", "forever", "v", 0), 0);
    T_OK(P->state_get_ttl(&b, &ttl, P, "t_gttl", "forever"));
    T_STREQ(b.ptr, "v");
    T_EQ(ttl, 0);
    T_EQ(do_set("t_gttl", "hour", "w", 3600000), 0);
    T_OK(P->state_get_ttl(&b, &ttl, P, "t_gttl", "hour"));
    T_STREQ(b.ptr, "w");
    /* Somewhere in the hour, allowing for the time the calls took. */
    T_CHECK(ttl > 3600000 - 60000 && ttl <= 3600000);
    T_EQ(do_set("t_gttl", "hour", "w2", 0), 0); /* a write without TTL clears it */
    T_OK(P->state_get_ttl(&b, &ttl, P, "t_gttl", "hour"));
    T_EQ(ttl, 0);
    T_EQ(P->state_get_ttl(&b, &ttl, P, "t_gttl", "absent"), ACTOR_ENOTFOUND);
    T_OK(P->state_get_ttl(&b, NULL, P, "t_gttl", "forever")); /* ttl_ms may be NULL */
    actor_buf_dispose(&b);
}

static void test_state_isolation(void)
{
    T_EQ(do_set("t_iso", "1", "one", 0), 0);
    T_EQ(do_set("t_iso", "2", "two", 0), 0);
    T_EQ(do_set("t_iso_other", "1", "other one", 0), 0);
    T_STATE("t_iso", "1", "one");
    T_STATE("t_iso", "2", "two");
    T_STATE("t_iso_other", "1", "other one");
    T_EQ(do_del("t_iso", "1"), 0);
    T_EQ(state_rc("t_iso", "1"), ACTOR_ENOTFOUND);
    T_STATE("t_iso_other", "1", "other one");
    T_STATE("t_iso", "2", "two");
    /* Type and ID do not run together: ("t_iso", "12") is not ("t_iso1", "2"). */
    T_EQ(do_set("t_iso1", "2", "x", 0), 0);
    T_EQ(state_rc("t_iso", "12"), ACTOR_ENOTFOUND);
}

static void test_state_odd_ids(void)
{
    static const char *const ids[] = {
        "it's",
        "say \"hi\"",
        "back\\slash",
        "100%",
        "a_c",
        "%",
        "_",
        "h\xC3\xA9llo \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC",
        "\xF0\x9F\x98\x80",
        "x'); DROP TABLE actor_state; --",
        "1 OR 1=1",
        "$1",
        "?",
        " leading and trailing ",
        "tab\there",
        "new\nline",
        "a*b",
        "[abc]",
        "{p}",
        "\\%",
    };
    size_t n = sizeof(ids) / sizeof(ids[0]);
    char val[64];

    for (size_t i = 0; i < n; i++) {
        snprintf(val, sizeof(val), "v%zu", i);
        T_EQ(do_set("t_odd", ids[i], val, 0), 0);
        T_EQ(do_set(ids[i], "same", val, 0), 0); /* odd type names too */
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(val, sizeof(val), "v%zu", i);
        T_STATE("t_odd", ids[i], val);
        T_STATE(ids[i], "same", val);
    }
    /* LIKE-style wildcards match nothing but themselves. */
    T_EQ(state_rc("t_odd", "abc"), ACTOR_ENOTFOUND);
    T_EQ(state_rc("t_odd", "100"), ACTOR_ENOTFOUND);
    T_EQ(state_rc("t_odd", "1000%"), ACTOR_ENOTFOUND);
    T_EQ(state_rc("t_odd", "x"), ACTOR_ENOTFOUND);
    T_EQ(state_rc("t_odd", "It's"), ACTOR_ENOTFOUND);
    /* Deleting "%" deletes only "%". */
    T_EQ(do_del("t_odd", "%"), 0);
    T_EQ(state_rc("t_odd", "%"), ACTOR_ENOTFOUND);
    T_STATE("t_odd", "100%", "v3");
    T_STATE("t_odd", "_", "v6");
    /* And the tables are still there. */
    T_EQ(do_set("t_odd", "after", "ok", 0), 0);
    T_STATE("t_odd", "after", "ok");
}

/* ---- batches -------------------------------------------------------------- */

static void test_batch_semantics(void)
{
    actor_store_op ops[8];
    actor_store_op *p[8];

    T_EQ(do_set("t_batch", "pre", "old", 0), 0);
    ops[0] = op_set("t_batch", "k", "first", 0);
    ops[1] = op_set("t_batch", "k", "second", 0); /* same key twice */
    ops[2] = op_set("t_batch", "gone", "x", 0);
    ops[3] = op_del("t_batch", "gone");  /* sees op 2 */
    ops[4] = op_del("t_batch", "never"); /* ENOTFOUND, others go on */
    ops[5] = op_set("t_batch", "pre", "new", 0);
    ops[6] = op_acquire("t_batch", "fenced", "h-batch");
    ops[7] = fenced(op_set("t_batch", "fenced", "f", 0), "h-batch", 1); /* sees op 6 */
    for (int i = 0; i < 8; i++)
        p[i] = &ops[i];
    T_OK(P->host_register(P, "h-batch", "addr-batch"));
    T_OK(P->apply(P, p, 8));
    T_EQ(ops[0].result, 0);
    T_EQ(ops[1].result, 0);
    T_EQ(ops[2].result, 0);
    T_EQ(ops[3].result, 0);
    T_EQ(ops[4].result, ACTOR_ENOTFOUND);
    T_EQ(ops[5].result, 0);
    T_EQ(ops[6].result, 0);
    T_EQ(ops[6].out_epoch, 1);
    T_EQ(ops[7].result, 0);
    T_STATE("t_batch", "k", "second");
    T_EQ(state_rc("t_batch", "gone"), ACTOR_ENOTFOUND);
    T_STATE("t_batch", "pre", "new");
    T_STATE("t_batch", "fenced", "f");
    for (int i = 0; i < 8; i++)
        actor_store_op_dispose(&ops[i]);

    /* An empty batch commits nothing and succeeds. */
    T_OK(P->apply(P, p, 0));
    T_OK(P->host_remove(P, "h-batch"));
}

static void test_batch_large(void)
{
    enum { N = 1000 };
    static actor_store_op ops[N];
    static actor_store_op *p[N];
    static char ids[N][16], vals[N][24];

    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "k%d", i);
        snprintf(vals[i], sizeof(vals[i]), "{\"i\":%d}", i);
        ops[i] = op_set("t_big_batch", ids[i], vals[i], 0);
        p[i] = &ops[i];
    }
    T_OK(P->apply(P, p, N));
    for (int i = 0; i < N; i++)
        T_CHECK(ops[i].result == 0);
    for (int i = 0; i < N; i += 97)
        T_STATE("t_big_batch", ids[i], vals[i]);
    T_STATE("t_big_batch", ids[N - 1], vals[N - 1]);
}

static void test_batch_all_or_nothing(void)
{
    actor_store_op ops[3];
    actor_store_op *p[3] = {&ops[0], &ops[1], &ops[2]};

    /* A bad op anywhere fails the whole batch, and nothing of it is applied. */
    ops[0] = op_set("t_atomic", "a", "x", 0);
    ops[1] = op_set("t_atomic", "b", "y", 0);
    ops[2] = op_set("t_atomic", NULL, "z", 0);
    T_EQ(P->apply(P, p, 3), ACTOR_EINVAL);
    /* The message names the bad op by its place in the batch. */
    T_CONTAINS(actor_error_last(), "(op 2)");
    T_EQ(state_rc("t_atomic", "a"), ACTOR_ENOTFOUND);
    T_EQ(state_rc("t_atomic", "b"), ACTOR_ENOTFOUND);

    ops[2] = op_set("t_atomic", "", "z", 0);
    T_EQ(P->apply(P, p, 3), ACTOR_EINVAL);
    ops[2] = op_set("t_atomic", "c", "z", 0);
    ops[2].kind = (actor_store_op_kind)99;
    T_EQ(P->apply(P, p, 3), ACTOR_EINVAL);
    ops[2] = op_set("t_atomic", "bad\xC3(", "z", 0);
    T_EQ(P->apply(P, p, 3), ACTOR_EINVAL);
    ops[2] = op_set("t_atomic", "c", NULL, 0);
    ops[2].value_len = 5; /* NULL value with a length */
    T_EQ(P->apply(P, p, 3), ACTOR_EINVAL);
    ops[2] = op_acquire("t_atomic", "c", NULL); /* acquire without a host */
    T_EQ(P->apply(P, p, 3), ACTOR_EINVAL);
    ops[2] = op_set("t_atomic", "c", "z", -5);
    T_EQ(P->apply(P, p, 3), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "(op 2)");
    T_EQ(state_rc("t_atomic", "a"), ACTOR_ENOTFOUND);
    T_EQ(state_rc("t_atomic", "b"), ACTOR_ENOTFOUND);
    T_EQ(state_rc("t_atomic", "c"), ACTOR_ENOTFOUND);
}

/* ---- streamed batches (apply_stream, optional) ---------------------------- */

/* A stream of prepared chunks; optionally fails at one call, and reads a
 * key through another connection while the transaction is open. */
struct chunks {
    actor_store_op **chunk[3];
    size_t size[3];
    int nchunks, given, fail_at;
    actor_provider *probe; /* another connection to the store, or NULL */
    int probe_rc;          /* what it read of t_stream/a at the second call */
};

static int chunks_next(void *arg, actor_store_op ***ops, size_t *n)
{
    struct chunks *s = arg;

    if (s->given == 1 && s->probe != NULL) {
        actor_buf b = ACTOR_BUF_INIT;
        s->probe_rc = s->probe->state_get(&b, s->probe, "t_stream", "a");
        actor_buf_dispose(&b);
    }
    if (s->given == s->fail_at)
        return actor_error_set(ACTOR_ETIMEOUT, "the test's stream gives up at chunk %d", s->given);
    if (s->given == s->nchunks) {
        *n = 0;
        return 0;
    }
    *ops = s->chunk[s->given];
    *n = s->size[s->given];
    s->given++;
    return 0;
}

static void test_apply_stream(void)
{
    actor_provider *q = NULL;
    actor_provider_config cfg;
    actor_store_op a[2], b[3], bad[1];
    actor_store_op *pa[2] = {&a[0], &a[1]}, *pb[3] = {&b[0], &b[1], &b[2]}, *pbad[1] = {&bad[0]};
    struct chunks s;

    if (strncmp(P->name, "sqlite", 6) == 0)
        T_ASSERT(P->version >= 2 && P->apply_stream != NULL); /* SQLite streams */
    if (P->version < 2 || P->apply_stream == NULL) {
        fprintf(stderr, "  (the %s provider has no apply_stream: nothing to check)\n", P->name);
        return;
    }
    /* A second connection, to see what others see while the stream is
     * open (a private in-memory database has no second connection). */
    if (strstr(store_url, ":memory:") == NULL) {
        config_init(&cfg, store_url);
        T_OK(actor_provider_open(&q, &cfg));
    }
    T_OK(P->host_register(P, "h-stream", "addr-stream"));

    /* Chunks run in order in one transaction, later ones seeing earlier
     * ones; per-op outcomes as in apply; nothing is visible to others
     * before the commit. */
    a[0] = op_set("t_stream", "a", "1", 0);
    a[1] = op_acquire("t_stream", "f", "h-stream");
    b[0] = op_set("t_stream", "a", "2", 0);
    b[1] = fenced(op_set("t_stream", "f", "fenced", 0), "h-stream", 1); /* sees a[1] */
    b[2] = op_del("t_stream", "never");
    memset(&s, 0, sizeof(s));
    s.chunk[0] = pa, s.size[0] = 2;
    s.chunk[1] = pb, s.size[1] = 3;
    s.nchunks = 2;
    s.fail_at = -1;
    s.probe = q;
    s.probe_rc = 12345;
    T_OK(P->apply_stream(P, chunks_next, &s));
    T_EQ(s.given, 2);
    if (q != NULL)
        T_EQ(s.probe_rc, ACTOR_ENOTFOUND);
    T_EQ(a[0].result, 0);
    T_EQ(a[1].result, 0);
    T_EQ(a[1].out_epoch, 1);
    T_EQ(b[0].result, 0);
    T_EQ(b[1].result, 0);
    T_EQ(b[2].result, ACTOR_ENOTFOUND);
    T_STATE("t_stream", "a", "2");
    T_STATE("t_stream", "f", "fenced");

    /* The stream's own error ends it: nothing of it is committed, and the
     * error comes back with its message. */
    for (int i = 0; i < 2; i++)
        actor_store_op_dispose(&a[i]);
    a[0] = op_set("t_stream", "a", "3", 0);
    a[1] = op_set("t_stream", "g", "x", 0);
    memset(&s, 0, sizeof(s));
    s.chunk[0] = pa, s.size[0] = 2;
    s.chunk[1] = pb, s.size[1] = 3;
    s.nchunks = 2;
    s.fail_at = 1;
    T_EQ(P->apply_stream(P, chunks_next, &s), ACTOR_ETIMEOUT);
    T_CHECK(strstr(actor_error_last(), "gives up at chunk 1") != NULL);
    T_STATE("t_stream", "a", "2");
    T_EQ(state_rc("t_stream", "g"), ACTOR_ENOTFOUND);

    /* An invalid op in a later chunk fails the whole stream, earlier
     * chunks included, naming the op by its place in the transaction. */
    bad[0] = op_set("t_stream", "", "z", 0);
    memset(&s, 0, sizeof(s));
    s.chunk[0] = pa, s.size[0] = 2;
    s.chunk[1] = pbad, s.size[1] = 1;
    s.nchunks = 2;
    s.fail_at = -1;
    T_EQ(P->apply_stream(P, chunks_next, &s), ACTOR_EINVAL);
    T_CHECK(strstr(actor_error_last(), "op 2") != NULL);
    T_STATE("t_stream", "a", "2");
    T_EQ(state_rc("t_stream", "g"), ACTOR_ENOTFOUND);

    /* A stream that gives nothing commits nothing and succeeds; the store
     * is free again afterwards. */
    memset(&s, 0, sizeof(s));
    s.fail_at = -1;
    T_OK(P->apply_stream(P, chunks_next, &s));
    T_EQ(do_set("t_stream", "after", "ok", 0), 0);
    T_STATE("t_stream", "after", "ok");

    for (int i = 0; i < 2; i++)
        actor_store_op_dispose(&a[i]);
    for (int i = 0; i < 3; i++)
        actor_store_op_dispose(&b[i]);
    T_OK(P->host_remove(P, "h-stream"));
    actor_provider_free(q);
}

/* ---- fencing --------------------------------------------------------------- */

static void test_fenced_writes(void)
{
    actor_store_op op;
    uint64_t e = 0;

    T_OK(P->host_register(P, "h-fence", "addr-fence"));
    T_EQ(do_acquire("t_fence", "f", "h-fence", &e), 0);
    T_EQ(e, 1);

    op = fenced(op_set("t_fence", "f", "v1", 0), "h-fence", e);
    T_EQ(APPLY1(&op), 0);
    T_STATE("t_fence", "f", "v1");

    op = fenced(op_set("t_fence", "f", "wrong epoch", 0), "h-fence", e + 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_set("t_fence", "f", "older epoch", 0), "h-fence", e - 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_set("t_fence", "f", "wrong host", 0), "h-other", e);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STATE("t_fence", "f", "v1");

    op = fenced(op_del("t_fence", "f"), "h-fence", e + 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_del("t_fence", "f"), "h-other", e);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STATE("t_fence", "f", "v1");

    /* No lease row at all: fenced writes fail, the state is not created. */
    op = fenced(op_set("t_fence", "unleased", "x", 0), "h-fence", 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_EQ(state_rc("t_fence", "unleased"), ACTOR_ENOTFOUND);

    /* A lease of another actor of the same host does not fence this one. */
    op = fenced(op_set("t_fence", "f2", "x", 0), "h-fence", e);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);

    /* After a new acquisition the old epoch is fenced out. */
    T_EQ(do_acquire("t_fence", "f", "h-fence", &e), 0);
    T_EQ(e, 2);
    op = fenced(op_set("t_fence", "f", "stale", 0), "h-fence", 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_set("t_fence", "f", "v2", 60000), "h-fence", 2);
    T_EQ(APPLY1(&op), 0);
    T_STATE("t_fence", "f", "v2");

    op = fenced(op_del("t_fence", "f"), "h-fence", 2);
    T_EQ(APPLY1(&op), 0);
    T_EQ(state_rc("t_fence", "f"), ACTOR_ENOTFOUND);
    op = fenced(op_del("t_fence", "f"), "h-fence", 2);
    T_EQ(APPLY1(&op), ACTOR_ENOTFOUND);
    T_OK(P->host_remove(P, "h-fence"));
}

/* A second connection to the same store takes a lease over between two
 * fenced writes of the first: the first connection's next fenced write and
 * delete are fenced out, whatever it remembers of fences it saw hold. */
static void test_fence_other_connection(void)
{
    actor_provider_config cfg;
    actor_provider *Q = NULL;
    actor_lease_info li = {0};
    actor_store_op op, *opp = &op;
    uint64_t e = 0;

    config_init(&cfg, store_url);
    T_OK(actor_provider_open(&Q, &cfg));
    if (Q == NULL)
        return;
    T_OK(P->host_register(P, "h-conn1", "addr-conn1"));
    T_EQ(do_acquire("t_conn", "a", "h-conn1", &e), 0);
    if (Q->lease_get(&li, Q, "t_conn", "a") == ACTOR_ENOTFOUND) {
        /* A private store (SQLite's :memory:): no second connection sees it. */
        T_OK(P->host_remove(P, "h-conn1"));
        actor_provider_free(Q);
        T_SKIP("a second connection does not share this store");
    }
    actor_lease_info_dispose(&li);

    /* Written twice: a provider may remember that this fence holds. */
    op = fenced(op_set("t_conn", "a", "by conn1", 0), "h-conn1", e);
    T_EQ(APPLY1(&op), 0);
    op = fenced(op_set("t_conn", "a", "by conn1 again", 0), "h-conn1", e);
    T_EQ(APPLY1(&op), 0);

    /* The other connection declares the host dead (its leases go) and
     * takes the lease for another host, which writes. */
    T_OK(Q->host_remove(Q, "h-conn1"));
    T_OK(Q->host_register(Q, "h-conn2", "addr-conn2"));
    op = op_acquire("t_conn", "a", "h-conn2");
    T_OK(Q->apply(Q, &opp, 1));
    T_EQ(op.result, 0);
    e = op.out_epoch;
    actor_store_op_dispose(&op);
    op = fenced(op_set("t_conn", "a", "by conn2", 0), "h-conn2", e);
    T_OK(Q->apply(Q, &opp, 1));
    T_EQ(op.result, 0);

    /* The first connection's writes for the old holder are fenced out. */
    op = fenced(op_set("t_conn", "a", "stale", 0), "h-conn1", 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_del("t_conn", "a"), "h-conn1", 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STATE("t_conn", "a", "by conn2");
    T_OK(Q->host_remove(Q, "h-conn2"));
    actor_provider_free(Q);
}

/* ---- hosts and leases -------------------------------------------------------- */

static void test_hosts(void)
{
    actor_lease_info li = {0};

    T_OK(P->host_register(P, "h-reg", "127.0.0.1:3501"));
    T_OK(P->host_heartbeat(P, "h-reg"));
    T_EQ(P->host_heartbeat(P, "h-nobody"), ACTOR_ENOTFOUND);
    T_CONTAINS(actor_error_last(), "h-nobody");

    /* The address is what lease_get reports; registering again refreshes it. */
    T_EQ(do_acquire("t_hosts", "a", "h-reg", NULL), 0);
    T_OK(P->lease_get(&li, P, "t_hosts", "a"));
    T_STREQ(li.address.ptr, "127.0.0.1:3501");
    actor_lease_info_dispose(&li);
    T_OK(P->host_register(P, "h-reg", "127.0.0.1:3502"));
    T_OK(P->lease_get(&li, P, "t_hosts", "a"));
    T_STREQ(li.address.ptr, "127.0.0.1:3502");
    T_EQ(li.epoch, 1); /* registering again keeps the leases */
    actor_lease_info_dispose(&li);

    /* Removing a host removes its leases, and only its leases. */
    T_OK(P->host_register(P, "h-keep", "addr-keep"));
    T_EQ(do_acquire("t_hosts", "b", "h-reg", NULL), 0);
    T_EQ(do_acquire("t_hosts", "c", "h-keep", NULL), 0);
    T_OK(P->host_remove(P, "h-reg"));
    T_EQ(P->lease_get(&li, P, "t_hosts", "a"), ACTOR_ENOTFOUND);
    T_EQ(P->lease_get(&li, P, "t_hosts", "b"), ACTOR_ENOTFOUND);
    T_OK(P->lease_get(&li, P, "t_hosts", "c"));
    T_STREQ(li.host_id.ptr, "h-keep");
    actor_lease_info_dispose(&li);
    T_EQ(P->host_heartbeat(P, "h-reg"), ACTOR_ENOTFOUND);
    T_OK(P->host_heartbeat(P, "h-keep"));
    /* Removing an absent host is not an error. */
    T_OK(P->host_remove(P, "h-reg"));
    T_OK(P->host_remove(P, "h-keep"));

    /* An empty address is allowed. */
    T_OK(P->host_register(P, "h-noaddr", ""));
    T_OK(P->host_remove(P, "h-noaddr"));
}

static void test_lease_acquire_release(void)
{
    actor_lease_info li = {0};
    actor_store_op op;
    uint64_t e = 0;

    T_OK(P->host_register(P, "h-a", "addr-a"));
    T_OK(P->host_register(P, "h-b", "addr-b"));
    T_EQ(P->lease_get(&li, P, "t_lease", "x"), ACTOR_ENOTFOUND);

    /* Free: epoch 1. */
    T_EQ(do_acquire("t_lease", "x", "h-a", &e), 0);
    T_EQ(e, 1);
    T_OK(P->lease_get(&li, P, "t_lease", "x"));
    T_STREQ(li.host_id.ptr, "h-a");
    T_STREQ(li.address.ptr, "addr-a");
    T_EQ(li.epoch, 1);
    T_EQ(li.holder_alive, 1);
    actor_lease_info_dispose(&li);

    /* Held by a live other host: ELEASE naming the holder, nothing written. */
    T_OK(P->host_heartbeat(P, "h-a"));
    op = op_acquire("t_lease", "x", "h-b");
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STREQ(op.holder_id.ptr, "h-a");
    T_STREQ(op.holder_addr.ptr, "addr-a");
    actor_store_op_dispose(&op);
    T_OK(P->lease_get(&li, P, "t_lease", "x"));
    T_STREQ(li.host_id.ptr, "h-a");
    T_EQ(li.epoch, 1);
    actor_lease_info_dispose(&li);

    /* Held by self: taken again with the next epoch. */
    T_EQ(do_acquire("t_lease", "x", "h-a", &e), 0);
    T_EQ(e, 2);

    /* Release: only the holder, only with the matching epoch. */
    T_EQ(do_release("t_lease", "x", "h-a", 1), ACTOR_ENOTFOUND);
    T_EQ(do_release("t_lease", "x", "h-b", 2), ACTOR_ENOTFOUND);
    T_OK(P->lease_get(&li, P, "t_lease", "x"));
    T_EQ(li.epoch, 2);
    actor_lease_info_dispose(&li);
    T_EQ(do_release("t_lease", "x", "h-a", 2), 0);
    T_EQ(P->lease_get(&li, P, "t_lease", "x"), ACTOR_ENOTFOUND);
    T_EQ(do_release("t_lease", "x", "h-a", 2), ACTOR_ENOTFOUND);
    T_EQ(do_release("t_lease", "never", "h-a", 1), ACTOR_ENOTFOUND);

    /* Free again after release: epoch starts over at 1, for anybody. */
    T_EQ(do_acquire("t_lease", "x", "h-b", &e), 0);
    T_EQ(e, 1);
    /* Leases of different actors are independent. */
    T_EQ(do_acquire("t_lease", "y", "h-a", &e), 0);
    T_EQ(e, 1);
    T_EQ(do_acquire("t_lease_other", "x", "h-a", &e), 0);
    T_EQ(e, 1);
    T_OK(P->host_remove(P, "h-a"));
    T_OK(P->host_remove(P, "h-b"));
}

static int lease_dead(const char *type, const char *id, const char *keep_alive)
{
    actor_lease_info li = {0};
    int dead;

    if (keep_alive && P->host_heartbeat(P, keep_alive) != 0)
        return 0;
    dead = P->lease_get(&li, P, type, id) == 0 && !li.holder_alive;
    actor_lease_info_dispose(&li);
    return dead;
}

static void test_lease_takeover(void)
{
    actor_lease_info li = {0};
    actor_store_op op;
    uint64_t e = 0;

    /* A lease whose host has no row is dead: taken over at once. */
    T_EQ(do_acquire("t_take", "ghost", "h-ghost", &e), 0);
    T_EQ(e, 1);
    T_OK(P->lease_get(&li, P, "t_take", "ghost"));
    T_EQ(li.holder_alive, 0);
    T_STREQ(li.address.ptr, "");
    actor_lease_info_dispose(&li);
    T_OK(P->host_register(P, "h-live", "addr-live"));
    T_EQ(do_acquire("t_take", "ghost", "h-live", &e), 0);
    T_EQ(e, 2);

    /* A host whose heartbeat lapsed is dead: its lease is taken over. */
    T_OK(P->host_register(P, "h-dying", "addr-dying"));
    T_EQ(do_acquire("t_take", "x", "h-dying", &e), 0);
    T_EQ(e, 1);
    op = fenced(op_set("t_take", "x", "by dying", 0), "h-dying", 1);
    T_EQ(APPLY1(&op), 0);
    T_OK(P->lease_get(&li, P, "t_take", "x"));
    T_EQ(li.holder_alive, 1);
    actor_lease_info_dispose(&li);
    T_CHECK(T_WAIT_UNTIL(lease_dead("t_take", "x", "h-live"), WAIT_MS));
    T_OK(P->host_heartbeat(P, "h-live"));
    T_EQ(do_acquire("t_take", "x", "h-live", &e), 0);
    T_EQ(e, 2);
    T_OK(P->lease_get(&li, P, "t_take", "x"));
    T_STREQ(li.host_id.ptr, "h-live");
    T_STREQ(li.address.ptr, "addr-live");
    T_EQ(li.epoch, 2);
    T_EQ(li.holder_alive, 1);
    actor_lease_info_dispose(&li);

    /* The old holder is fenced out: no write, no release. */
    op = fenced(op_set("t_take", "x", "zombie write", 0), "h-dying", 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_del("t_take", "x"), "h-dying", 1);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STATE("t_take", "x", "by dying");
    T_EQ(do_release("t_take", "x", "h-dying", 1), ACTOR_ENOTFOUND);
    /* A dead host cannot revive itself with a heartbeat; it must register
     * again. And then it cannot take the lease back while the new holder
     * lives. */
    T_EQ(P->host_heartbeat(P, "h-dying"), ACTOR_ENOTFOUND);
    T_CONTAINS(actor_error_last(), "h-dying");
    T_OK(P->host_register(P, "h-dying", "addr-dying-2"));
    T_OK(P->host_heartbeat(P, "h-dying"));
    op = op_acquire("t_take", "x", "h-dying");
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STREQ(op.holder_id.ptr, "h-live");
    T_STREQ(op.holder_addr.ptr, "addr-live");
    actor_store_op_dispose(&op);
    op = fenced(op_set("t_take", "x", "by live", 0), "h-live", 2);
    T_EQ(APPLY1(&op), 0);
    T_STATE("t_take", "x", "by live");
    T_OK(P->host_remove(P, "h-dying"));
    T_OK(P->host_remove(P, "h-live"));
}

/* A host's own release, its removal and the cleanup of its dead leases
 * each end its fences, however often they were seen to hold before. */
static void test_fence_ends_with_lease(void)
{
    actor_cleanup_counts cc = {0};
    actor_store_op op;
    uint64_t e = 0, e2 = 0;

    T_OK(P->host_register(P, "h-end", "addr-end"));
    /* Released. */
    T_EQ(do_acquire("t_end", "rel", "h-end", &e), 0);
    for (int i = 0; i < 2; i++) {
        op = fenced(op_set("t_end", "rel", "held", 0), "h-end", e);
        T_EQ(APPLY1(&op), 0);
    }
    T_EQ(do_release("t_end", "rel", "h-end", e), 0);
    op = fenced(op_set("t_end", "rel", "after release", 0), "h-end", e);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STATE("t_end", "rel", "held");

    /* The host removed. */
    T_EQ(do_acquire("t_end", "rm", "h-end", &e), 0);
    for (int i = 0; i < 2; i++) {
        op = fenced(op_set("t_end", "rm", "held", 0), "h-end", e);
        T_EQ(APPLY1(&op), 0);
    }
    T_OK(P->host_remove(P, "h-end"));
    op = fenced(op_set("t_end", "rm", "after removal", 0), "h-end", e);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_del("t_end", "rm"), "h-end", e);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STATE("t_end", "rm", "held");

    /* The host died and cleanup took its leases: first one of two (the
     * host keeps its row while it holds the other), then the rest. */
    drain();
    T_OK(P->host_register(P, "h-end", "addr-end"));
    T_EQ(do_acquire("t_end", "dead", "h-end", &e), 0);
    T_EQ(do_acquire("t_end", "dead2", "h-end", &e2), 0);
    for (int i = 0; i < 2; i++) {
        op = fenced(op_set("t_end", "dead", "held", 0), "h-end", e);
        T_EQ(APPLY1(&op), 0);
        op = fenced(op_set("t_end", "dead2", "held", 0), "h-end", e2);
        T_EQ(APPLY1(&op), 0);
    }
    T_CHECK(T_WAIT_UNTIL(lease_dead("t_end", "dead", NULL), WAIT_MS));
    T_OK(P->cleanup(&cc, P, 1));
    T_EQ(cc.dead_leases, 1);
    T_EQ(cc.dead_hosts, 0);
    for (int k = 0; k < 2; k++) {
        const char *id = k == 0 ? "dead" : "dead2";
        actor_lease_info li = {0};
        int gone = P->lease_get(&li, P, "t_end", id) == ACTOR_ENOTFOUND;
        actor_lease_info_dispose(&li);
        if (gone) {
            op = fenced(op_set("t_end", id, "after cleanup", 0), "h-end", k == 0 ? e : e2);
            T_EQ(APPLY1(&op), ACTOR_ELEASE);
            T_STATE("t_end", id, "held");
        }
    }
    memset(&cc, 0, sizeof(cc));
    T_OK(P->cleanup(&cc, P, 10000));
    T_EQ(cc.dead_leases, 1);
    op = fenced(op_set("t_end", "dead", "after cleanup", 0), "h-end", e);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    op = fenced(op_set("t_end", "dead2", "after cleanup", 0), "h-end", e2);
    T_EQ(APPLY1(&op), ACTOR_ELEASE);
    T_STATE("t_end", "dead", "held");
    T_STATE("t_end", "dead2", "held");
    drain();
}

/* 1 when (type, id) has a lease whose holder still has a host row with
 * address `addr` (lease_get reports "" once the row is gone). */
static int lease_with_addr(const char *type, const char *id, const char *addr)
{
    actor_lease_info li = {0};
    int ok = P->lease_get(&li, P, type, id) == 0 && strcmp(li.address.ptr, addr) == 0;
    actor_lease_info_dispose(&li);
    return ok;
}

static void test_cleanup(void)
{
    actor_cleanup_counts c = {0};
    actor_lease_info li = {0};
    actor_store_op ops[4];
    int left;

    drain();
    T_OK(P->host_register(P, "h-cl-dead", "addr-dead"));
    T_OK(P->host_register(P, "h-cl-live", "addr-live"));
    T_EQ(do_acquire("t_clean", "d1", "h-cl-dead", NULL), 0);
    T_EQ(do_acquire("t_clean", "d2", "h-cl-dead", NULL), 0);
    T_EQ(do_acquire("t_clean", "l1", "h-cl-live", NULL), 0);
    ops[0] = op_set("t_clean", "e1", "x", 1);
    ops[1] = op_set("t_clean", "e2", "x", 1);
    ops[2] = op_set("t_clean", "e3", "x", 1);
    ops[3] = op_set("t_clean", "keep", "x", 600000);
    T_OK(P->apply(P, (actor_store_op *[]){&ops[0], &ops[1], &ops[2], &ops[3]}, 4));
    T_EQ(do_set("t_clean", "forever", "y", 0), 0);

    T_CHECK(T_WAIT_UNTIL(lease_dead("t_clean", "d1", "h-cl-live"), WAIT_MS));
    T_CHECK(T_WAIT_UNTIL(state_rc("t_clean", "e3") == ACTOR_ENOTFOUND, WAIT_MS));
    T_OK(P->host_heartbeat(P, "h-cl-live"));

    /* Bounded: at most `limit` rows of each kind per call. A dead host that
     * still holds a lease keeps its row. */
    T_OK(P->cleanup(&c, P, 1));
    T_EQ(c.expired_state, 1);
    T_EQ(c.dead_leases, 1);
    T_EQ(c.dead_hosts, 0);
    left = lease_with_addr("t_clean", "d1", "addr-dead") +
           lease_with_addr("t_clean", "d2", "addr-dead");
    T_EQ(left, 1);
    /* Counts are added to what the caller passed in. Leases go before
     * hosts, so the host goes in the call that removes its last lease. */
    T_OK(P->host_heartbeat(P, "h-cl-live"));
    T_OK(P->cleanup(&c, P, 1));
    T_EQ(c.expired_state, 2);
    T_EQ(c.dead_leases, 2);
    T_EQ(c.dead_hosts, 1);
    T_OK(P->cleanup(&c, P, 1));
    T_EQ(c.expired_state, 3);
    T_EQ(c.dead_leases, 2);
    T_EQ(c.dead_hosts, 1);

    /* The dead host and its leases are gone; the live ones stay. */
    T_EQ(P->host_heartbeat(P, "h-cl-dead"), ACTOR_ENOTFOUND);
    T_EQ(P->lease_get(&li, P, "t_clean", "d1"), ACTOR_ENOTFOUND);
    T_EQ(P->lease_get(&li, P, "t_clean", "d2"), ACTOR_ENOTFOUND);
    T_CHECK(lease_with_addr("t_clean", "l1", "addr-live"));
    T_OK(P->host_heartbeat(P, "h-cl-live"));
    T_STATE("t_clean", "keep", "x");
    T_STATE("t_clean", "forever", "y");

    memset(&c, 0, sizeof(c));
    T_OK(P->cleanup(&c, P, 100));
    T_EQ(c.expired_state, 0);
    T_EQ(c.dead_hosts, 0);
    T_EQ(c.dead_leases, 0);

    /* A lease whose host never had a row is dead too. */
    T_EQ(do_acquire("t_clean", "orphan", "h-cl-ghost", NULL), 0);
    T_OK(P->cleanup(&c, P, 100));
    T_EQ(c.dead_leases, 1);
    T_EQ(c.dead_hosts, 0);
    T_EQ(P->lease_get(&li, P, "t_clean", "orphan"), ACTOR_ENOTFOUND);
    T_CHECK(lease_with_addr("t_clean", "l1", "addr-live"));

    /* limit 0 removes nothing. */
    T_OK(P->cleanup(&c, P, 0));
    T_OK(P->host_remove(P, "h-cl-live"));
}

static void test_job_claim(void)
{
    if (P->job_claim == NULL)
        T_SKIP("job_claim is optional and this provider has none");
    T_EQ(P->job_claim(P, "conf-job", "h-job-a", 600000), 1);
    T_EQ(P->job_claim(P, "conf-job", "h-job-b", 600000), 0);
    T_EQ(P->job_claim(P, "conf-job", "h-job-a", 600000), 0);
    /* Jobs are independent of each other. */
    T_EQ(P->job_claim(P, "conf-job-2", "h-job-b", 600000), 1);
    /* Once the interval since the last claim has passed, it can be had
     * again, by anybody. */
    T_CHECK(T_WAIT_UNTIL(P->job_claim(P, "conf-job", "h-job-b", 5) == 1, WAIT_MS));
    T_EQ(P->job_claim(P, "conf-job", "h-job-a", 600000), 0);
    T_EQ(P->job_claim(P, NULL, "h-job-a", 10), ACTOR_EINVAL);
    T_EQ(P->job_claim(P, "conf-job", "", 10), ACTOR_EINVAL);
}

/* ---- bad input --------------------------------------------------------------- */

static void test_bad_input(void)
{
    actor_provider_config cfg;
    actor_provider *q = NULL;
    actor_buf b = ACTOR_BUF_INIT;
    actor_lease_info li = {0};
    actor_cleanup_counts c = {0};
    char longid[ACTOR_ID_MAX + 2];

    config_init(&cfg, "nosuchstore://somewhere/x");
    T_EQ(actor_provider_open(&q, &cfg), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "nosuchstore://somewhere/x");
    T_CHECK(q == NULL);
    config_init(&cfg, "");
    T_EQ(actor_provider_open(&q, &cfg), ACTOR_EINVAL);
    T_EQ(actor_provider_open(&q, NULL), ACTOR_EINVAL);

    T_EQ(P->state_get(&b, P, NULL, "x"), ACTOR_EINVAL);
    T_EQ(P->state_get(&b, P, "t", NULL), ACTOR_EINVAL);
    T_EQ(P->state_get(&b, P, "", "x"), ACTOR_EINVAL);
    T_EQ(P->state_get(NULL, P, "t", "x"), ACTOR_EINVAL);
    memset(longid, 'i', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    T_EQ(P->state_get(&b, P, "t", longid), ACTOR_EINVAL);
    T_EQ(P->state_get(&b, P, "t", "bad\xFF"), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "UTF-8");
    T_EQ(P->apply(P, NULL, 1), ACTOR_EINVAL);
    T_EQ(P->apply(P, (actor_store_op *[]){NULL}, 1), ACTOR_EINVAL);
    T_EQ(P->host_register(P, NULL, "a"), ACTOR_EINVAL);
    T_EQ(P->host_register(P, "", "a"), ACTOR_EINVAL);
    T_EQ(P->host_heartbeat(P, NULL), ACTOR_EINVAL);
    T_EQ(P->host_remove(P, NULL), ACTOR_EINVAL);
    T_EQ(P->lease_get(&li, P, NULL, "x"), ACTOR_EINVAL);
    T_EQ(P->lease_get(NULL, P, "t", "x"), ACTOR_EINVAL);
    T_EQ(P->cleanup(NULL, P, 10), ACTOR_EINVAL);
    (void)c;
    actor_buf_dispose(&b);
}

/* ---- concurrency ------------------------------------------------------------- */

struct worker {
    int no;
    int failures;
    char msg[256];
};

static void *writer_main(void *arg)
{
    struct worker *w = arg;
    char ids[10][32], vals[10][32];
    actor_store_op ops[10], *p[10];

    for (int round = 0; round < 100 && !w->failures; round++) {
        for (int i = 0; i < 10; i++) {
            snprintf(ids[i], sizeof(ids[i]), "w%d-%d", w->no, i);
            snprintf(vals[i], sizeof(vals[i]), "%d", round);
            ops[i] = op_set("t_conc", ids[i], vals[i], 0);
            p[i] = &ops[i];
        }
        if (P->apply(P, p, 10) != 0) {
            w->failures++;
            snprintf(w->msg, sizeof(w->msg), "apply: %s", actor_error_last());
        }
    }
    return NULL;
}

/* Reads per reader thread. Fewer under the sanitizers, whose slow
 * context switches make each hand-over of a single shared connection
 * (sqlite::memory:) cost milliseconds; the interleavings still happen. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CONC_READS 200
#else
#define CONC_READS 2000
#endif

static void *reader_main(void *arg)
{
    struct worker *w = arg;
    actor_buf b = ACTOR_BUF_INIT;
    char id[32];

    for (int i = 0; i < CONC_READS && !w->failures; i++) {
        int rc;
        snprintf(id, sizeof(id), "w%d-%d", i % 2, i % 10);
        rc = P->state_get(&b, P, "t_conc", id);
        if (rc != 0 && rc != ACTOR_ENOTFOUND) {
            w->failures++;
            snprintf(w->msg, sizeof(w->msg), "state_get: %s", actor_error_last());
        }
    }
    actor_buf_dispose(&b);
    return NULL;
}

static void test_concurrent_use(void)
{
    struct worker w[4] = {{.no = 0}, {.no = 1}, {.no = 2}, {.no = 3}};
    pthread_t th[4];

    for (int i = 0; i < 4; i++)
        T_ASSERT(pthread_create(&th[i], NULL, i < 2 ? writer_main : reader_main, &w[i]) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures)
            T_FAIL("thread %d: %s", i, w[i].msg);
    }
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w0-%d", i);
        T_STATE("t_conc", id, "99");
        snprintf(id, sizeof(id), "w1-%d", i);
        T_STATE("t_conc", id, "99");
    }
}

/* ---- main -------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    char url[700], rnd[32];
    actor_provider_config cfg;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s URL | sqlite:@tmp | env:NAME\n", argv[0]);
        return 2;
    }
    store_url = argv[1];
    if (strncmp(store_url, "env:", 4) == 0) {
        const char *v = getenv(store_url + 4);
        const char *ci = getenv("CI");
        if (v == NULL || *v == '\0') {
            if (ci && strcmp(ci, "true") == 0) {
                fprintf(stderr, "FAIL: $%s is not set, and CI=true requires this run\n",
                        store_url + 4);
                return 1;
            }
            fprintf(stderr, "SKIP: $%s is not set\n", store_url + 4);
            return 77;
        }
        store_url = v;
    } else if (strcmp(store_url, "sqlite:@tmp") == 0) {
        store_url = t_sqlite_url(url, sizeof(url), "conformance.db");
    }

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(rnd, sizeof(rnd), "%08x", (unsigned)rand() ^ ((unsigned)rand() << 16));
    snprintf(table_prefix, sizeof(table_prefix), "conf_%s_", rnd);
    config_init(&cfg, store_url);
    rc = actor_provider_open(&P, &cfg);
    if (rc != 0) {
        fprintf(stderr, "FAIL: cannot open the store: %s\n", actor_error_last());
        return 1;
    }
    fprintf(stderr, "provider %s, table prefix %s\n", P->name, table_prefix);
    if (P->version < 1 || P->name == NULL || P->free == NULL || P->state_get == NULL ||
        P->apply == NULL || P->host_register == NULL || P->host_heartbeat == NULL ||
        P->host_remove == NULL || P->lease_get == NULL || P->cleanup == NULL) {
        fprintf(stderr, "FAIL: the provider lacks a version 1 member\n");
        actor_provider_free(P);
        return 1;
    }

    T_RUN(test_state_absent);
    T_RUN(test_state_set_get_overwrite);
    T_RUN(test_state_empty_value);
    T_RUN(test_state_large_value);
    T_RUN(test_state_delete);
    T_RUN(test_state_ttl_expiry);
    T_RUN(test_state_ttl_cleared_and_extended);
    T_RUN(test_state_get_ttl);
    T_RUN(test_state_isolation);
    T_RUN(test_state_odd_ids);
    T_RUN(test_batch_semantics);
    T_RUN(test_batch_large);
    T_RUN(test_batch_all_or_nothing);
    T_RUN(test_apply_stream);
    T_RUN(test_fenced_writes);
    T_RUN(test_fence_other_connection);
    T_RUN(test_fence_ends_with_lease);
    T_RUN(test_hosts);
    T_RUN(test_lease_acquire_release);
    T_RUN(test_lease_takeover);
    T_RUN(test_cleanup);
    T_RUN(test_job_claim);
    T_RUN(test_bad_input);
    T_RUN(test_concurrent_use);

    actor_provider_free(P);
    return t_done();
}
