/*
 * bench_store.c: throughput of the storage providers beside the raw ceiling
 * of the same database, measured by the same program. For each store (a
 * SQLite file; PostgreSQL when a URL is given) it measures state writes
 * through provider->apply with one write per transaction and with batches,
 * from one and several writer threads, then the same upserts with direct SQL
 * (SQLite: one prepared upsert per row in one transaction; PostgreSQL: libpq
 * pipeline mode, and one unnest() upsert per batch), and point reads through
 * state_get and directly. Writes update existing keys (the table is filled
 * first). Prints one line per figure, then the ratios:
 *   bench store sqlite set batch=1000 writers=1 ops_per_s=12345
 * Never fails on a figure; exits non-zero only when a store call fails.
 */
#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#ifdef ACTOR_BENCH_PG
#include <libpq-fe.h>
#include <poll.h>
#endif

#define MAX_WRITERS 16
#define MAX_BATCH   10000
#define MAX_FIGURES 256

static double opt_seconds = 2.0;
static int opt_keys = 10000; /* keys per writer */
static int opt_batches[8] = {1, 100, 1000};
static int opt_nbatches = 3;
static int opt_writers[8] = {1, 4};
static int opt_nwriters = 2;
static const char *opt_pg_url;
static const char *opt_sqlite_dir;
static int opt_no_sqlite;
/* Table names unique to this run: "bench<pid>_" for the provider's tables,
 * "bench<pid>_raw" for the direct SQL. */
static char prefix[32];
static char raw_table[48];

static const char value_text[] = "{\"owner\":\"bench\",\"count\":12345,\"items\":[1,2,3,4,5],"
                                 "\"note\":\"a state document of about 100 bytes\"}";

struct figure {
    char store[16], what[16];
    int batch, threads;
    double ops;
};
static struct figure figures[MAX_FIGURES];
static int nfigures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, msg);
    exit(1);
}

static void record(const char *store, const char *what, int batch, int threads, double ops)
{
    struct figure *f;
    if (nfigures == MAX_FIGURES)
        return;
    f = &figures[nfigures++];
    snprintf(f->store, sizeof(f->store), "%s", store);
    snprintf(f->what, sizeof(f->what), "%s", what);
    f->batch = batch;
    f->threads = threads;
    f->ops = ops;
    if (batch > 0)
        printf("bench store %s %s batch=%d writers=%d ops_per_s=%.0f\n", store, what, batch,
               threads, ops);
    else
        printf("bench store %s %s readers=%d ops_per_s=%.0f\n", store, what, threads, ops);
    fflush(stdout);
}

static double lookup(const char *store, const char *what, int batch, int threads)
{
    for (int i = 0; i < nfigures; i++)
        if (strcmp(figures[i].store, store) == 0 && strcmp(figures[i].what, what) == 0 &&
            figures[i].batch == batch && figures[i].threads == threads)
            return figures[i].ops;
    return 0;
}

static void key_of(char *dst, size_t size, int writer, int k)
{
    snprintf(dst, size, "w%d-k%06d", writer, k);
}

/* ---- running N threads for a fixed time ------------------------------------ */

struct job;
typedef long (*step_fn)(struct job *j); /* does some ops, returns how many */

struct job {
    int no, batch;
    step_fn step;
    void *ctx; /* per-thread: a provider, a connection */
    long next; /* next key index */
    long ops;
    double stop_at;
    pthread_barrier_t *start;
    char ids[MAX_BATCH][32];
    actor_store_op o[MAX_BATCH];
    actor_store_op *ops_v[MAX_BATCH];
#ifdef ACTOR_BENCH_PG
    unsigned char *arr[3]; /* binary arrays of the unnest() statement */
    const char *el[3][MAX_BATCH];
    int ell[3][MAX_BATCH];
#endif
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    pthread_barrier_wait(j->start);
    while (now_s() < j->stop_at)
        j->ops += j->step(j);
    return NULL;
}

/* Run `threads` jobs for opt_seconds; returns ops per second. */
static double run_jobs(int threads, int batch, step_fn step, void **ctx)
{
    static struct job *jobs[MAX_WRITERS];
    pthread_t th[MAX_WRITERS];
    pthread_barrier_t start;
    double t0, t1;
    long total = 0;

    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        if (jobs[i] == NULL && (jobs[i] = calloc(1, sizeof(struct job))) == NULL)
            die("memory", "out of memory");
        jobs[i]->no = i;
        jobs[i]->batch = batch;
        jobs[i]->step = step;
        jobs[i]->ctx = ctx[i];
        jobs[i]->next = 0;
        jobs[i]->ops = 0;
        jobs[i]->start = &start;
    }
    t0 = now_s();
    for (int i = 0; i < threads; i++) {
        jobs[i]->stop_at = t0 + opt_seconds;
        pthread_create(&th[i], NULL, job_main, jobs[i]);
    }
    pthread_barrier_wait(&start);
    t0 = now_s();
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i]->ops;
    }
    t1 = now_s();
    pthread_barrier_destroy(&start);
    return (double)total / (t1 - t0);
}

/* ---- through the provider ---------------------------------------------------- */

static long prov_set_step(struct job *j)
{
    actor_provider *p = j->ctx;
    for (int i = 0; i < j->batch; i++) {
        actor_store_op *op = &j->o[i];
        key_of(j->ids[i], sizeof(j->ids[i]), j->no, (int)(j->next++ % opt_keys));
        memset(op, 0, sizeof(*op));
        op->kind = ACTOR_STORE_STATE_SET;
        op->type = "bench";
        op->id = j->ids[i];
        op->value = value_text;
        op->value_len = sizeof(value_text) - 1;
        j->ops_v[i] = op;
    }
    if (p->apply(p, j->ops_v, (size_t)j->batch) != 0)
        die("apply", actor_error_last());
    return j->batch;
}

static long prov_get_step(struct job *j)
{
    actor_provider *p = j->ctx;
    actor_buf b = ACTOR_BUF_INIT;
    char id[32];
    for (int i = 0; i < 100; i++) {
        key_of(id, sizeof(id), 0, (int)((j->next++ * 7919 + j->no * 131) % opt_keys));
        if (p->state_get(&b, p, "bench", id) != 0)
            die("state_get", actor_error_last());
    }
    actor_buf_dispose(&b);
    return 100;
}

static void bench_provider(const char *store, const char *url)
{
    actor_provider_config c;
    actor_provider *p = NULL;
    void *ctx[MAX_WRITERS];
    int maxw = 1;

    for (int i = 0; i < opt_nwriters; i++)
        maxw = opt_writers[i] > maxw ? opt_writers[i] : maxw;
    memset(&c, 0, sizeof(c));
    c.version = ACTOR_PROVIDER_CONFIG_VERSION;
    c.url = url;
    c.table_prefix = prefix;
    c.timeout_ms = 30000;
    c.pool_size = (unsigned)maxw;
    c.lease_deadline_ms = 10000;
    if (actor_provider_open(&p, &c) != 0)
        die(url, actor_error_last());
    for (int i = 0; i < MAX_WRITERS; i++)
        ctx[i] = p;

    /* Fill every writer's keys once, so that the figures are updates. */
    for (int w = 0; w < maxw; w++) {
        static struct job j;
        j.no = w;
        j.batch = opt_keys < 1000 ? opt_keys : 1000;
        j.ctx = p;
        j.next = 0;
        while (j.next < opt_keys)
            prov_set_step(&j);
    }
    for (int w = 0; w < opt_nwriters; w++)
        for (int b = 0; b < opt_nbatches; b++)
            record(store, "set", opt_batches[b], opt_writers[w],
                   run_jobs(opt_writers[w], opt_batches[b], prov_set_step, ctx));
    for (int w = 0; w < opt_nwriters; w++)
        record(store, "get", 0, opt_writers[w], run_jobs(opt_writers[w], 0, prov_get_step, ctx));
    actor_provider_free(p);
}

/* ---- SQLite, direct ------------------------------------------------------------ */

static char sqlite_path[600];

static sqlite3 *sq_open(void)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    char sql[600];
    if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        die("sqlite open", sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 30000);
    snprintf(sql, sizeof(sql),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
             "PRAGMA wal_autocheckpoint=10000; "
             "CREATE TABLE IF NOT EXISTS %s (actor_type TEXT NOT NULL, "
             "actor_id TEXT NOT NULL, value BLOB NOT NULL, expires_at INTEGER, "
             "updated_at INTEGER NOT NULL, PRIMARY KEY (actor_type, actor_id)) WITHOUT ROWID",
             raw_table);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite setup", err);
    return db;
}

struct sq_ctx {
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *upsert, *get;
};

static void sq_ctx_init(struct sq_ctx *c)
{
    char up[400], get[300];
    snprintf(up, sizeof(up),
             "INSERT INTO %s (actor_type, actor_id, value, expires_at, updated_at) "
             "VALUES (?1, ?2, ?3, NULL, ?4) ON CONFLICT (actor_type, actor_id) DO UPDATE SET "
             "value = excluded.value, expires_at = excluded.expires_at, "
             "updated_at = excluded.updated_at",
             raw_table);
    snprintf(get, sizeof(get),
             "SELECT value FROM %s WHERE actor_type = ?1 AND actor_id = ?2 "
             "AND (expires_at IS NULL OR expires_at > ?3)",
             raw_table);
    c->db = sq_open();
    if (sqlite3_prepare_v2(c->db, "BEGIN IMMEDIATE", -1, &c->begin, NULL) ||
        sqlite3_prepare_v2(c->db, "COMMIT", -1, &c->commit, NULL) ||
        sqlite3_prepare_v2(c->db, up, -1, &c->upsert, NULL) ||
        sqlite3_prepare_v2(c->db, get, -1, &c->get, NULL))
        die("sqlite prepare", sqlite3_errmsg(c->db));
}

static void sq_ctx_free(struct sq_ctx *c)
{
    sqlite3_finalize(c->begin);
    sqlite3_finalize(c->commit);
    sqlite3_finalize(c->upsert);
    sqlite3_finalize(c->get);
    sqlite3_close(c->db);
}

static void sq_run(sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        die("sqlite step", sqlite3_errmsg(db));
    sqlite3_reset(st);
}

static long sq_set_step(struct job *j)
{
    struct sq_ctx *c = j->ctx;
    char id[32];
    sq_run(c->db, c->begin);
    for (int i = 0; i < j->batch; i++) {
        key_of(id, sizeof(id), j->no, (int)(j->next++ % opt_keys));
        sqlite3_bind_text(c->upsert, 1, "bench", -1, SQLITE_STATIC);
        sqlite3_bind_text(c->upsert, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(c->upsert, 3, value_text, sizeof(value_text) - 1, SQLITE_STATIC);
        sqlite3_bind_int64(c->upsert, 4, actor_time_now_ms());
        sq_run(c->db, c->upsert);
    }
    sq_run(c->db, c->commit);
    return j->batch;
}

static long sq_get_step(struct job *j)
{
    struct sq_ctx *c = j->ctx;
    char id[32];
    for (int i = 0; i < 100; i++) {
        key_of(id, sizeof(id), 0, (int)((j->next++ * 7919 + j->no * 131) % opt_keys));
        sqlite3_bind_text(c->get, 1, "bench", -1, SQLITE_STATIC);
        sqlite3_bind_text(c->get, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(c->get, 3, actor_time_now_ms());
        if (sqlite3_step(c->get) != SQLITE_ROW)
            die("sqlite get", "row missing");
        sqlite3_reset(c->get);
    }
    return 100;
}

static void bench_sqlite_raw(void)
{
    static struct sq_ctx ctxs[MAX_WRITERS];
    void *ctx[MAX_WRITERS];
    int maxw = 1;

    for (int i = 0; i < opt_nwriters; i++)
        maxw = opt_writers[i] > maxw ? opt_writers[i] : maxw;
    for (int i = 0; i < maxw; i++) {
        sq_ctx_init(&ctxs[i]);
        ctx[i] = &ctxs[i];
    }
    for (int w = 0; w < maxw; w++) {
        static struct job j;
        j.no = w;
        j.batch = opt_keys;
        j.ctx = &ctxs[0];
        j.next = 0;
        sq_set_step(&j);
    }
    for (int w = 0; w < opt_nwriters; w++)
        for (int b = 0; b < opt_nbatches; b++)
            record("sqlite", "raw-set", opt_batches[b], opt_writers[w],
                   run_jobs(opt_writers[w], opt_batches[b], sq_set_step, ctx));
    for (int w = 0; w < opt_nwriters; w++)
        record("sqlite", "raw-get", 0, opt_writers[w],
               run_jobs(opt_writers[w], 0, sq_get_step, ctx));
    for (int i = 0; i < maxw; i++)
        sq_ctx_free(&ctxs[i]);
}

/* ---- PostgreSQL, direct ---------------------------------------------------------- */

#ifdef ACTOR_BENCH_PG
static void pg_prepare(PGconn *c, const char *name, const char *fmt)
{
    char sql[600];
    PGresult *r;
    snprintf(sql, sizeof(sql), fmt, raw_table);
    r = PQprepare(c, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("postgres prepare", PQresultErrorMessage(r));
    PQclear(r);
}

static PGconn *pg_open(int pipeline)
{
    PGconn *c = PQconnectdb(opt_pg_url);
    char sql[400];
    if (PQstatus(c) != CONNECTION_OK)
        die("postgres connect", PQerrorMessage(c));
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s (actor_type text NOT NULL, actor_id text NOT NULL, "
             "value bytea NOT NULL, expires_at timestamptz, PRIMARY KEY (actor_type, actor_id))",
             raw_table);
    PQclear(PQexec(c, sql));
    pg_prepare(c, "up",
               "INSERT INTO %s (actor_type, actor_id, value, expires_at) "
               "VALUES ($1, $2, $3, NULL) ON CONFLICT (actor_type, actor_id) DO UPDATE "
               "SET value = excluded.value, expires_at = excluded.expires_at");
    pg_prepare(c, "many",
               "INSERT INTO %s (actor_type, actor_id, value, expires_at) "
               "SELECT t, i, v, NULL FROM unnest($1::text[], $2::text[], $3::bytea[]) "
               "AS u(t, i, v) ON CONFLICT (actor_type, actor_id) DO UPDATE "
               "SET value = excluded.value, expires_at = excluded.expires_at");
    pg_prepare(c, "get",
               "SELECT value FROM %s WHERE actor_type = $1 AND actor_id = $2 "
               "AND (expires_at IS NULL OR expires_at > now())");
    if (pipeline && (PQsetnonblocking(c, 1) != 0 || !PQenterPipelineMode(c)))
        die("postgres pipeline", PQerrorMessage(c));
    return c;
}

/* Drop this run's tables. */
static void pg_drop_tables(void)
{
    static const char *const suffix[] = {"raw", "state", "hosts", "leases", "meta"};
    PGconn *c = PQconnectdb(opt_pg_url);
    char sql[200];
    for (size_t i = 0; PQstatus(c) == CONNECTION_OK && i < 5; i++) {
        snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s%s", prefix, suffix[i]);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
}

/* Read results up to the pipeline's sync, flushing and waiting as needed. */
static void pg_drain(PGconn *c)
{
    for (;;) {
        int fl = PQflush(c);
        if (fl < 0)
            die("postgres flush", PQerrorMessage(c));
        if (fl > 0 || PQisBusy(c)) {
            struct pollfd p = {PQsocket(c), POLLIN | (fl > 0 ? POLLOUT : 0), 0};
            poll(&p, 1, 1000);
            if ((p.revents & POLLIN) && !PQconsumeInput(c))
                die("postgres read", PQerrorMessage(c));
            continue;
        }
        PGresult *r = PQgetResult(c);
        if (r == NULL)
            continue;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return;
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            die("postgres statement", PQresultErrorMessage(r));
        PQclear(r);
    }
}

/* One transaction of `batch` upserts in one pipeline: the pipelined ceiling. */
static long pg_pipe_step(struct job *j)
{
    PGconn *c = j->ctx;
    char id[32];
    const char *v[3];
    int len[3], fmt[3] = {0, 0, 1};

    if (j->batch > 1)
        PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    for (int i = 0; i < j->batch; i++) {
        key_of(id, sizeof(id), j->no, (int)(j->next++ % opt_keys));
        v[0] = "bench";
        v[1] = id;
        v[2] = value_text;
        len[0] = 5;
        len[1] = (int)strlen(id);
        len[2] = (int)sizeof(value_text) - 1;
        if (!PQsendQueryPrepared(c, "up", 3, v, len, fmt, 0))
            die("postgres send", PQerrorMessage(c));
    }
    if (j->batch > 1)
        PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    if (!PQpipelineSync(c))
        die("postgres sync", PQerrorMessage(c));
    pg_drain(c);
    return j->batch;
}

static void be32(unsigned char *d, uint32_t x)
{
    d[0] = (unsigned char)(x >> 24);
    d[1] = (unsigned char)(x >> 16);
    d[2] = (unsigned char)(x >> 8);
    d[3] = (unsigned char)x;
}

/* A binary one-dimensional array of `n` elements of type `oid`. */
static size_t pg_array(unsigned char *dst, uint32_t oid, int n, const char *const *el,
                       const int *len)
{
    size_t o = 20;
    be32(dst, 1);
    be32(dst + 4, 0);
    be32(dst + 8, oid);
    be32(dst + 12, (uint32_t)n);
    be32(dst + 16, 1);
    for (int i = 0; i < n; i++) {
        be32(dst + o, (uint32_t)len[i]);
        memcpy(dst + o + 4, el[i], (size_t)len[i]);
        o += 4 + (size_t)len[i];
    }
    return o;
}

/* One transaction of one unnest() upsert of `batch` rows: the set-based
 * ceiling. */
static long pg_unnest_step(struct job *j)
{
    unsigned char **arr = j->arr;
    const char *(*el)[MAX_BATCH] = j->el;
    int(*ell)[MAX_BATCH] = j->ell;
    const char *v[3];
    int len[3], fmt[3] = {1, 1, 1};
    uint32_t oids[3] = {25, 25, 17};

    for (int i = 0; i < j->batch; i++) {
        key_of(j->ids[i], sizeof(j->ids[i]), j->no, (int)(j->next++ % opt_keys));
        el[0][i] = "bench";
        ell[0][i] = 5;
        el[1][i] = j->ids[i];
        ell[1][i] = (int)strlen(j->ids[i]);
        el[2][i] = value_text;
        ell[2][i] = (int)sizeof(value_text) - 1;
    }
    for (int k = 0; k < 3; k++) {
        if (arr[k] == NULL && (arr[k] = malloc(20 + (size_t)MAX_BATCH * 200)) == NULL)
            die("memory", "out of memory");
        len[k] = (int)pg_array(arr[k], oids[k], j->batch, el[k], ell[k]);
        v[k] = (const char *)arr[k];
    }
    if (!PQsendQueryPrepared(j->ctx, "many", 3, v, len, fmt, 0) || !PQpipelineSync(j->ctx))
        die("postgres send", PQerrorMessage(j->ctx));
    pg_drain(j->ctx);
    return j->batch;
}

static long pg_get_step(struct job *j)
{
    PGconn *c = j->ctx;
    char id[32];
    for (int i = 0; i < 100; i++) {
        const char *v[2] = {"bench", id};
        key_of(id, sizeof(id), 0, (int)((j->next++ * 7919 + j->no * 131) % opt_keys));
        PGresult *r = PQexecPrepared(c, "get", 2, v, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            die("postgres get", PQresultErrorMessage(r));
        PQclear(r);
    }
    return 100;
}

static void bench_pg_raw(void)
{
    PGconn *pipe_conns[MAX_WRITERS], *plain[MAX_WRITERS];
    void *ctx[MAX_WRITERS];
    int maxw = 1;

    for (int i = 0; i < opt_nwriters; i++)
        maxw = opt_writers[i] > maxw ? opt_writers[i] : maxw;
    for (int i = 0; i < maxw; i++) {
        pipe_conns[i] = pg_open(1);
        plain[i] = pg_open(0);
    }
    for (int w = 0; w < maxw; w++) {
        static struct job j;
        j.no = w;
        j.batch = opt_keys < 1000 ? opt_keys : 1000;
        j.ctx = pipe_conns[0];
        j.next = 0;
        while (j.next < opt_keys)
            pg_unnest_step(&j);
    }
    for (int i = 0; i < maxw; i++)
        ctx[i] = pipe_conns[i];
    for (int w = 0; w < opt_nwriters; w++)
        for (int b = 0; b < opt_nbatches; b++)
            record("postgres", "raw-pipeline", opt_batches[b], opt_writers[w],
                   run_jobs(opt_writers[w], opt_batches[b], pg_pipe_step, ctx));
    for (int w = 0; w < opt_nwriters; w++)
        for (int b = 0; b < opt_nbatches; b++)
            record("postgres", "raw-unnest", opt_batches[b], opt_writers[w],
                   run_jobs(opt_writers[w], opt_batches[b], pg_unnest_step, ctx));
    for (int i = 0; i < maxw; i++)
        ctx[i] = plain[i];
    for (int w = 0; w < opt_nwriters; w++)
        record("postgres", "raw-get", 0, opt_writers[w],
               run_jobs(opt_writers[w], 0, pg_get_step, ctx));
    for (int i = 0; i < maxw; i++) {
        PQfinish(pipe_conns[i]);
        PQfinish(plain[i]);
    }
}
#endif

/* ---- main --------------------------------------------------------------------- */

static void ratios(const char *store, const char *raw)
{
    for (int w = 0; w < opt_nwriters; w++)
        for (int b = 0; b < opt_nbatches; b++) {
            double a = lookup(store, "set", opt_batches[b], opt_writers[w]);
            double c = lookup(store, raw, opt_batches[b], opt_writers[w]);
            if (a > 0 && c > 0)
                printf("bench store %s set/%s batch=%d writers=%d ratio=%.2f\n", store, raw,
                       opt_batches[b], opt_writers[w], a / c);
        }
}

static void ratios_get(const char *store)
{
    for (int w = 0; w < opt_nwriters; w++) {
        double a = lookup(store, "get", 0, opt_writers[w]);
        double c = lookup(store, "raw-get", 0, opt_writers[w]);
        if (a > 0 && c > 0)
            printf("bench store %s get/raw-get readers=%d ratio=%.2f\n", store, opt_writers[w],
                   a / c);
    }
}

static int parse_list(int *dst, const char *s, int max)
{
    int n = 0;
    while (*s && n < 8) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > max)
            return -1;
        dst[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_store [--seconds S] [--keys N] [--batches 1,100,1000] "
                    "[--writers 1,4]\n"
                    "                   [--sqlite-dir DIR | --no-sqlite] [--pg URL] [--tiny]\n"
                    "PostgreSQL is measured when --pg or $ACTOR_TEST_PG_URL gives a URL.\n");
    exit(2);
}

int main(int argc, char **argv)
{
    char dir[512], url[700];

    opt_pg_url = getenv("ACTOR_TEST_PG_URL");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--tiny") == 0) {
            opt_seconds = 0.05;
            opt_keys = 200;
            opt_nbatches = parse_list(opt_batches, "1,10", MAX_BATCH);
            opt_nwriters = parse_list(opt_writers, "1,2", MAX_WRITERS);
        } else if (strcmp(a, "--no-sqlite") == 0) {
            opt_no_sqlite = 1;
        } else if (v == NULL) {
            usage();
        } else if (strcmp(a, "--seconds") == 0) {
            opt_seconds = atof(v), i++;
        } else if (strcmp(a, "--keys") == 0) {
            opt_keys = atoi(v), i++;
        } else if (strcmp(a, "--batches") == 0) {
            opt_nbatches = parse_list(opt_batches, v, MAX_BATCH), i++;
        } else if (strcmp(a, "--writers") == 0) {
            opt_nwriters = parse_list(opt_writers, v, MAX_WRITERS), i++;
        } else if (strcmp(a, "--sqlite-dir") == 0) {
            opt_sqlite_dir = v, i++;
        } else if (strcmp(a, "--pg") == 0) {
            opt_pg_url = v, i++;
        } else {
            usage();
        }
    }
    if (opt_seconds <= 0 || opt_keys < 1 || opt_nbatches < 1 || opt_nwriters < 1)
        usage();
    snprintf(prefix, sizeof(prefix), "bench%ld_", (long)getpid());
    snprintf(raw_table, sizeof(raw_table), "%sraw", prefix);
    for (int b = 0; b < opt_nbatches; b++)
        if (opt_batches[b] > opt_keys)
            opt_keys = opt_batches[b];

    if (!opt_no_sqlite) {
        const char *tmp = getenv("TMPDIR");
        if (opt_sqlite_dir) {
            snprintf(dir, sizeof(dir), "%s", opt_sqlite_dir);
        } else {
            snprintf(dir, sizeof(dir), "%s/actor-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
            if (mkdtemp(dir) == NULL)
                die("mkdtemp", dir);
        }
        snprintf(sqlite_path, sizeof(sqlite_path), "%s/bench-%ld.db", dir, (long)getpid());
        snprintf(url, sizeof(url), "sqlite:%s", sqlite_path);
        bench_provider("sqlite", url);
        bench_sqlite_raw();
        ratios("sqlite", "raw-set");
        ratios_get("sqlite");
        for (int k = 0; k < 3; k++) {
            char f[700];
            snprintf(f, sizeof(f), "%s%s", sqlite_path, k == 0 ? "" : k == 1 ? "-wal" : "-shm");
            unlink(f);
        }
        if (!opt_sqlite_dir)
            rmdir(dir);
    }
#ifdef ACTOR_BENCH_PG
    if (opt_pg_url && *opt_pg_url) {
        bench_provider("postgres", opt_pg_url);
        bench_pg_raw();
        pg_drop_tables();
        ratios("postgres", "raw-pipeline");
        ratios("postgres", "raw-unnest");
        ratios_get("postgres");
    } else {
        printf("bench store postgres skipped: no URL (--pg or ACTOR_TEST_PG_URL)\n");
    }
#else
    printf("bench store postgres skipped: built without PostgreSQL\n");
#endif
    return 0;
}
