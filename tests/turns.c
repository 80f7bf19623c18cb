/*
 * turns.c: turn-based concurrency. FIFO order per sender, mutual exclusion
 * of one actor's turns (an overlap detector inside the turn), parallel turns
 * of different actors, errors handed to the caller without harming the
 * actor, blocking calls between actors (including on a one-worker pool),
 * the deadlock check of blocking calls inside a call chain, and the
 * scheduler's run-next slot: a chain of messages between actors does not
 * starve other actors, and an actor sent a message by a long turn still
 * runs on another worker meanwhile; an actor with a long mailbox yields
 * its worker after a budget of turns; references to actors; order and
 * exactly-once delivery while actors are halted under a stream of sends.
 */
#include "test.h"

#include <pthread.h>

#define SENDERS    4
#define PER_SENDER 2000
#define SEQ_ACTORS 3

struct inst {
    int inside;             /* turns of this actor running now */
    int overlaps;           /* times a turn saw another one running */
    long last_seq[SENDERS]; /* last sequence number seen per sender */
    int out_of_order;
    long turns;
};

static actor_host *g_host;
static int g_in_a, g_in_b; /* parallelism probe */
static int g_stop;         /* ends the bounce chain */
static long g_bounces;     /* turns of the bounce chain */
static int g_marked;       /* set by "mark" */
static int g_gate;         /* "gate" turns wait until it is set */
static int g_gated;        /* a "gate" turn is waiting */
static long g_ticks;       /* "tick" turns so far */
/* FIFO across halts: the last sequence number each actor saw from each
 * sender, kept outside the instances, which halts throw away. */
#define HALT_ACTORS 4
static long g_hlast[HALT_ACTORS][SENDERS];
static long g_hturns;
static int g_hdisorder;

static int act(void **instance, actor_ctx *ctx, void *payload)
{
    struct inst *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return ACTOR_ENOMEM;
    for (int i = 0; i < SENDERS; i++)
        in->last_seq[i] = -1;
    *instance = in;
    return 0;
}

static void deact(void *instance, actor_ctx *ctx, void *payload)
{
    free(instance);
}

static int invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                  const void *req, size_t len, void *payload)
{
    struct inst *in = instance;
    char out[256];

    if (__atomic_add_fetch(&in->inside, 1, __ATOMIC_SEQ_CST) != 1)
        in->overlaps++;
    in->turns++;
    int rc = 0;
    if (strcmp(method, "seq") == 0) {
        int sender;
        long seq;
        if (sscanf((const char *)req, "%d %ld", &sender, &seq) != 2 || sender < 0 ||
            sender >= SENDERS)
            rc = actor_error_set(ACTOR_EINVAL, "bad seq request");
        else {
            if (seq != in->last_seq[sender] + 1)
                in->out_of_order++;
            in->last_seq[sender] = seq;
            /* widen the window in which an overlap would be seen */
            for (volatile int i = 0; i < 200; i++) {
            }
        }
    } else if (strcmp(method, "hseq") == 0) {
        int sender, actor;
        long seq;
        if (sscanf((const char *)req, "%d %d %ld", &actor, &sender, &seq) != 3 || actor < 0 ||
            actor >= HALT_ACTORS || sender < 0 || sender >= SENDERS)
            rc = actor_error_set(ACTOR_EINVAL, "bad hseq request");
        else {
            if (seq != g_hlast[actor][sender] + 1)
                __atomic_add_fetch(&g_hdisorder, 1, __ATOMIC_SEQ_CST);
            g_hlast[actor][sender] = seq;
            __atomic_add_fetch(&g_hturns, 1, __ATOMIC_SEQ_CST);
        }
    } else if (strcmp(method, "report") == 0) {
        snprintf(out, sizeof(out), "%d %d %ld", in->overlaps, in->out_of_order, in->turns - 1);
        rc = actor_buf_puts(resp, out);
    } else if (strcmp(method, "probe") == 0) {
        /* Parallelism: each of two actors waits until the other is inside
         * its turn too. Only possible when they run at the same time. */
        int *mine = strcmp(actor_ctx_id(ctx), "a") == 0 ? &g_in_a : &g_in_b;
        int *other = mine == &g_in_a ? &g_in_b : &g_in_a;
        __atomic_store_n(mine, 1, __ATOMIC_SEQ_CST);
        int ok = T_WAIT_UNTIL(__atomic_load_n(other, __ATOMIC_SEQ_CST), 10000);
        rc = actor_buf_puts(resp, ok ? "parallel" : "serial");
    } else if (strcmp(method, "bounce") == 0) {
        /* An endless chain of messages between "pa" and "pb", each sent
         * from the other's turn, until g_stop. */
        __atomic_add_fetch(&g_bounces, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&g_stop, __ATOMIC_SEQ_CST))
            (void)actor_invoke_async(g_host, "t",
                                     strcmp(actor_ctx_id(ctx), "pa") == 0 ? "pb" : "pa", "bounce",
                                     NULL, 0, NULL, NULL);
    } else if (strcmp(method, "gate") == 0) {
        /* Hold this worker until the test opens the gate. */
        __atomic_store_n(&g_gated, 1, __ATOMIC_SEQ_CST);
        if (!T_WAIT_UNTIL(__atomic_load_n(&g_gate, __ATOMIC_SEQ_CST), 10000))
            rc = actor_error_set(ACTOR_ETIMEOUT, "gate never opened");
    } else if (strcmp(method, "tick") == 0) {
        __atomic_add_fetch(&g_ticks, 1, __ATOMIC_SEQ_CST);
    } else if (strcmp(method, "ticks") == 0) {
        snprintf(out, sizeof(out), "%ld", __atomic_load_n(&g_ticks, __ATOMIC_SEQ_CST));
        rc = actor_buf_puts(resp, out);
    } else if (strcmp(method, "mark") == 0) {
        __atomic_store_n(&g_marked, 1, __ATOMIC_SEQ_CST);
    } else if (strcmp(method, "sendwait") == 0) {
        /* Send to "mk", then stay in this turn until "mk" has run. */
        rc = actor_invoke_async(g_host, "t", "mk", "mark", NULL, 0, NULL, NULL);
        if (rc == 0) {
            int ok = T_WAIT_UNTIL(__atomic_load_n(&g_marked, __ATOMIC_SEQ_CST), 10000);
            rc = actor_buf_puts(resp, ok ? "seen" : "missed");
        }
    } else if (strcmp(method, "fail") == 0) {
        actor_buf_puts(resp, "partial output that must not reach the caller");
        rc = actor_error_set(-1001, "boom from %s", actor_ctx_id(ctx));
    } else if (strcmp(method, "count") == 0) {
        snprintf(out, sizeof(out), "%ld", in->turns);
        rc = actor_buf_puts(resp, out);
    } else if (strcmp(method, "call") == 0) {
        /* Blocking invoke of the actor named in the request. */
        actor_buf r = ACTOR_BUF_INIT;
        rc = actor_invoke(&r, g_host, "t", (const char *)req, "count", NULL, 0);
        if (rc == 0)
            rc = actor_buf_put(resp, r.ptr, r.size);
        actor_buf_dispose(&r);
    } else if (strcmp(method, "callk") == 0) {
        /* Blocking invoke of the actor named in the request (the turn is
         * parked meanwhile), then a ctx call: refused unless this turn is
         * still the one running on its thread. */
        actor_buf r = ACTOR_BUF_INIT;
        static const char tag = 0;
        rc = actor_invoke(&r, g_host, "t", (const char *)req, "count", NULL, 0);
        if (rc == 0)
            rc = actor_ctx_cache_set(ctx, &tag, NULL, NULL);
        if (rc == 0)
            rc = actor_buf_put(resp, r.ptr, r.size);
        actor_buf_dispose(&r);
    } else if (strcmp(method, "call2") == 0) {
        /* Blocking invoke of the first ID, asking it to call the second. */
        char first[64], second[64];
        actor_buf r = ACTOR_BUF_INIT;
        if (sscanf((const char *)req, "%63s %63s", first, second) != 2)
            rc = actor_error_set(ACTOR_EINVAL, "call2 needs two IDs");
        else
            rc = actor_invoke(&r, g_host, "t", first, "call", second, strlen(second) + 1);
        actor_buf_dispose(&r);
    } else {
        rc = actor_error_set(ACTOR_EINVAL, "unknown method %s", method);
    }
    __atomic_sub_fetch(&in->inside, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static actor_host *start_host(unsigned workers)
{
    actor_host_options o;
    actor_type t = ACTOR_TYPE_INIT;
    actor_host *h = NULL;

    actor_host_options_init(&o);
    o.workers = workers;
    t.name = "t";
    t.activate = act;
    t.invoke = invoke;
    t.deactivate = deact;
    if (actor_host_new(&h, "sqlite::memory:", &o) != 0 || actor_host_register(h, &t, NULL) != 0 ||
        actor_host_start(h) != 0) {
        fprintf(stderr, "host: %s\n", actor_error_last());
        actor_host_free(h);
        return NULL;
    }
    g_host = h;
    return h;
}

struct sender {
    int index;
    int failures;
};

static void *send_seq(void *arg)
{
    struct sender *s = arg;
    char req[64], id[16];
    actor_ref *refs[SEQ_ACTORS] = {NULL};

    for (int a = 0; a < SEQ_ACTORS; a++) {
        snprintf(id, sizeof(id), "seq%d", a);
        if (actor_ref_new(&refs[a], g_host, "t", id) != 0)
            s->failures++;
    }
    for (long i = 0; i < PER_SENDER && s->failures == 0; i++) {
        for (int a = 0; a < SEQ_ACTORS; a++) {
            snprintf(id, sizeof(id), "seq%d", a);
            int n = snprintf(req, sizeof(req), "%d %ld", s->index, i), rc;
            /* Blocking and asynchronous sends, by name and by reference,
             * mixed: all of them keep one order. */
            switch (i % 4) {
            case 0:
                rc = actor_invoke_async(g_host, "t", id, "seq", req, (size_t)n + 1, NULL, NULL);
                break;
            case 1:
                rc = actor_invoke(NULL, g_host, "t", id, "seq", req, (size_t)n + 1);
                break;
            case 2:
                rc = actor_ref_invoke_async(refs[a], "seq", req, (size_t)n + 1, NULL, NULL);
                break;
            default:
                rc = actor_ref_invoke(NULL, refs[a], "seq", req, (size_t)n + 1);
                break;
            }
            if (rc != 0)
                s->failures++;
        }
    }
    for (int a = 0; a < SEQ_ACTORS; a++)
        actor_ref_free(refs[a]);
    return NULL;
}

static void test_fifo_and_exclusion(void)
{
    actor_host *h = start_host(2);
    pthread_t th[SENDERS];
    struct sender s[SENDERS];
    actor_buf r = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    for (int i = 0; i < SENDERS; i++) {
        s[i].index = i;
        s[i].failures = 0;
        pthread_create(&th[i], NULL, send_seq, &s[i]);
    }
    for (int i = 0; i < SENDERS; i++) {
        pthread_join(th[i], NULL);
        T_EQ(s[i].failures, 0);
    }
    for (int a = 0; a < SEQ_ACTORS; a++) {
        char id[16];
        int overlaps = -1, disorder = -1;
        long turns = -1;
        snprintf(id, sizeof(id), "seq%d", a);
        /* "report" queues behind every message sent above (FIFO), so it
         * sees all of them. */
        T_OK(actor_invoke(&r, h, "t", id, "report", NULL, 0));
        T_EQ(sscanf(r.ptr, "%d %d %ld", &overlaps, &disorder, &turns), 3);
        T_EQ(overlaps, 0);
        T_EQ(disorder, 0);
        T_EQ(turns, (long)SENDERS * PER_SENDER);
    }
    actor_buf_dispose(&r);
    actor_host_free(h);
}

static void *probe(void *arg)
{
    actor_buf r = ACTOR_BUF_INIT;
    char *out = arg;

    if (actor_invoke(&r, g_host, "t", out[0] == 'a' ? "a" : "b", "probe", NULL, 0) == 0)
        snprintf(out, 16, "%s", r.ptr);
    actor_buf_dispose(&r);
    return NULL;
}

static void test_parallel_actors(void)
{
    actor_host *h = start_host(2);
    pthread_t ta, tb;
    char ra[16] = "a", rb[16] = "b";

    T_ASSERT(h != NULL);
    g_in_a = g_in_b = 0;
    pthread_create(&ta, NULL, probe, ra);
    pthread_create(&tb, NULL, probe, rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    T_STREQ(ra, "parallel");
    T_STREQ(rb, "parallel");
    actor_host_free(h);
}

static void test_error_does_not_poison(void)
{
    actor_host *h = start_host(2);
    actor_buf r = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    T_OK(actor_invoke(&r, h, "t", "e1", "count", NULL, 0));
    T_STREQ(r.ptr, "1");
    T_EQ(actor_invoke(&r, h, "t", "e1", "fail", NULL, 0), -1001);
    T_STREQ(actor_error_last(), "boom from e1");
    T_OK(actor_invoke(&r, h, "t", "e1", "count", NULL, 0));
    T_STREQ(r.ptr, "3"); /* same activation: the instance survived */
    T_EQ(actor_invoke(&r, h, "t", "e1", "nosuch", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "unknown method nosuch");
    actor_buf_dispose(&r);
    actor_host_free(h);
}

/* Blocking invokes from turns park them: 32 callers on one worker, each
 * waiting on its own callee several times, need no thread each; each caller
 * still runs one turn at a time, in order, and is itself after resuming. */
#define CALLERS 32
#define CALLS   5

static void call_done(int error, const void *resp, size_t len, void *payload)
{
    long *count = payload;

    if (error || len == 0)
        __atomic_add_fetch(&count[1], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&count[0], 1, __ATOMIC_SEQ_CST);
}

static void test_parked_calls(void)
{
    actor_host *h = start_host(1);
    actor_buf r = ACTOR_BUF_INIT;
    long count[2] = {0, 0}, before, after;
    char caller[32], callee[32], want[32];

    T_ASSERT(h != NULL);
    before = t_process_threads();
    for (int k = 0; k < CALLS; k++)
        for (int i = 0; i < CALLERS; i++) {
            snprintf(caller, sizeof(caller), "caller%d", i);
            snprintf(callee, sizeof(callee), "callee%d", i);
            T_OK(actor_invoke_async(h, "t", caller, "callk", callee, strlen(callee) + 1, call_done,
                                    count));
        }
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&count[0], __ATOMIC_SEQ_CST) == CALLERS * CALLS, 30000));
    T_EQ(count[1], 0);
    for (int i = 0; i < CALLERS; i++) {
        snprintf(caller, sizeof(caller), "caller%d", i);
        snprintf(callee, sizeof(callee), "callee%d", i);
        /* No overlap, nothing out of order, CALLS turns before this one. */
        T_OK(actor_invoke(&r, h, "t", caller, "report", NULL, 0));
        snprintf(want, sizeof(want), "0 0 %d", CALLS);
        T_STREQ(r.ptr, want);
        T_OK(actor_invoke(&r, h, "t", callee, "count", NULL, 0));
        snprintf(want, sizeof(want), "%d", CALLS + 1);
        T_STREQ(r.ptr, want);
    }
    after = t_process_threads();
    if (after - before >= 8)
        T_FAIL("%ld threads before the calls, %ld after", before, after);
    actor_buf_dispose(&r);
    actor_host_free(h);
}

static void test_blocking_call_chain(void)
{
    /* One worker: a turn that blocks on another actor must not starve it. */
    actor_host *h = start_host(1);
    actor_buf r = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    T_OK(actor_invoke(&r, h, "t", "x", "call", "y", 2));
    T_STREQ(r.ptr, "1");
    /* x calls itself: refused, not hung. */
    T_EQ(actor_invoke(&r, h, "t", "x", "call", "x", 2), ACTOR_EDEADLK);
    T_CONTAINS(actor_error_last(), "t/x");
    /* x -> y -> x: refused in y's turn, reported back through x. */
    T_EQ(actor_invoke(&r, h, "t", "x", "call2", "y x", 4), ACTOR_EDEADLK);
    T_CONTAINS(actor_error_last(), "waiting in this call chain");
    /* x -> y -> z is fine. */
    T_OK(actor_invoke(&r, h, "t", "x", "call2", "y z", 4));
    actor_buf_dispose(&r);
    actor_host_free(h);
}

struct async_result {
    pthread_mutex_t mu;
    int done;
    int rc;
    char resp[64];
    char msg[256];
};

static void on_done(int error, const void *resp, size_t len, void *payload)
{
    struct async_result *ar = payload;

    pthread_mutex_lock(&ar->mu);
    ar->rc = error;
    snprintf(ar->resp, sizeof(ar->resp), "%.*s", (int)len, resp ? (const char *)resp : "");
    snprintf(ar->msg, sizeof(ar->msg), "%s", error ? actor_error_last() : "");
    ar->done = 1;
    pthread_mutex_unlock(&ar->mu);
}

static int async_done(struct async_result *ar)
{
    pthread_mutex_lock(&ar->mu);
    int d = ar->done;
    pthread_mutex_unlock(&ar->mu);
    return d;
}

static void test_async_invoke(void)
{
    actor_host *h = start_host(2);
    struct async_result ok = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};
    struct async_result bad = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};

    T_ASSERT(h != NULL);
    T_OK(actor_invoke_async(h, "t", "as", "count", NULL, 0, on_done, &ok));
    T_OK(actor_invoke_async(h, "t", "as", "fail", NULL, 0, on_done, &bad));
    T_ASSERT(T_WAIT_UNTIL(async_done(&ok) && async_done(&bad), 10000));
    T_EQ(ok.rc, 0);
    T_STREQ(ok.resp, "1");
    T_EQ(bad.rc, -1001);
    T_STREQ(bad.resp, "");
    T_STREQ(bad.msg, "boom from as");
    /* Errors before queuing are returned, and the callback is not called. */
    struct async_result never = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};
    T_EQ(actor_invoke_async(h, "nosuchtype", "as", "count", NULL, 0, on_done, &never),
         ACTOR_ENOTFOUND);
    T_CONTAINS(actor_error_last(), "nosuchtype");
    actor_host_free(h);
    T_EQ(never.done, 0);
}

/* References: an address resolved once, used like a name, across the
 * actor's deactivations; every bad argument named. */
static void test_refs(void)
{
    actor_host *h = start_host(2);
    actor_ref *ref = NULL, *bad = (actor_ref *)1;
    actor_buf b = ACTOR_BUF_INIT;
    struct async_result r = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};

    T_ASSERT(h != NULL);
    T_EQ(actor_ref_new(NULL, h, "t", "x"), ACTOR_EINVAL);
    T_EQ(actor_ref_new(&bad, NULL, "t", "x"), ACTOR_EINVAL);
    T_CHECK(bad == NULL);
    T_EQ(actor_ref_new(&bad, h, "nosuchtype", "x"), ACTOR_ENOTFOUND);
    T_CONTAINS(actor_error_last(), "nosuchtype");
    T_EQ(actor_ref_new(&bad, h, "t", ""), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "actor ID");
    T_EQ(actor_ref_new(&bad, h, "t", "\xff"), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "UTF-8");
    T_OK(actor_ref_new(&ref, h, "t", "rf"));
    T_STREQ(actor_ref_type(ref), "t");
    T_STREQ(actor_ref_id(ref), "rf");
    /* A reference activates nothing by itself. */
    T_EQ(actor_host_active_count(h), 0);
    T_EQ(actor_host_halt(h, "t", "rf"), ACTOR_ENOTFOUND);

    /* The same actor as by name: one instance, one count. */
    T_OK(actor_ref_invoke(&b, ref, "count", NULL, 0));
    T_STREQ(b.ptr, "1");
    T_OK(actor_invoke(&b, h, "t", "rf", "count", NULL, 0));
    T_STREQ(b.ptr, "2");
    T_OK(actor_ref_invoke_async(ref, "count", NULL, 0, on_done, &r));
    T_ASSERT(T_WAIT_UNTIL(async_done(&r), 10000));
    T_EQ(r.rc, 0);
    T_STREQ(r.resp, "3");
    /* A turn's error reaches the caller with its message. */
    T_EQ(actor_ref_invoke(&b, ref, "fail", NULL, 0), -1001);
    T_STREQ(actor_error_last(), "boom from rf");
    /* Bad calls are refused before anything is queued. */
    T_EQ(actor_ref_invoke(&b, NULL, "count", NULL, 0), ACTOR_EINVAL);
    T_EQ(actor_ref_invoke_async(NULL, "count", NULL, 0, NULL, NULL), ACTOR_EINVAL);
    T_EQ(actor_ref_invoke(&b, ref, "", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "method name");
    T_EQ(actor_ref_invoke(&b, ref, "count", NULL, 3), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "request is NULL");
    T_EQ(actor_host_active_count(h), 1);
    /* Deactivated, the actor is not active (though its reference keeps
     * its address), and comes back on the next message by reference (a
     * new instance: its count starts again). */
    T_OK(actor_host_halt(h, "t", "rf"));
    T_EQ(actor_host_active_count(h), 0);
    T_EQ(actor_host_halt(h, "t", "rf"), ACTOR_ENOTFOUND);
    T_OK(actor_ref_invoke(&b, ref, "count", NULL, 0));
    T_STREQ(b.ptr, "1");
    T_EQ(actor_host_active_count(h), 1);
    T_OK(actor_host_halt_all(h));
    T_EQ(actor_host_active_count(h), 0);
    T_OK(actor_ref_invoke(&b, ref, "count", NULL, 0));
    T_STREQ(b.ptr, "1");
    /* A stopped host refuses it like a name. */
    T_OK(actor_host_stop(h));
    T_EQ(actor_ref_invoke(&b, ref, "count", NULL, 0), ACTOR_ESHUTDOWN);
    T_EQ(actor_ref_invoke_async(ref, "count", NULL, 0, NULL, NULL), ACTOR_ESHUTDOWN);
    T_CONTAINS(actor_error_last(), "rf");
    actor_ref_free(ref);
    actor_ref_free(NULL);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

/* A reference may outlive its host (it is then only freed), and one freed
 * while the host runs lets its dormant actor go. */
static void test_ref_lifetimes(void)
{
    actor_host *h = start_host(1);
    actor_ref *r1 = NULL, *r2 = NULL, *r3 = NULL;
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    T_OK(actor_ref_new(&r1, h, "t", "life"));
    T_OK(actor_ref_new(&r2, h, "t", "life"));
    T_OK(actor_ref_new(&r3, h, "t", "never-sent"));
    T_OK(actor_ref_invoke(&b, r1, "count", NULL, 0));
    T_STREQ(b.ptr, "1");
    T_OK(actor_ref_invoke(&b, r2, "count", NULL, 0));
    T_STREQ(b.ptr, "2"); /* both references name the one actor */
    actor_ref_free(r3);  /* dormant from the start: freed now */
    actor_ref_free(r1);
    T_OK(actor_ref_invoke(&b, r2, "count", NULL, 0));
    T_STREQ(b.ptr, "3");
    actor_host_free(h);
    /* After the host: the reference frees only its own memory (the
     * sanitizers check that nothing freed is touched or leaked). */
    actor_ref_free(r2);
    actor_buf_dispose(&b);
}

/* Senders through references race a stop: every send is either refused
 * with ACTOR_ESHUTDOWN or answered exactly once, never lost. */
struct ref_racer {
    actor_ref *ref;
    long accepted, refused, other;
    long answered; /* atomic */
};

static void on_race_done(int error, const void *resp, size_t len, void *payload)
{
    struct ref_racer *r = payload;
    (void)error;
    (void)resp;
    (void)len;
    __atomic_add_fetch(&r->answered, 1, __ATOMIC_SEQ_CST);
}

static void *race_send(void *arg)
{
    struct ref_racer *r = arg;

    for (;;) {
        int rc = actor_ref_invoke_async(r->ref, "tick", NULL, 0, on_race_done, r);
        if (rc == 0)
            r->accepted++;
        else if (rc == ACTOR_ESHUTDOWN) {
            r->refused++;
            return NULL;
        } else {
            r->other++;
            return NULL;
        }
    }
}

static void test_ref_sends_race_stop(void)
{
    enum { RACERS = 3 };
    actor_host *h = start_host(2);
    pthread_t th[RACERS];
    struct ref_racer rr[RACERS];
    char id[16];

    T_ASSERT(h != NULL);
    for (int i = 0; i < RACERS; i++) {
        memset(&rr[i], 0, sizeof(rr[i]));
        /* Two racers share an actor; one has its own. */
        snprintf(id, sizeof(id), "race%d", i / 2);
        T_OK(actor_ref_new(&rr[i].ref, h, "t", id));
        pthread_create(&th[i], NULL, race_send, &rr[i]);
    }
    /* Not an assertion that returns: the racers use rr until joined. */
    T_CHECK(T_WAIT_UNTIL(__atomic_load_n(&rr[0].answered, __ATOMIC_SEQ_CST) > 100 &&
                             __atomic_load_n(&rr[2].answered, __ATOMIC_SEQ_CST) > 100,
                         60000));
    T_OK(actor_host_stop(h));
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        T_EQ(rr[i].other, 0);
        T_EQ(rr[i].refused, 1);
        T_EQ(__atomic_load_n(&rr[i].answered, __ATOMIC_SEQ_CST), rr[i].accepted);
        actor_ref_free(rr[i].ref);
    }
    T_EQ(actor_host_active_count(h), 0);
    actor_host_free(h);
}

/* Every message is turned once and in order per sender while the actors are
 * halted again and again: each halt goes to the ordered mailbox behind what
 * was sent before it, and what is sent after it activates the actor anew. */
struct halt_sender {
    int index;
    actor_ref *refs[HALT_ACTORS];
    long sent; /* to each actor */
    int failures;
};

/* Each sender sends at least this many to each actor, and goes on until
 * HALTS_WANTED halts have gone through (at most HALT_SENDS_MAX). */
#define HALT_PER_SENDER 3000
#define HALTS_WANTED    100
#define HALT_SENDS_MAX  5000000
static int g_hsenders_done;
static int g_halts;

static void *send_through_halts(void *arg)
{
    struct halt_sender *s = arg;
    char req[64], id[16];
    long i;

    for (i = 0; i < HALT_SENDS_MAX &&
                (i < HALT_PER_SENDER || __atomic_load_n(&g_halts, __ATOMIC_SEQ_CST) < HALTS_WANTED);
         i++) {
        for (int a = 0; a < HALT_ACTORS; a++) {
            int n = snprintf(req, sizeof(req), "%d %d %ld", a, s->index, i), rc;
            snprintf(id, sizeof(id), "h%d", a);
            /* A blocking send now and then keeps the mailboxes short, so
             * that halts, which queue behind them, go through. */
            if (i % 64 == 63)
                rc = actor_invoke(NULL, g_host, "t", id, "hseq", req, (size_t)n + 1);
            else if (i % 2)
                rc = actor_invoke_async(g_host, "t", id, "hseq", req, (size_t)n + 1, NULL, NULL);
            else
                rc = actor_ref_invoke_async(s->refs[a], "hseq", req, (size_t)n + 1, NULL, NULL);
            if (rc != 0)
                s->failures++;
        }
    }
    s->sent = i;
    __atomic_add_fetch(&g_hsenders_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_fifo_across_halts(void)
{
    enum { N = 3 };
    actor_host *h = start_host(2);
    pthread_t th[N];
    struct halt_sender hs[N];
    long total = 0;
    char id[16];

    T_ASSERT(h != NULL);
    for (int a = 0; a < HALT_ACTORS; a++)
        for (int i = 0; i < SENDERS; i++)
            g_hlast[a][i] = -1;
    for (int i = 0; i < N; i++) {
        memset(&hs[i], 0, sizeof(hs[i]));
        hs[i].index = i;
        for (int a = 0; a < HALT_ACTORS; a++) {
            snprintf(id, sizeof(id), "h%d", a);
            T_OK(actor_ref_new(&hs[i].refs[a], h, "t", id));
        }
    }
    for (int i = 0; i < N; i++)
        T_ASSERT(pthread_create(&th[i], NULL, send_through_halts, &hs[i]) == 0);
    /* Halt the actors round and round while the senders go on. */
    while (__atomic_load_n(&g_hsenders_done, __ATOMIC_SEQ_CST) < N) {
        for (int a = 0; a < HALT_ACTORS; a++) {
            snprintf(id, sizeof(id), "h%d", a);
            if (actor_host_halt(h, "t", id) == 0)
                __atomic_add_fetch(&g_halts, 1, __ATOMIC_SEQ_CST);
        }
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        total += hs[i].sent * HALT_ACTORS;
    }
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&g_hturns, __ATOMIC_SEQ_CST) == total, 60000));
    T_EQ(__atomic_load_n(&g_hdisorder, __ATOMIC_SEQ_CST), 0);
    for (int i = 0; i < N; i++) {
        T_EQ(hs[i].failures, 0);
        for (int a = 0; a < HALT_ACTORS; a++) {
            T_EQ(g_hlast[a][i], hs[i].sent - 1);
            actor_ref_free(hs[i].refs[a]);
        }
    }
    /* The race was run: actors were halted while messages came in. */
    T_ASSERT(__atomic_load_n(&g_halts, __ATOMIC_SEQ_CST) >= HALTS_WANTED);
    actor_host_free(h);
}

/* A chain of messages sent from turn to turn runs on the worker that sent
 * each one, without the shared queue; with one worker, a message from
 * outside must still get its turn while the chain goes on. */
static void test_chain_does_not_starve(void)
{
    actor_host *h = start_host(1);
    struct async_result r = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};
    long before;

    T_ASSERT(h != NULL);
    __atomic_store_n(&g_stop, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_bounces, 0, __ATOMIC_SEQ_CST);
    T_OK(actor_invoke_async(h, "t", "pa", "bounce", NULL, 0, NULL, NULL));
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&g_bounces, __ATOMIC_SEQ_CST) > 1000, 10000));
    T_OK(actor_invoke_async(h, "t", "c1", "count", NULL, 0, on_done, &r));
    T_ASSERT(T_WAIT_UNTIL(async_done(&r), 10000));
    T_EQ(r.rc, 0);
    /* ... and it was answered while the chain was still going. */
    before = __atomic_load_n(&g_bounces, __ATOMIC_SEQ_CST);
    T_CHECK(T_WAIT_UNTIL(__atomic_load_n(&g_bounces, __ATOMIC_SEQ_CST) > before + 1000, 10000));
    __atomic_store_n(&g_stop, 1, __ATOMIC_SEQ_CST);
    actor_host_free(h);
}

/* A turn that sends a message and then runs on (here: until the message
 * has been handled) must not hold the receiver back while another worker
 * is free. */
static void test_long_turn_after_send(void)
{
    actor_host *h = start_host(2);
    actor_buf r = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    __atomic_store_n(&g_marked, 0, __ATOMIC_SEQ_CST);
    /* Activate both first, so that only the hand-off is tested. */
    T_OK(actor_invoke(&r, h, "t", "mk", "count", NULL, 0));
    T_OK(actor_invoke(&r, h, "t", "sw", "count", NULL, 0));
    T_OK(actor_invoke(&r, h, "t", "sw", "sendwait", NULL, 0));
    T_ASSERT(r.ptr != NULL);
    T_STREQ(r.ptr, "seen");
    actor_buf_dispose(&r);
    actor_host_free(h);
}

/* An actor with a long mailbox gives its worker up after a budget of
 * turns: with one worker, a message to another actor queued behind the
 * flood is answered long before the flood is drained. */
static void test_busy_mailbox_yields(void)
{
    enum { FLOOD = 10000 };
    actor_host *h = start_host(1);
    struct async_result r = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    __atomic_store_n(&g_gate, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_gated, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_ticks, 0, __ATOMIC_SEQ_CST);
    /* Activate all three first, so only turns are tested. */
    T_OK(actor_invoke(&b, h, "t", "flood", "count", NULL, 0));
    T_OK(actor_invoke(&b, h, "t", "other", "count", NULL, 0));
    T_OK(actor_invoke(&b, h, "t", "gk", "count", NULL, 0));
    /* Hold the only worker, queue the flood and then the other message. */
    T_OK(actor_invoke_async(h, "t", "gk", "gate", NULL, 0, NULL, NULL));
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&g_gated, __ATOMIC_SEQ_CST), 10000));
    for (int i = 0; i < FLOOD; i++)
        T_OK(actor_invoke_async(h, "t", "flood", "tick", NULL, 0, NULL, NULL));
    T_OK(actor_invoke_async(h, "t", "other", "ticks", NULL, 0, on_done, &r));
    __atomic_store_n(&g_gate, 1, __ATOMIC_SEQ_CST);
    T_ASSERT(T_WAIT_UNTIL(async_done(&r), 10000));
    T_EQ(r.rc, 0);
    T_CHECK(atol(r.resp) < FLOOD / 2);
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&g_ticks, __ATOMIC_SEQ_CST) == FLOOD, 10000));
    actor_buf_dispose(&b);
    actor_host_free(h);
}

int main(void)
{
    T_RUN(test_fifo_and_exclusion);
    T_RUN(test_parallel_actors);
    T_RUN(test_error_does_not_poison);
    T_RUN(test_blocking_call_chain);
    T_RUN(test_parked_calls);
    T_RUN(test_async_invoke);
    T_RUN(test_refs);
    T_RUN(test_ref_lifetimes);
    T_RUN(test_ref_sends_race_stop);
    T_RUN(test_fifo_across_halts);
    T_RUN(test_chain_does_not_starve);
    T_RUN(test_long_turn_after_send);
    T_RUN(test_busy_mailbox_yields);
    return t_done();
}
