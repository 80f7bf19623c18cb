/*
 * commit.c: the group commit (src/commit.c) in front of a real SQLite file.
 * The provider is wrapped only to count what reaches it: transactions,
 * chunks and ops. A streaming leader takes the requests that arrive while
 * its transaction is open into that transaction; a failure anywhere in a
 * streamed batch reaches every request in it and commits none of them; the
 * batch bound holds across chunks; a provider without apply_stream gets
 * whole batches through apply.
 */
#include "test.h"

#include "internal.h"

/* The real provider, and what went through it. */
static actor_provider *g_real;
static int g_tx, g_chunks;
static size_t g_ops[8]; /* ops per transaction, in order */

/* Requests submitted from inside the stream, one after each chunk handed
 * out: they arrive while the transaction is open. */
static actor__commit *g_commit;
static actor__commit_req *g_late[4];
static int g_nlate, g_late_sent;

struct counted {
    actor_store_next_fn next;
    void *arg;
};

static int counted_next(void *arg, actor_store_op ***ops, size_t *n)
{
    struct counted *c = arg;
    int rc;

    rc = c->next(c->arg, ops, n);
    if (rc == 0 && *n > 0) {
        g_chunks++;
        g_ops[g_tx] += *n;
        /* The next request arrives while this chunk runs. */
        if (g_late_sent < g_nlate)
            actor__commit_submit(g_commit, g_late[g_late_sent++]);
    }
    return rc;
}

static int wrapped_stream(actor_provider *p, actor_store_next_fn next, void *arg)
{
    struct counted c = {next, arg};
    int rc;

    (void)p;
    rc = g_real->apply_stream(g_real, counted_next, &c);
    g_tx++;
    return rc;
}

static int wrapped_apply(actor_provider *p, actor_store_op **ops, size_t n)
{
    (void)p;
    g_ops[g_tx++] = n;
    return g_real->apply(g_real, ops, n);
}

/* One asynchronous request of one state set. */
struct req {
    actor__commit_req r;
    actor_store_op op, *ops[1];
    char id[16], val[16];
    int calls, rc;
    char msg[128];
};

static void req_done(actor__commit_req *r, int rc, const char *msg)
{
    struct req *q = (struct req *)r;

    q->calls++;
    q->rc = rc;
    snprintf(q->msg, sizeof(q->msg), "%s", msg);
}

static void req_init(struct req *q, const char *id, const char *val)
{
    memset(q, 0, sizeof(*q));
    snprintf(q->id, sizeof(q->id), "%s", id);
    snprintf(q->val, sizeof(q->val), "%s", val);
    q->op.kind = ACTOR_STORE_STATE_SET;
    q->op.type = "t_commit";
    q->op.id = q->id;
    q->op.value = q->val;
    q->op.value_len = strlen(q->val);
    q->ops[0] = &q->op;
    q->r.ops = q->ops;
    q->r.n = 1;
    q->r.cb = req_done;
}

static void reset_counts(void)
{
    g_tx = g_chunks = 0;
    memset(g_ops, 0, sizeof(g_ops));
    g_nlate = g_late_sent = 0;
}

static int stored(const char *id, const char *want)
{
    actor_buf b = ACTOR_BUF_INIT;
    int rc = g_real->state_get(&b, g_real, "t_commit", id);
    int same = rc == 0 && strcmp(b.ptr, want) == 0;

    actor_buf_dispose(&b);
    return rc == ACTOR_ENOTFOUND ? -1 : same;
}

static actor_provider g_wrap;

static void open_store(void)
{
    actor_provider_config cfg;
    char url[600];

    memset(&cfg, 0, sizeof(cfg));
    cfg.version = ACTOR_PROVIDER_CONFIG_VERSION;
    cfg.url = t_sqlite_url(url, sizeof(url), "commit.db");
    cfg.table_prefix = "actor_";
    cfg.timeout_ms = 10000;
    cfg.pool_size = 2;
    cfg.lease_deadline_ms = 10000;
    T_ASSERT(actor_provider_open(&g_real, &cfg) == 0);
    T_ASSERT(g_real->version >= 2 && g_real->apply_stream != NULL);
    g_wrap = *g_real;
    g_wrap.apply = wrapped_apply;
    g_wrap.apply_stream = wrapped_stream;
}

/* Requests that arrive while a streamed transaction is open join it. */
static void test_late_requests_join(void)
{
    struct req first, late[3];

    reset_counts();
    T_OK(actor__commit_new(&g_commit, &g_wrap, 0));
    req_init(&first, "a", "1");
    req_init(&late[0], "b", "2");
    req_init(&late[1], "c", "3");
    req_init(&late[2], "d", "4");
    for (int i = 0; i < 3; i++)
        g_late[i] = &late[i].r;
    g_nlate = 3;
    actor__commit_submit(g_commit, &first.r); /* leads, on this thread */
    T_EQ(g_tx, 1);
    T_EQ(g_ops[0], 4);
    T_EQ(g_chunks, 4);
    T_EQ(first.calls, 1);
    T_EQ(first.rc, 0);
    for (int i = 0; i < 3; i++) {
        T_EQ(late[i].calls, 1);
        T_EQ(late[i].rc, 0);
    }
    T_EQ(stored("a", "1"), 1);
    T_EQ(stored("d", "4"), 1);
    actor__commit_free(g_commit);
}

/* A bad op that arrives late fails the whole streamed batch: every request
 * in it gets the error and none of its writes is stored. The next batch
 * commits normally. */
static void test_streamed_failure(void)
{
    struct req first, late[2], after;

    reset_counts();
    T_OK(actor__commit_new(&g_commit, &g_wrap, 0));
    req_init(&first, "e", "5");
    req_init(&late[0], "f", "6");
    req_init(&late[1], "", "7"); /* empty ID: invalid */
    g_late[0] = &late[0].r;
    g_late[1] = &late[1].r;
    g_nlate = 2;
    actor__commit_submit(g_commit, &first.r);
    T_EQ(g_tx, 1);
    T_EQ(first.calls, 1);
    T_EQ(first.rc, ACTOR_EINVAL);
    T_CHECK(strstr(first.msg, "actor ID is empty") != NULL);
    for (int i = 0; i < 2; i++) {
        T_EQ(late[i].calls, 1);
        T_EQ(late[i].rc, ACTOR_EINVAL);
    }
    T_EQ(stored("e", "5"), -1);
    T_EQ(stored("f", "6"), -1);

    req_init(&after, "e", "8");
    actor__commit_submit(g_commit, &after.r);
    T_EQ(after.rc, 0);
    T_EQ(stored("e", "8"), 1);
    actor__commit_free(g_commit);
}

/* The batch bound holds across chunks: what does not fit goes in the next
 * transaction. */
static void test_stream_bound(void)
{
    struct req first, late[2];

    reset_counts();
    T_OK(actor__commit_new(&g_commit, &g_wrap, 2));
    req_init(&first, "g", "1");
    req_init(&late[0], "h", "2");
    req_init(&late[1], "i", "3");
    g_late[0] = &late[0].r;
    g_late[1] = &late[1].r;
    g_nlate = 2;
    actor__commit_submit(g_commit, &first.r);
    T_EQ(g_tx, 2);
    T_EQ(g_ops[0], 2);
    T_EQ(g_ops[1], 1);
    T_EQ(first.rc, 0);
    T_EQ(late[0].rc, 0);
    T_EQ(late[1].rc, 0);
    T_EQ(late[1].calls, 1);
    T_EQ(stored("i", "3"), 1);
    actor__commit_free(g_commit);
}

/* A provider without apply_stream (version 1) gets whole batches through
 * apply: requests queued behind a blocked leader form the next one. */
struct blocker {
    actor__commit *c;
    struct req *q;
    int rc;
};

static void *blocking_writer(void *arg)
{
    struct blocker *b = arg;

    b->rc = actor__commit_apply(b->c, b->q->ops, 1);
    return NULL;
}

static void test_version_1_provider(void)
{
    actor_provider v1 = g_wrap;
    struct req q[3];
    struct blocker b[3];
    pthread_t th[3];

    reset_counts();
    v1.version = 1;
    v1.apply_stream = NULL;
    T_OK(actor__commit_new(&g_commit, &v1, 0));
    for (int i = 0; i < 3; i++) {
        char id[8], val[8];
        snprintf(id, sizeof(id), "v%d", i);
        snprintf(val, sizeof(val), "%d", i);
        req_init(&q[i], id, val);
        b[i] = (struct blocker){g_commit, &q[i], -99};
        T_ASSERT(pthread_create(&th[i], NULL, blocking_writer, &b[i]) == 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        T_EQ(b[i].rc, 0);
        T_EQ(stored(q[i].id, q[i].val), 1);
    }
    T_EQ(g_chunks, 0); /* never streamed */
    T_CHECK(g_tx >= 1 && g_tx <= 3);
    T_EQ(g_ops[0] + g_ops[1] + g_ops[2], 3);
    actor__commit_free(g_commit);
}

int main(void)
{
    open_store();
    T_RUN(test_late_requests_join);
    T_RUN(test_streamed_failure);
    T_RUN(test_stream_bound);
    T_RUN(test_version_1_provider);
    actor_provider_free(g_real);
    return t_done();
}
