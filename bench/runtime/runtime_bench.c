/*
 * runtime_bench.c: the runtime's own benchmarks, each beside a baseline run
 * in the same process so that figures are read as ratios:
 *   fanout    N actors x M messages from an outside thread, counts checked
 *             (baseline: the same increments on a mutex-guarded hash map);
 *   hot       messages into one actor from 2 threads (same baseline);
 *   fanout_ref, hot_ref: the same, sent through actor references (an
 *             address resolved once, as CAF's handles and Erlang's pids);
 *   pingpong  round trips between two actors with asynchronous invokes
 *             (baseline: a mutex+condvar hand-off between two threads);
 *   memory    RSS per active idle actor (empty state, default options),
 *             activated in waves of 10,000;
 *   writes    durable state sets from W concurrent actors through the
 *             group commit, each actor writing one set after the other
 *             (baselines: one transaction per write, the naive way, and the
 *             provider's ceiling at that concurrency, W sets of W keys per
 *             transaction, both through the same provider on the same store;
 *             each figure, the runtime's and the baselines', the better of
 *             two rounds);
 *   cold      cold activations (lease + state load) of N actors (baseline:
 *             the lease table's raw insert ceiling, batches of 1,000 lease
 *             acquisitions per transaction through the same provider), and
 *             the cost of one heartbeat with 0 and with N leases held.
 * Prints one line per figure: `bench runtime <name> key=value ...`.
 * Usage: runtime_bench [--quick] [--dir DIR] [--url STORE_URL] [workload...]
 * (--url: the store for writes and cold; default a SQLite file in DIR)
 */
#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CPU time of the calling thread, in seconds. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void die(const char *what)
{
    fprintf(stderr, "runtime_bench: %s: %s\n", what, actor_error_last());
    exit(1);
}

/* ---- a counting actor ------------------------------------------------------ */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static long g_done;   /* messages handled (atomic) */
static long g_target; /* signal when g_done reaches it (atomic: a worker may
                       * still compare against it when the main thread,
                       * which saw the count reached, sets the next one) */

static void count_done(long n)
{
    long d = __atomic_add_fetch(&g_done, n, __ATOMIC_RELAXED);
    if (d == __atomic_load_n(&g_target, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&g_mu);
        pthread_cond_broadcast(&g_cv);
        pthread_mutex_unlock(&g_mu);
    }
}

static void wait_done(void)
{
    pthread_mutex_lock(&g_mu);
    while (__atomic_load_n(&g_done, __ATOMIC_RELAXED) <
           __atomic_load_n(&g_target, __ATOMIC_RELAXED)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
    }
    pthread_mutex_unlock(&g_mu);
}

static void reset_count(long target)
{
    __atomic_store_n(&g_done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_target, target, __ATOMIC_RELAXED);
}

/* The instance is the count itself (no allocation per actor). */
static int counter_activate(void **instance, actor_ctx *ctx, void *payload)
{
    *instance = NULL;
    return 0;
}

static actor_host *g_host;

static int counter_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                          const void *req, size_t len, void *payload)
{
    if (method[0] == 'i') { /* inc */
        count_done(1);
        return 0;
    }
    if (method[0] == 'p') { /* ping: answer with a pong to the peer */
        long n = req && len == sizeof(long) ? *(const long *)req : 0;
        count_done(1);
        if (n <= 1)
            return 0;
        n--;
        const char *peer = strcmp(actor_ctx_id(ctx), "a") == 0 ? "b" : "a";
        return actor_invoke_async(g_host, "c", peer, "ping", &n, sizeof(n), NULL, NULL);
    }
    if (method[0] == 's') /* set state */
        return actor_ctx_state_set(ctx, req, len, 0);
    if (method[0] == 'g') { /* stage a write: committed before the answer */
        long n = req && len == sizeof(long) ? *(const long *)req : 0;
        char val[64];
        int vlen = snprintf(val, sizeof(val), "{\"n\":%ld}", n);
        return actor_ctx_state_stage_set(ctx, val, (size_t)vlen, 0);
    }
    if (method[0] == 'l') { /* loop: this many durable state sets, one by one */
        long n = req && len == sizeof(long) ? *(const long *)req : 0;
        char val[64];
        for (long i = 0; i < n; i++) {
            int vlen = snprintf(val, sizeof(val), "{\"n\":%ld}", i);
            int rc = actor_ctx_state_set(ctx, val, (size_t)vlen, 0);
            if (rc != 0)
                return rc;
            count_done(1);
        }
        return 0;
    }
    return 0;
}

/* Type "n": a counter with its count in the instance (fan-out check). */
static int tally_activate(void **instance, actor_ctx *ctx, void *payload)
{
    *instance = calloc(1, sizeof(long));
    return *instance ? 0 : ACTOR_ENOMEM;
}

static void tally_deactivate(void *instance, actor_ctx *ctx, void *payload)
{
    free(instance);
}

static int tally_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                        const void *req, size_t len, void *payload)
{
    long *count = instance;

    if (method[0] == 'g') {
        char out[32];
        snprintf(out, sizeof(out), "%ld", *count);
        return actor_buf_puts(resp, out);
    }
    ++*count;
    count_done(1);
    return 0;
}

static actor_host *start_host(const char *url, unsigned workers)
{
    actor_host_options o;
    actor_type c = ACTOR_TYPE_INIT, n = ACTOR_TYPE_INIT;
    actor_host *h = NULL;

    actor_host_options_init(&o);
    o.workers = workers;
    c.name = "c";
    c.activate = counter_activate;
    c.invoke = counter_invoke;
    c.idle_timeout_ms = -1;
    n.name = "n";
    n.activate = tally_activate;
    n.invoke = tally_invoke;
    n.deactivate = tally_deactivate;
    n.idle_timeout_ms = -1;
    if (actor_host_new(&h, url, &o) != 0 || actor_host_register(h, &c, NULL) != 0 ||
        actor_host_register(h, &n, NULL) != 0 || actor_host_start(h) != 0)
        die("start host");
    g_host = h;
    return h;
}

/* ---- baseline: a mutex-guarded hash map of counters ------------------------ */

struct mapent {
    struct mapent *next;
    long count;
    char key[32];
};

struct map {
    pthread_mutex_t mu;
    struct mapent **b;
    size_t n;
};

static void map_inc(struct map *m, const char *key)
{
    size_t h = 5381;
    for (const char *p = key; *p; p++)
        h = h * 33 + (unsigned char)*p;
    pthread_mutex_lock(&m->mu);
    struct mapent **pp = &m->b[h % m->n];
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, key) == 0)
            break;
    if (*pp == NULL) {
        *pp = calloc(1, sizeof(**pp));
        snprintf((*pp)->key, sizeof((*pp)->key), "%s", key);
    }
    (*pp)->count++;
    pthread_mutex_unlock(&m->mu);
}

static double baseline_map(long actors, long per)
{
    struct map m = {PTHREAD_MUTEX_INITIALIZER, NULL, (size_t)actors};
    char key[32];
    double t0;

    m.b = calloc(m.n, sizeof(*m.b));
    t0 = now_s();
    for (long r = 0; r < per; r++)
        for (long i = 0; i < actors; i++) {
            snprintf(key, sizeof(key), "a%ld", i);
            map_inc(&m, key);
        }
    double dt = now_s() - t0;
    for (size_t i = 0; i < m.n; i++)
        while (m.b[i]) {
            struct mapent *e = m.b[i];
            m.b[i] = e->next;
            free(e);
        }
    free(m.b);
    return (double)(actors * per) / dt;
}

/* ---- workloads ---------------------------------------------------------------- */

/* Send `inc` to actor i of the fan-out, by reference or by name. */
static int fan_send(actor_host *h, actor_ref **refs, char (*ids)[24], long i)
{
    return refs ? actor_ref_invoke_async(refs[i], "inc", NULL, 0, NULL, NULL)
                : actor_invoke_async(h, "n", ids[i], "inc", NULL, 0, NULL, NULL);
}

static void fanout(long actors, long per, int by_ref)
{
    actor_host *h = start_host("sqlite::memory:", 0);
    /* The actors' addresses, kept by the sender as CAF and Erlang keep
     * their handles and pids: an array of IDs, formatted once, and with
     * by_ref a reference to each, resolved once. */
    char(*ids)[24] = malloc((size_t)actors * sizeof(*ids));
    actor_ref **refs = by_ref ? calloc((size_t)actors, sizeof(*refs)) : NULL;
    double t0, dt, base, cpu0, cpu;
    actor_buf b = ACTOR_BUF_INIT;
    long wrong = 0;

    if (ids == NULL || (by_ref && refs == NULL))
        die("fanout: out of memory");
    for (long i = 0; i < actors; i++) {
        snprintf(ids[i], sizeof(ids[i]), "a%ld", i);
        if (by_ref && actor_ref_new(&refs[i], h, "n", ids[i]) != 0)
            die("fanout: actor_ref_new");
    }
    /* Activate every actor first (lease writes), then time the messages. */
    reset_count(actors);
    for (long i = 0; i < actors; i++) {
        if (fan_send(h, refs, ids, i) != 0)
            die("fanout invoke");
    }
    wait_done();
    reset_count(actors * per);
    t0 = now_s();
    cpu0 = thread_cpu_s();
    for (long r = 0; r < per; r++)
        for (long i = 0; i < actors; i++) {
            if (fan_send(h, refs, ids, i) != 0)
                die("fanout invoke");
        }
    cpu = thread_cpu_s() - cpu0;
    wait_done();
    dt = now_s() - t0;
    /* Read every count back: each actor saw 1 + per messages. */
    for (long i = 0; i < actors; i++) {
        if (actor_invoke(&b, h, "n", ids[i], "get", NULL, 0) != 0 || atol(b.ptr) != per + 1)
            wrong++;
    }
    actor_buf_dispose(&b);
    free(ids);
    for (long i = 0; by_ref && i < actors; i++)
        actor_ref_free(refs[i]);
    free(refs);
    if (wrong) {
        fprintf(stderr, "runtime_bench: fanout: %ld actors have a wrong count\n", wrong);
        exit(1);
    }
    base = baseline_map(actors, per);
    printf("bench runtime %s actors=%ld msgs=%ld msgs_per_s=%.0f baseline_mutex_map_per_s=%.0f "
           "ratio=%.3f counts_checked=%ld sender_cpu_ns_per_msg=%.0f\n",
           by_ref ? "fanout_ref" : "fanout", actors, actors * per, (double)(actors * per) / dt,
           base, (double)(actors * per) / dt / base, actors, cpu * 1e9 / (double)(actors * per));
    actor_host_free(h);
}

struct hot_sender {
    actor_host *h;
    const actor_ref *ref; /* NULL: by name */
    long n;
    double cpu[2]; /* each sender's CPU time */
    int next;      /* atomic: index of the next sender */
};

static void *hot_send(void *arg)
{
    struct hot_sender *s = arg;
    int me = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
    double cpu0 = thread_cpu_s();
    for (long i = 0; i < s->n; i++) {
        int rc = s->ref ? actor_ref_invoke_async(s->ref, "inc", NULL, 0, NULL, NULL)
                        : actor_invoke_async(s->h, "c", "hot", "inc", NULL, 0, NULL, NULL);
        if (rc != 0)
            die("hot invoke");
    }
    s->cpu[me] = thread_cpu_s() - cpu0;
    return NULL;
}

static void hot(long total, int by_ref)
{
    actor_host *h = start_host("sqlite::memory:", 0);
    pthread_t th[2];
    actor_ref *ref = NULL;
    struct hot_sender s = {h, NULL, total / 2, {0, 0}, 0};
    double t0, dt;

    if (by_ref && actor_ref_new(&ref, h, "c", "hot") != 0)
        die("hot: actor_ref_new");
    s.ref = ref;
    reset_count(1);
    actor_invoke(NULL, h, "c", "hot", "inc", NULL, 0);
    reset_count(2 * s.n);
    t0 = now_s();
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, hot_send, &s);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    wait_done();
    dt = now_s() - t0;
    printf("bench runtime %s msgs=%ld senders=2 msgs_per_s=%.0f sender_cpu_ns_per_msg=%.0f\n",
           by_ref ? "hot_ref" : "hot", 2 * s.n, (double)(2 * s.n) / dt,
           (s.cpu[0] + s.cpu[1]) * 1e9 / (double)(2 * s.n));
    actor_ref_free(ref);
    actor_host_free(h);
}

/* Baseline for ping-pong: two threads handing a token over with a mutex and
 * a condition variable (a thread wake-up per message). */
struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;
    long left;
};

static void *handoff_side(void *arg)
{
    struct handoff *ho = ((void **)arg)[0];
    int me = (int)(long)((void **)arg)[1];

    pthread_mutex_lock(&ho->mu);
    while (ho->left > 0) {
        while (ho->turn != me && ho->left > 0)
            pthread_cond_wait(&ho->cv, &ho->mu);
        if (ho->left <= 0)
            break;
        if (me == 1)
            ho->left--;
        ho->turn = 1 - me;
        pthread_cond_broadcast(&ho->cv);
    }
    pthread_mutex_unlock(&ho->mu);
    return NULL;
}

static double baseline_handoff(long rounds)
{
    struct handoff ho = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, rounds};
    pthread_t t[2];
    void *args[2][2] = {{&ho, (void *)0L}, {&ho, (void *)1L}};
    double t0 = now_s();

    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, handoff_side, args[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return (double)rounds / (now_s() - t0);
}

static void pingpong(long rounds)
{
    actor_host *h = start_host("sqlite::memory:", 0);
    long n = 2 * rounds; /* messages: each round trip is two */
    double t0, dt, base;

    reset_count(2);
    actor_invoke(NULL, h, "c", "a", "inc", NULL, 0);
    actor_invoke(NULL, h, "c", "b", "inc", NULL, 0);
    reset_count(n);
    t0 = now_s();
    if (actor_invoke_async(h, "c", "a", "ping", &n, sizeof(n), NULL, NULL) != 0)
        die("ping");
    wait_done();
    dt = now_s() - t0;
    base = baseline_handoff(rounds);
    printf("bench runtime pingpong round_trips=%ld round_trips_per_s=%.0f "
           "baseline_condvar_handoff_per_s=%.0f ratio=%.3f\n",
           rounds, (double)rounds / dt, base, (double)rounds / dt / base);
    actor_host_free(h);
}

static void memory(const char *dir, long actors)
{
    char url[600];
    actor_host *h;
    char id[32];
    long before, after;
    double t0, dt;

    snprintf(url, sizeof(url), "sqlite:%s/bench-memory-%d.db", dir, (int)getpid());
    h = start_host(url, 0);
    reset_count(1);
    actor_invoke(NULL, h, "c", "warm", "inc", NULL, 0);
    before = rss_kb();
    t0 = now_s();
    /* In waves, as actors arrive in a running system: what is measured is
     * what the actors keep, not a million messages queued at once. */
    for (long done = 0; done < actors; done += 10000) {
        long n = actors - done < 10000 ? actors - done : 10000;
        reset_count(n);
        for (long i = done; i < done + n; i++) {
            snprintf(id, sizeof(id), "m%ld", i);
            if (actor_invoke_async(h, "c", id, "inc", NULL, 0, NULL, NULL) != 0)
                die("memory invoke");
        }
        wait_done();
    }
    dt = now_s() - t0;
    after = rss_kb();
    printf("bench runtime memory actors=%ld rss_delta_kb=%ld bytes_per_actor=%.0f "
           "cold_activations_per_s=%.0f\n",
           actors, after - before, (double)(after - before) * 1024.0 / (double)actors,
           (double)actors / dt);
    actor_host_free(h);
    snprintf(url, sizeof(url), "%s/bench-memory-%d.db", dir, (int)getpid());
    unlink(url);
    strcat(url, "-wal");
    unlink(url);
    url[strlen(url) - 4] = '\0';
    strcat(url, "-shm");
    unlink(url);
}

/* "sqlite" or "postgresql"/"postgres": the URL's scheme, for the output;
 * "sqlite-normal" for a SQLite store opened with synchronous=normal. */
static const char *scheme(const char *url, char *buf, size_t size)
{
    size_t n = strcspn(url, ":");
    const char *q = strchr(url, '?');
    snprintf(buf, size, "%.*s%s", (int)n, url,
             strncmp(url, "sqlite:", 7) == 0 && q && strstr(q, "synchronous=normal") ? "-normal"
                                                                                     : "");
    return buf;
}

static actor_provider *open_store(const char *url, const char *prefix)
{
    actor_provider *p = NULL;
    actor_provider_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.version = ACTOR_PROVIDER_CONFIG_VERSION;
    cfg.url = url;
    cfg.table_prefix = prefix;
    cfg.timeout_ms = 10000;
    cfg.pool_size = 2;
    cfg.lease_deadline_ms = 10000;
    if (actor_provider_open(&p, &cfg) != 0)
        die("open store");
    return p;
}

/* A lease acquisition of actor c/`id` for the benchmarks' own host. */
static actor_store_op *lease_op(actor_store_op *op, const char *id)
{
    memset(op, 0, sizeof(*op));
    op->kind = ACTOR_STORE_LEASE_ACQUIRE;
    op->type = "c";
    op->id = id;
    op->fence_host = "ceiling-host";
    return op;
}

static double naive_writes(const char *url, long n)
{
    actor_provider *p = open_store(url, "naive_");
    char id[32], val[64];
    double t0;

    t0 = now_s();
    for (long i = 0; i < n; i++) {
        actor_store_op op, *ops[1] = {&op};
        memset(&op, 0, sizeof(op));
        op.kind = ACTOR_STORE_STATE_SET;
        op.type = "c";
        snprintf(id, sizeof(id), "w%ld", i % 64);
        op.id = id;
        op.value = val;
        op.value_len = (size_t)snprintf(val, sizeof(val), "{\"n\":%ld}", i);
        if (p->apply(p, ops, 1) != 0)
            die("naive apply");
        actor_store_op_dispose(&op);
    }
    double rate = (double)n / (now_s() - t0);
    actor_provider_free(p);
    return rate;
}

/* The provider's own ceiling at a given concurrency: batches of `batch`
 * state sets of `batch` distinct keys per apply (one transaction each, what
 * a perfect group commit of `batch` concurrent writers would send), from
 * one thread, on the same store. */
static double ceiling_writes(const char *url, long n, long batch, int fenced)
{
    actor_provider *p = open_store(url, fenced ? "fenced_" : "ceiling_");
    actor_store_op *ops = calloc((size_t)batch, sizeof(*ops));
    actor_store_op **ptrs = calloc((size_t)batch, sizeof(*ptrs));
    char(*ids)[32] = calloc((size_t)batch, 32);
    char(*vals)[32] = calloc((size_t)batch, 32);
    uint64_t *epochs = calloc((size_t)batch, sizeof(*epochs));
    double t0;

    if (fenced) {
        /* Fenced as the runtime writes them: each write checks, in its
         * transaction, that this host still holds the key's lease; and the
         * host is registered (alive), as a runtime host is. */
        if (p->host_register(p, "ceiling-host", "") != 0)
            die("ceiling host");
        for (long i = 0; i < batch; i++) {
            snprintf(ids[i], 32, "w%ld", i);
            ptrs[i] = lease_op(&ops[i], ids[i]);
        }
        if (p->apply(p, ptrs, (size_t)batch) != 0)
            die("ceiling leases");
        for (long i = 0; i < batch; i++) {
            if (ops[i].result != 0)
                die("ceiling lease taken");
            epochs[i] = ops[i].out_epoch;
            actor_store_op_dispose(&ops[i]);
        }
    }

    t0 = now_s();
    for (long done = 0; done < n; done += batch) {
        for (long i = 0; i < batch; i++) {
            memset(&ops[i], 0, sizeof(ops[i]));
            snprintf(ids[i], 32, "w%ld", i); /* the writers' keys */
            ops[i].kind = ACTOR_STORE_STATE_SET;
            ops[i].type = "c";
            ops[i].id = ids[i];
            /* A new value every time: SQLite skips rewriting identical rows,
             * which would make a commit free. */
            ops[i].value = vals[i];
            ops[i].value_len = (size_t)snprintf(vals[i], 32, "{\"n\":%ld}", done + i);
            if (fenced) {
                ops[i].fence_host = "ceiling-host";
                ops[i].fence_epoch = epochs[i];
            }
            ptrs[i] = &ops[i];
        }
        if (p->apply(p, ptrs, (size_t)batch) != 0)
            die("ceiling apply");
        for (long i = 0; fenced && i < batch; i++)
            if (ops[i].result != 0)
                die("ceiling write fenced off");
    }
    double rate = (double)n / (now_s() - t0);
    if (fenced)
        (void)p->host_remove(p, "ceiling-host");
    actor_provider_free(p);
    free(ops);
    free(ptrs);
    free(ids);
    free(vals);
    free(epochs);
    return rate;
}

/* One writer of the staged-writes run: each answer (sent once the staged
 * write is committed) sends the next message. */
struct stager {
    actor_host *h;
    char id[16];
    long left;
};

static void stage_next(int error, const void *resp, size_t len, void *payload)
{
    struct stager *s = payload;

    if (error)
        die("staged write");
    /* Send the next one before counting this one: once the count is
     * complete the main thread frees `s`. */
    if (--s->left > 0 && actor_invoke_async(s->h, "c", s->id, "gstage", &s->left, sizeof(s->left),
                                            stage_next, s) != 0)
        die("staged write invoke");
    count_done(1);
}

static double best(double a, double b)
{
    return a > b ? a : b;
}

/* One round of the runtime's writes on a fresh host: `nw` actors write
 * `each` times at once, first with blocking sets, then staged; the rates
 * go to *blocking and *staged. */
static void writes_round(const char *url, int nw, long each, double *blocking, double *staged)
{
    actor_host *h = start_host(url, 0);
    double t0;
    char id[32];

    /* Activate the writers first, so only the writes are timed. */
    reset_count(nw);
    for (int i = 0; i < nw; i++) {
        snprintf(id, sizeof(id), "w%d", i);
        if (actor_invoke_async(h, "c", id, "inc", NULL, 0, NULL, NULL) != 0)
            die("writes activate");
    }
    wait_done();
    /* Each of nw actors writes `each` times, one durable set after the
     * other, all actors at once. */
    reset_count(each * nw);
    t0 = now_s();
    for (int i = 0; i < nw; i++) {
        snprintf(id, sizeof(id), "w%d", i);
        if (actor_invoke_async(h, "c", id, "loop", &each, sizeof(each), NULL, NULL) != 0)
            die("writes invoke");
    }
    wait_done();
    *blocking = (double)(each * nw) / (now_s() - t0);

    /* The same writes staged (actor_ctx_state_stage_set): one write per
     * turn, committed before the turn is answered; the answer sends the
     * writer's next message. No worker waits on the store. */
    struct stager *st = calloc((size_t)nw, sizeof(*st));
    if (st == NULL)
        die("writes: out of memory");
    reset_count(each * nw);
    t0 = now_s();
    for (int i = 0; i < nw; i++) {
        st[i].h = h;
        snprintf(st[i].id, sizeof(st[i].id), "w%d", i);
        st[i].left = each;
        if (actor_invoke_async(h, "c", st[i].id, "gstage", &st[i].left, sizeof(st[i].left),
                               stage_next, &st[i]) != 0)
            die("staged writes invoke");
    }
    wait_done();
    *staged = (double)(each * nw) / (now_s() - t0);
    free(st);
    actor_host_free(h);
}

static void writes(const char *url, long total)
{
    int counts[] = {1, 8, 64};
    char sch[32];
    double naive;

    /* Warm the store up first: a fresh file's WAL grows with every commit,
     * and growing a file costs a metadata sync per commit, far more than
     * the steady state in which the WAL's space is reused. */
    (void)ceiling_writes(url, total / 2 > 64 ? total / 2 : 64, 1, 0);
    /* The better of two, like every figure here. */
    long nn = total / 8 > 50 ? total / 8 : 50;
    naive = best(naive_writes(url, nn), naive_writes(url, nn));
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        int nw = counts[k];
        /* Two rounds, each a ceiling, the fenced ceiling and the runtime's
         * runs, and the better of the two counts for each figure, the
         * runtime's and the ceilings' alike: on a shared machine one
         * measurement may land in a slow moment. Each ceiling is as many
         * writes as a runtime run: a disk's rate of syncs falls as a run
         * goes on, so a shorter ceiling would measure a burst the
         * runtime's longer run cannot have. */
        long each = total / nw > 0 ? total / nw : 1;
        long cn = each * nw;
        double ceiling = 0, fenced = 0, blocking = 0, staged = 0;
        for (int round = 0; round < 2; round++) {
            double b, st;
            ceiling = best(ceiling, ceiling_writes(url, cn, nw, 0));
            fenced = best(fenced, ceiling_writes(url, cn, nw, 1));
            writes_round(url, nw, each, &b, &st);
            blocking = best(blocking, b);
            staged = best(staged, st);
        }
        for (int s = 0; s < 2; s++) {
            double r = s ? staged : blocking;
            printf("bench runtime %s store=%s writers=%d writes=%ld writes_per_s=%.0f "
                   "baseline_naive_tx_per_write_per_s=%.0f ratio_naive=%.3f "
                   "ceiling_same_batch_per_s=%.0f ratio_ceiling=%.3f "
                   "ceiling_fenced_per_s=%.0f ratio_ceiling_fenced=%.3f\n",
                   s ? "writes-staged" : "writes", scheme(url, sch, sizeof(sch)), nw, each * nw, r,
                   naive, r / naive, ceiling, r / ceiling, fenced, r / fenced);
        }
    }
}

/* Time `reps` heartbeats of one host, 2 ms apart so that each one really
 * changes the row (a store may skip a write that changes nothing); only the
 * calls are timed. */
static double heartbeat_us(actor_provider *p, const char *host, int reps)
{
    double total = 0;
    for (int i = 0; i < reps; i++) {
        struct timespec pause = {0, 2000000L};
        nanosleep(&pause, NULL);
        double t0 = now_s();
        if (p->host_heartbeat(p, host) != 0)
            die("heartbeat");
        total += now_s() - t0;
    }
    return total * 1e6 / reps;
}

static void cold(const char *url, long actors)
{
    char prefix[64], id[32];
    actor_provider *p;
    actor_store_op *ops, **ptrs;
    actor_host_options o;
    actor_type c = ACTOR_TYPE_INIT;
    actor_host *h = NULL;
    double t0, ceiling, rate, hb_empty, hb_full;
    long batch = 1000;

    /* Ceiling: raw lease inserts, 1,000 per transaction, same provider. */
    snprintf(prefix, sizeof(prefix), "bcold%d_", (int)getpid());
    p = open_store(url, prefix);
    if (p->host_register(p, "ceiling-host", "") != 0)
        die("register");
    hb_empty = heartbeat_us(p, "ceiling-host", 50);
    ops = calloc((size_t)batch, sizeof(*ops));
    ptrs = calloc((size_t)batch, sizeof(*ptrs));
    char(*ids)[32] = calloc((size_t)batch, 32);
    t0 = now_s();
    for (long done = 0; done < actors; done += batch) {
        long n = actors - done < batch ? actors - done : batch;
        for (long i = 0; i < n; i++) {
            snprintf(ids[i], 32, "x%ld", done + i);
            ptrs[i] = lease_op(&ops[i], ids[i]);
        }
        if (p->apply(p, ptrs, (size_t)n) != 0)
            die("ceiling apply");
        for (long i = 0; i < n; i++)
            actor_store_op_dispose(&ops[i]);
    }
    ceiling = (double)actors / (now_s() - t0);
    hb_full = heartbeat_us(p, "ceiling-host", 50);
    (void)p->host_remove(p, "ceiling-host");
    actor_provider_free(p);
    free(ops);
    free(ptrs);
    free(ids);

    /* libactor: cold activations through the runtime. */
    actor_host_options_init(&o);
    snprintf(prefix, sizeof(prefix), "bcoldrt%d_", (int)getpid());
    o.table_prefix = prefix;
    c.name = "c";
    c.activate = counter_activate;
    c.invoke = counter_invoke;
    c.idle_timeout_ms = -1;
    if (actor_host_new(&h, url, &o) != 0 || actor_host_register(h, &c, NULL) != 0 ||
        actor_host_start(h) != 0)
        die("start host");
    g_host = h;
    reset_count(actors);
    t0 = now_s();
    for (long i = 0; i < actors; i++) {
        snprintf(id, sizeof(id), "m%ld", i);
        if (actor_invoke_async(h, "c", id, "inc", NULL, 0, NULL, NULL) != 0)
            die("cold invoke");
    }
    wait_done();
    rate = (double)actors / (now_s() - t0);
    printf("bench runtime cold store=%s actors=%ld activations_per_s=%.0f "
           "baseline_raw_lease_insert_per_s=%.0f ratio=%.3f\n",
           scheme(url, prefix, sizeof(prefix)), actors, rate, ceiling, rate / ceiling);
    printf("bench runtime heartbeat store=%s leases=0 us=%.1f leases=%ld us=%.1f ratio=%.3f\n",
           prefix, hb_empty, actors, hb_full, hb_full / hb_empty);
    actor_host_free(h);
}

static int wanted(int argc, char **argv, int first, const char *name)
{
    if (first >= argc)
        return 1;
    for (int i = first; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0, first = 1;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *url = NULL;
    char default_url[700];

    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[first], "--dir") == 0 && first + 1 < argc)
            dir = argv[++first];
        else if (strcmp(argv[first], "--url") == 0 && first + 1 < argc)
            url = argv[++first];
        else {
            fprintf(stderr, "usage: runtime_bench [--quick] [--dir DIR] [fanout|fanout_ref|hot|"
                            "hot_ref|pingpong|memory|writes|cold]...\n");
            return 2;
        }
        first++;
    }
    if (wanted(argc, argv, first, "fanout"))
        fanout(quick ? 1000 : 100000, 10, 0);
    if (wanted(argc, argv, first, "fanout_ref"))
        fanout(quick ? 1000 : 100000, 10, 1);
    if (wanted(argc, argv, first, "hot"))
        hot(quick ? 10000 : 1000000, 0);
    if (wanted(argc, argv, first, "hot_ref"))
        hot(quick ? 10000 : 1000000, 1);
    if (wanted(argc, argv, first, "pingpong"))
        pingpong(quick ? 1000 : 200000);
    if (wanted(argc, argv, first, "memory"))
        memory(dir, quick ? 1000 : 1000000);
    if (url == NULL) {
        snprintf(default_url, sizeof(default_url), "sqlite:%s/bench-%d.db", dir, (int)getpid());
        url = default_url;
    }
    if (wanted(argc, argv, first, "writes"))
        writes(url, quick ? 200 : 20000);
    if (wanted(argc, argv, first, "cold"))
        cold(url, quick ? 1000 : 100000);
    if (strncmp(url, "sqlite:", 7) == 0 && url == default_url) {
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char path[720];
            snprintf(path, sizeof(path), "%s%s", url + 7, suffix[i]);
            unlink(path);
        }
    }
    return 0;
}
