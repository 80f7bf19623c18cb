/*
 * postgres.c: the PostgreSQL provider (sys/provider.h) on libpq. It owns a
 * pool of connections, each kept in libpq pipeline mode with every statement
 * prepared once per connection; the schema and its ordered migrations, run on
 * open under a transaction-scoped advisory lock; and the translation of the
 * provider members (state, hosts, leases, cleanup, job claims) into SQL.
 * apply() sends a whole batch as one pipeline in one implicit transaction;
 * runs of state writes become one set-based statement over unnest() arrays.
 * All times come from the server's clock. docs/providers.md describes it.
 */
#include <actor/sys/provider.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "internal.h"

/* The schema version this file creates and understands. */
#define PG_SCHEMA_VERSION 2

/* Upper bounds of one set-based state write statement. */
#define PG_GROUP_MAX_OPS   2000
#define PG_GROUP_MAX_BYTES (32u << 20)

/* TTLs from this one on (~285,000 years) store the expiry 'infinity':
 * now() plus more would fall off the end of PostgreSQL's calendar. */
#define PG_TTL_FOREVER_MS 9000000000000000LL

/* Built-in type OIDs (stable across PostgreSQL versions). */
#define PG_OID_BOOL  16
#define PG_OID_BYTEA 17
#define PG_OID_INT8  20
#define PG_OID_TEXT  25

/* ---- SQL ---------------------------------------------------------------- */

/*
 * Statements prepared on every connection. "%1$s" is the table prefix,
 * "%2$lld" the lease deadline in ms, "%3$lld" PG_TTL_FOREVER_MS. Parameters are sent and results
 * read in binary format.
 */
enum {
    ST_GET,
    ST_SET,
    ST_DEL,
    ST_ACQ,
    ST_LEASE_GET,
    ST_REL,
    ST_HOST_REG,
    ST_HOST_BEAT,
    ST_HOST_REM_LEASES,
    ST_HOST_REM,
    ST_CLEAN_STATE,
    ST_CLEAN_LEASES,
    ST_CLEAN_HOSTS,
    ST_JOB_CLAIM,
    ST_HOST_SHARE,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    /* The value and its remaining lifetime in ms (0: never expires). */
    [ST_GET] = "SELECT value, CASE WHEN expires_at IS NULL OR expires_at = 'infinity' THEN "
               "0::int8 ELSE greatest(1, ceil(extract(epoch FROM expires_at - now()) * 1000))"
               "::int8 END FROM %1$sstate WHERE actor_type = $1 AND actor_id = $2 "
               "AND (expires_at IS NULL OR expires_at > now())",
    /* A run of state writes with distinct keys: inserts or replaces every
     * row whose fence (if any) holds; returns the ordinals of the writes that
     * were fenced out, and a row 0 with the fence host's lease generation.
     * A fence the provider remembers ($8) is not looked up while that
     * generation is still $7 (see "the fence cache" below); every other
     * one locks its lease row until commit. */
    [ST_SET] =
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int8[], "
        "$5::text[], $6::int8[], $8::bool[]) WITH ORDINALITY AS u(t, i, v, ttl, fh, fe, c, n)), "
        "k AS (SELECT (SELECT lease_gen FROM %1$shosts WHERE host_id = $9) AS gen), "
        "g AS MATERIALIZED (SELECT u.*, u.fh IS NULL OR (u.c AND coalesce(k.gen = $7::int8, "
        "false)) AS known FROM u, k), "
        "f AS (SELECT l.actor_type, l.actor_id FROM %1$sleases l JOIN g ON l.actor_type = g.t "
        "AND l.actor_id = g.i AND l.host_id = g.fh AND l.epoch = g.fe WHERE NOT g.known "
        "FOR SHARE OF l), "
        "w AS (INSERT INTO %1$sstate (actor_type, actor_id, value, expires_at) "
        "SELECT g.t, g.i, g.v, CASE WHEN g.ttl >= %3$lld THEN 'infinity'::timestamptz "
        "WHEN g.ttl > 0 THEN now() + g.ttl * interval '1 millisecond' END FROM g WHERE g.known "
        "OR EXISTS (SELECT 1 FROM f WHERE f.actor_type = g.t AND f.actor_id = g.i) "
        "ON CONFLICT (actor_type, actor_id) DO UPDATE SET value = excluded.value, "
        "expires_at = excluded.expires_at RETURNING 1) "
        "SELECT g.n, NULL::int8 FROM g WHERE NOT g.known AND NOT EXISTS (SELECT 1 FROM f "
        "WHERE f.actor_type = g.t AND f.actor_id = g.i) UNION ALL SELECT 0, k.gen FROM k",
    /* One delete: (fence holds, a live row was deleted). An expired row is
     * deleted too but reported as absent. */
    [ST_DEL] = "WITH f AS (SELECT 1 FROM %1$sleases WHERE $3::text IS NOT NULL AND "
               "actor_type = $1 AND actor_id = $2 AND host_id = $3 AND epoch = $4 FOR SHARE), "
               "d AS (DELETE FROM %1$sstate WHERE actor_type = $1 AND actor_id = $2 AND "
               "($3::text IS NULL OR EXISTS (SELECT 1 FROM f)) "
               "RETURNING expires_at IS NULL OR expires_at > now() AS live) "
               "SELECT $3::text IS NULL OR EXISTS (SELECT 1 FROM f), "
               "coalesce((SELECT bool_or(live) FROM d), false)",
    /* Take a free lease (epoch 1), or take over one held by this host or by
     * a host that is dead or has no row (epoch + 1). No row returned: a live
     * other host holds it. */
    [ST_ACQ] = "INSERT INTO %1$sleases AS l (actor_type, actor_id, host_id, epoch, acquired_at) "
               "VALUES ($1, $2, $3, 1, now()) ON CONFLICT (actor_type, actor_id) DO UPDATE "
               "SET host_id = excluded.host_id, epoch = l.epoch + 1, "
               "acquired_at = excluded.acquired_at "
               "WHERE l.host_id = excluded.host_id OR NOT EXISTS (SELECT 1 FROM %1$shosts h "
               "WHERE h.host_id = l.host_id AND h.last_heartbeat >= now() - "
               "%2$lld * interval '1 millisecond') RETURNING epoch",
    [ST_LEASE_GET] = "SELECT l.host_id, coalesce(h.address, ''), l.epoch, "
                     "coalesce(h.last_heartbeat >= now() - %2$lld * interval '1 millisecond', "
                     "false) FROM %1$sleases l LEFT JOIN %1$shosts h ON h.host_id = l.host_id "
                     "WHERE l.actor_type = $1 AND l.actor_id = $2",
    [ST_REL] = "DELETE FROM %1$sleases WHERE actor_type = $1 AND actor_id = $2 AND host_id = $3 "
               "AND epoch = $4",
    /* A registration starts a lease generation no earlier one of the host
     * had (the clock in microseconds; see "the fence cache" below). */
    [ST_HOST_REG] = "INSERT INTO %1$shosts (host_id, address, last_heartbeat, lease_gen) "
                    "VALUES ($1, $2, now(), (extract(epoch FROM clock_timestamp()) * 1000000)"
                    "::int8) ON CONFLICT (host_id) DO UPDATE "
                    "SET address = excluded.address, last_heartbeat = excluded.last_heartbeat, "
                    "lease_gen = excluded.lease_gen",
    /* Only a live host refreshes its row: a dead one may have lost leases. */
    [ST_HOST_BEAT] = "UPDATE %1$shosts SET last_heartbeat = now() WHERE host_id = $1 AND "
                     "last_heartbeat >= now() - %2$lld * interval '1 millisecond'",
    [ST_HOST_REM_LEASES] = "DELETE FROM %1$sleases WHERE host_id = $1",
    /* Held by a batch of writes fenced by this host until it commits: a
     * change to the host's leases (which bumps its lease generation) waits
     * for it. */
    [ST_HOST_SHARE] = "SELECT 1 FROM %1$shosts WHERE host_id = $1 FOR SHARE",
    [ST_HOST_REM] = "DELETE FROM %1$shosts WHERE host_id = $1",
    [ST_CLEAN_STATE] = "DELETE FROM %1$sstate s USING (SELECT actor_type, actor_id FROM "
                       "%1$sstate WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED) x "
                       "WHERE s.actor_type = x.actor_type AND s.actor_id = x.actor_id",
    /* Leases whose holder is dead or has no host row. */
    [ST_CLEAN_LEASES] = "DELETE FROM %1$sleases l USING (SELECT actor_type, actor_id FROM "
                        "%1$sleases l2 WHERE NOT EXISTS (SELECT 1 FROM %1$shosts h WHERE "
                        "h.host_id = l2.host_id AND h.last_heartbeat >= now() - "
                        "%2$lld * interval '1 millisecond') LIMIT $1 FOR UPDATE SKIP LOCKED) x "
                        "WHERE l.actor_type = x.actor_type AND l.actor_id = x.actor_id",
    /* Dead hosts that no longer hold leases (their leases go first). */
    [ST_CLEAN_HOSTS] = "DELETE FROM %1$shosts h USING (SELECT host_id FROM %1$shosts h2 WHERE "
                       "last_heartbeat < now() - %2$lld * interval '1 millisecond' AND NOT "
                       "EXISTS (SELECT 1 FROM %1$sleases l WHERE l.host_id = h2.host_id) "
                       "LIMIT $1 FOR UPDATE SKIP LOCKED) x WHERE h.host_id = x.host_id",
    /* Claim a periodic job unless someone did within the interval ($3 ms);
     * the row lock of ON CONFLICT serialises concurrent claimers. */
    [ST_JOB_CLAIM] = "INSERT INTO %1$sjobs AS j (job, host_id, claimed_at) VALUES ($1, $2, now()) "
                     "ON CONFLICT (job) DO UPDATE SET host_id = excluded.host_id, "
                     "claimed_at = excluded.claimed_at "
                     "WHERE j.claimed_at <= now() - $3::int8 * interval '1 millisecond'",
};

/* Ordered migrations: migrations[v - 1] brings the schema from v - 1 to v.
 * Each runs inside the open transaction; "%1$s" is the table prefix. */
static const char *const migration_v1[] = {
    "CREATE TABLE %1$sstate (actor_type text NOT NULL, actor_id text NOT NULL, "
    "value bytea NOT NULL, expires_at timestamptz, PRIMARY KEY (actor_type, actor_id))",
    "CREATE INDEX %1$sstate_expires ON %1$sstate (expires_at) WHERE expires_at IS NOT NULL",
    "CREATE TABLE %1$shosts (host_id text PRIMARY KEY, address text NOT NULL, "
    "last_heartbeat timestamptz NOT NULL)",
    "CREATE INDEX %1$shosts_heartbeat ON %1$shosts (last_heartbeat)",
    "CREATE TABLE %1$sleases (actor_type text NOT NULL, actor_id text NOT NULL, "
    "host_id text NOT NULL, epoch bigint NOT NULL, acquired_at timestamptz NOT NULL, "
    "PRIMARY KEY (actor_type, actor_id))",
    "CREATE INDEX %1$sleases_host ON %1$sleases (host_id)",
    "CREATE TABLE %1$sjobs (job text PRIMARY KEY, host_id text NOT NULL, "
    "claimed_at timestamptz NOT NULL)",
    NULL,
};

/* v2: the lease generation of each host, bumped by every change to one of
 * its leases (see "the fence cache" below). */
static const char *const migration_v2[] = {
    "ALTER TABLE %1$shosts ADD COLUMN lease_gen bigint NOT NULL DEFAULT 0",
    "CREATE FUNCTION %1$sbump_lease_gen() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
    "UPDATE %1$shosts SET lease_gen = lease_gen + 1 WHERE host_id = OLD.host_id; "
    "RETURN NULL; END $f$",
    "CREATE TRIGGER %1$sleases_changed AFTER UPDATE ON %1$sleases FOR EACH ROW "
    "WHEN (OLD.host_id IS DISTINCT FROM NEW.host_id OR OLD.epoch IS DISTINCT FROM NEW.epoch) "
    "EXECUTE FUNCTION %1$sbump_lease_gen()",
    "CREATE TRIGGER %1$sleases_deleted AFTER DELETE ON %1$sleases FOR EACH ROW "
    "EXECUTE FUNCTION %1$sbump_lease_gen()",
    NULL,
};

static const char *const *const migrations[PG_SCHEMA_VERSION] = {migration_v1, migration_v2};

/* ---- the provider object ----------------------------------------------- */

typedef struct pg_provider {
    actor_provider base;
    char *url;
    char prefix[40];
    int64_t timeout_ms;
    int64_t lease_deadline_ms;
    int64_t lock_key;
    char *sql[ST_COUNT];

    /* The pool: conns[i] is NULL until connected (or after it broke);
     * free_idx[0..nfree) are the slots nobody is using. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned int pool_size;
    PGconn **conns;
    unsigned int *free_idx;
    unsigned int nfree;

    /* The fence cache (fences.c): fences seen to hold while the lease
     * generation of their host was fence_gen. */
    pthread_mutex_t fence_mu;
    actor__fences fences;
    int64_t fence_gen;
    int fence_gen_set;
} pg_provider;

/* One connection borrowed from the pool for one call. */
typedef struct pg_lease {
    unsigned int slot;
    PGconn *conn;
} pg_lease;

static int64_t deadline_in(int64_t ms)
{
    return actor__mono_ms() + (ms > 0 ? ms : 0);
}

/* How long the client waits for the answers of one exchange: the timeout,
 * plus a grace period so that the server's own statement_timeout (set to
 * the timeout) ends a slow statement first, with a clean error and the
 * connection intact. Past it the server is unresponsive and the connection
 * is dropped. */
static int64_t query_deadline(const pg_provider *p)
{
    return deadline_in(p->timeout_ms + 200 + p->timeout_ms / 10);
}

/* Copy a libpq message into dst without the trailing newline, with inner
 * newlines folded into "; ". */
static void clean_msg(char *dst, size_t size, const char *msg)
{
    size_t o = 0;

    if (msg == NULL || *msg == '\0')
        msg = "(no message)";
    for (size_t i = 0; msg[i] != '\0' && o + 3 < size; i++) {
        if (msg[i] == '\n') {
            while (msg[i + 1] == ' ' || msg[i + 1] == '\t')
                i++;
            if (msg[i + 1] == '\0')
                break;
            dst[o++] = ';';
            dst[o++] = ' ';
        } else if (msg[i] == '\t') {
            dst[o++] = ' ';
        } else if (msg[i] != '\r') {
            dst[o++] = msg[i];
        }
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o] = '\0';
}

static int conn_error(PGconn *c, const char *what)
{
    char m[700];
    clean_msg(m, sizeof(m), c ? PQerrorMessage(c) : "no connection");
    return actor_error_set(ACTOR_ESTORE, "PostgreSQL %s: %s", what, m);
}

/* The error code and message for a failed result: the server's message and
 * its SQLSTATE. A statement timeout or lock timeout is ACTOR_ETIMEOUT. */
static int result_fail(const PGresult *r, const char *what)
{
    char m[700];
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int code = ACTOR_ESTORE;

    clean_msg(m, sizeof(m), PQresultErrorMessage(r));
    if (state == NULL)
        return actor_error_set(code, "PostgreSQL %s: %s", what, m);
    /* query_canceled (statement_timeout), lock_not_available */
    if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
        code = ACTOR_ETIMEOUT;
    return actor_error_set(code, "PostgreSQL %s: %s (SQLSTATE %s)", what, m, state);
}

/* ---- I/O with deadlines ------------------------------------------------- */

/* Wait until the connection's socket is readable (or writable when
 * `want_write`), at most until `deadline`, and read what arrived. */
static int wait_io(PGconn *c, int64_t deadline, int want_write, const char *what)
{
    struct pollfd p;
    int n;

    p.fd = PQsocket(c);
    if (p.fd < 0)
        return conn_error(c, what);
    p.events = POLLIN | (want_write ? POLLOUT : 0);
    p.revents = 0;
    for (;;) {
        int64_t left = deadline - actor__mono_ms();
        if (left <= 0)
            return actor_error_set(ACTOR_ETIMEOUT,
                                   "PostgreSQL %s: no answer from the server within the timeout",
                                   what);
        n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            return actor_error_set(ACTOR_ESTORE, "PostgreSQL %s: poll: %s", what, strerror(errno));
    }
    if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c))
        return conn_error(c, what);
    return 0;
}

/*
 * Send a Sync for the statements queued on `c` and read their results into
 * res[0..nres) (each query gives exactly one result; extra results are
 * dropped, missing ones stay NULL). Returns 0 when the exchange completed;
 * the results may still carry statement errors. Non-zero: the connection is
 * unusable (lost, timed out or out of step) and must be dropped.
 */
static int exchange(PGconn *c, int64_t deadline, PGresult **res, int nres, const char *what)
{
    int got = 0, nulls = 0;
    int rc;

    for (int i = 0; i < nres; i++)
        res[i] = NULL;
    if (!PQpipelineSync(c))
        return conn_error(c, what);
    for (;;) {
        int fl = PQflush(c);
        if (fl < 0)
            return conn_error(c, what);
        if (fl > 0 || PQisBusy(c)) {
            if ((rc = wait_io(c, deadline, fl > 0, what)) != 0)
                return rc;
            continue;
        }
        PGresult *r = PQgetResult(c);
        if (r == NULL) {
            /* One NULL ends each query's results; two in a row mean
             * libpq has nothing more for us. */
            if (PQstatus(c) != CONNECTION_OK)
                return conn_error(c, what);
            if (++nulls > 1)
                return actor_error_set(ACTOR_ESTORE, "PostgreSQL %s: lost step with the server",
                                       what);
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (got < nres)
            res[got++] = r;
        else
            PQclear(r);
    }
    if (PQstatus(c) != CONNECTION_OK)
        return conn_error(c, what);
    return 0;
}

static void clear_results(PGresult **res, int n)
{
    for (int i = 0; i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }
}

/* The first failed result of an exchange, as an error; 0 when all are
 * fine. `what` names the call. */
static int first_failure(PGresult **res, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        if (res[i] == NULL)
            return actor_error_set(ACTOR_ESTORE, "PostgreSQL %s: missing result", what);
        ExecStatusType st = PQresultStatus(res[i]);
        if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE)
            return result_fail(res[i], what);
    }
    for (int i = 0; i < n; i++) {
        ExecStatusType st = PQresultStatus(res[i]);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            return actor_error_set(ACTOR_ESTORE, "PostgreSQL %s: unexpected result %s", what,
                                   PQresStatus(st));
    }
    return 0;
}

/* ---- connections -------------------------------------------------------- */

static int send_sql(PGconn *c, const char *sql, const char *what)
{
    if (!PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 1))
        return conn_error(c, what);
    return 0;
}

/* Open one connection, non-blocking, in pipeline mode, with the session
 * settings; with every statement prepared when `prepare`. */
static int pg_connect(PGconn **out, pg_provider *p, int64_t deadline, int prepare)
{
    const char *kw[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
    const char *val[] = {p->url, "libactor", "UTF8", NULL};
    PGresult *res[ST_COUNT + 1];
    char set[96];
    PGconn *c;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int rc, n = 0;

    *out = NULL;
    c = PQconnectStartParams(kw, val, 1);
    if (c == NULL)
        return actor__error_oom();
    if (PQstatus(c) == CONNECTION_BAD) {
        rc = conn_error(c, "connect");
        PQfinish(c);
        return rc;
    }
    while (st != PGRES_POLLING_OK) {
        struct pollfd pf;
        int64_t left = deadline - actor__mono_ms();
        if (st == PGRES_POLLING_FAILED) {
            rc = conn_error(c, "connect");
            PQfinish(c);
            return rc;
        }
        if (left <= 0) {
            PQfinish(c);
            return actor_error_set(ACTOR_ETIMEOUT,
                                   "PostgreSQL connect: the server did not answer within %lld ms",
                                   (long long)p->timeout_ms);
        }
        pf.fd = PQsocket(c);
        pf.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        pf.revents = 0;
        if (pf.fd >= 0) {
            int k = poll(&pf, 1, left > 60000 ? 60000 : (int)left);
            if (k == 0 || (k < 0 && errno == EINTR))
                continue;
        }
        st = PQconnectPoll(c);
    }
    if (PQsetnonblocking(c, 1) != 0 || !PQenterPipelineMode(c)) {
        rc = conn_error(c, "connect");
        PQfinish(c);
        return rc;
    }
    snprintf(set, sizeof(set), "SET statement_timeout = %lld", (long long)p->timeout_ms);
    rc = send_sql(c, set, "connect");
    n = 1;
    for (int i = 0; rc == 0 && prepare && i < ST_COUNT; i++, n++) {
        char name[8];
        snprintf(name, sizeof(name), "a%d", i);
        if (!PQsendPrepare(c, name, p->sql[i], 0, NULL))
            rc = conn_error(c, "prepare");
    }
    if (rc == 0)
        rc = exchange(c, deadline, res, n, "connect");
    if (rc == 0) {
        rc = first_failure(res, n, "prepare");
        clear_results(res, n);
    }
    if (rc != 0) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Is an idle pooled connection still alive? Reads anything the server sent
 * while it was idle (a termination notice, EOF). */
static int conn_alive(PGconn *c)
{
    struct pollfd p;

    if (PQstatus(c) != CONNECTION_OK || PQpipelineStatus(c) != PQ_PIPELINE_ON)
        return 0;
    p.fd = PQsocket(c);
    p.events = POLLIN;
    p.revents = 0;
    if (p.fd < 0)
        return 0;
    if (poll(&p, 1, 0) > 0) {
        if (!PQconsumeInput(c))
            return 0;
        /* An unsolicited result while idle means the session ended. */
        if (!PQisBusy(c)) {
            PGresult *r = PQgetResult(c);
            if (r != NULL) {
                PQclear(r);
                return 0;
            }
        }
    }
    return PQstatus(c) == CONNECTION_OK;
}

/* Borrow a connection: wait at most timeout_ms for a free slot, then
 * (re)connect it when it has none or it broke. */
static int pool_get(pg_lease *out, pg_provider *p)
{
    int64_t deadline = deadline_in(p->timeout_ms);
    struct timespec ts;
    int rc;

    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0) {
        int64_t d = deadline;
        ts.tv_sec = (time_t)(d / 1000);
        ts.tv_nsec = (long)(d % 1000) * 1000000L;
        if (actor__mono_ms() >= deadline ||
            (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0 && actor__mono_ms() >= deadline)) {
            if (p->nfree > 0)
                break;
            pthread_mutex_unlock(&p->mu);
            return actor_error_set(ACTOR_ETIMEOUT,
                                   "PostgreSQL: no free connection within %lld ms (pool of %u "
                                   "connections, all busy)",
                                   (long long)p->timeout_ms, p->pool_size);
        }
    }
    out->slot = p->free_idx[--p->nfree];
    out->conn = p->conns[out->slot];
    p->conns[out->slot] = NULL;
    pthread_mutex_unlock(&p->mu);

    if (out->conn != NULL && !conn_alive(out->conn)) {
        PQfinish(out->conn);
        out->conn = NULL;
    }
    if (out->conn == NULL) {
        rc = pg_connect(&out->conn, p, deadline, 1);
        if (rc != 0) {
            pthread_mutex_lock(&p->mu);
            p->free_idx[p->nfree++] = out->slot;
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
    }
    return 0;
}

/* Give a connection back; `broken` drops it so the next user reconnects. */
static void pool_put(pg_provider *p, pg_lease *l, int broken)
{
    if (l->conn != NULL && (broken || PQstatus(l->conn) != CONNECTION_OK ||
                            PQtransactionStatus(l->conn) != PQTRANS_IDLE)) {
        PQfinish(l->conn);
        l->conn = NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->conns[l->slot] = l->conn;
    p->free_idx[p->nfree++] = l->slot;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    l->conn = NULL;
}

/* ---- parameters in binary format ---------------------------------------- */

static void put_be32(unsigned char *d, uint32_t v)
{
    d[0] = (unsigned char)(v >> 24);
    d[1] = (unsigned char)(v >> 16);
    d[2] = (unsigned char)(v >> 8);
    d[3] = (unsigned char)v;
}

static void put_be64(unsigned char *d, uint64_t v)
{
    put_be32(d, (uint32_t)(v >> 32));
    put_be32(d + 4, (uint32_t)v);
}

static uint64_t get_be64(const unsigned char *s)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | s[i];
    return v;
}

/* Read a bigint column of a binary result. */
static int64_t col_int8(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    return (int64_t)get_be64((const unsigned char *)PQgetvalue(r, row, col));
}

static int col_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
           PQgetvalue(r, row, col)[0] != 0;
}

/* Up to four parameters of one statement: texts, an optional bigint. */
typedef struct params {
    const char *v[4];
    int len[4];
    int fmt[4];
    unsigned char i8[8];
    int n;
} params;

static void param_text(params *ps, const char *s)
{
    ps->v[ps->n] = s;
    ps->len[ps->n] = s ? (int)strlen(s) : 0;
    ps->fmt[ps->n] = 1;
    ps->n++;
}

static void param_int8(params *ps, int64_t v)
{
    put_be64(ps->i8, (uint64_t)v);
    ps->v[ps->n] = (const char *)ps->i8;
    ps->len[ps->n] = 8;
    ps->fmt[ps->n] = 1;
    ps->n++;
}

static int send_stmt(PGconn *c, int st, const params *ps, const char *what)
{
    char name[8];
    snprintf(name, sizeof(name), "a%d", st);
    if (!PQsendQueryPrepared(c, name, ps->n, ps->v, ps->len, ps->fmt, 1))
        return conn_error(c, what);
    return 0;
}

/* A one-dimensional binary array being built, of one element type. */
typedef struct array_buf {
    actor_buf b;
    uint32_t count;
    int has_null;
} array_buf;

static int array_begin(array_buf *a, uint32_t oid)
{
    unsigned char h[20];
    actor_buf_clear(&a->b);
    a->count = 0;
    a->has_null = 0;
    put_be32(h, 1);       /* dimensions */
    put_be32(h + 4, 0);   /* has nulls: patched in array_end */
    put_be32(h + 8, oid); /* element type */
    put_be32(h + 12, 0);  /* length: patched in array_end */
    put_be32(h + 16, 1);  /* lower bound */
    return actor_buf_put(&a->b, h, sizeof(h));
}

static int array_add(array_buf *a, const void *data, size_t len, int is_null)
{
    unsigned char h[4];
    int rc;

    if (len > INT32_MAX)
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL: a value of %zu bytes is too large", len);
    put_be32(h, is_null ? 0xFFFFFFFFu : (uint32_t)len);
    if ((rc = actor_buf_put(&a->b, h, 4)) != 0)
        return rc;
    a->count++;
    if (is_null) {
        a->has_null = 1;
        return 0;
    }
    return actor_buf_put(&a->b, data, len);
}

static void array_end(array_buf *a)
{
    put_be32((unsigned char *)a->b.ptr + 4, (uint32_t)a->has_null);
    put_be32((unsigned char *)a->b.ptr + 12, a->count);
}

/* ---- state_get ---------------------------------------------------------- */

/* Names as the runtime allows them: non-empty, valid UTF-8, not too long. */
static int check_name(const char *member, const char *what, const char *s, size_t max)
{
    int rc = actor__validate_name(what, s, max);
    if (rc)
        return actor_error_set(rc, "PostgreSQL %s: %s", member, actor_error_last());
    return 0;
}

static int check_key(const char *member, const char *type, const char *id)
{
    int rc = check_name(member, "actor type", type, ACTOR_TYPE_NAME_MAX);
    return rc ? rc : check_name(member, "actor ID", id, ACTOR_ID_MAX);
}

/* Run `n` queued statements' worth of one call on a borrowed connection:
 * the shared tail of every simple member. */
static int finish_call(pg_provider *p, pg_lease *l, PGresult **res, int n, const char *what)
{
    int rc = exchange(l->conn, query_deadline(p), res, n, what);
    if (rc != 0) {
        clear_results(res, n);
        pool_put(p, l, 1);
        return rc;
    }
    rc = first_failure(res, n, what);
    if (rc != 0) {
        clear_results(res, n);
        pool_put(p, l, 0);
        return rc;
    }
    pool_put(p, l, 0);
    return 0;
}

/* A read by key (state_get, lease_get): check the arguments, run statement
 * `stmt` with (type, id) on a pooled connection, and hand back its result
 * in *r, or ACTOR_ENOTFOUND naming `what` when it has no row. */
static int keyed_read(PGresult **r, pg_provider *p, const void *out, const char *member, int stmt,
                      const char *what, const char *type, const char *id)
{
    params ps = {0};
    pg_lease l;
    int rc;

    if (out == NULL)
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL %s: out is NULL", member);
    if ((rc = check_key(member, type, id)) != 0)
        return rc;
    if ((rc = pool_get(&l, p)) != 0)
        return rc;
    param_text(&ps, type);
    param_text(&ps, id);
    if ((rc = send_stmt(l.conn, stmt, &ps, member)) != 0) {
        pool_put(p, &l, 1);
        return rc;
    }
    if ((rc = finish_call(p, &l, r, 1, member)) != 0)
        return rc;
    if (PQntuples(*r) == 0) {
        char qt[300], qi[300];
        PQclear(*r);
        actor__quote(qt, sizeof(qt), type);
        actor__quote(qi, sizeof(qi), id);
        return actor_error_set(ACTOR_ENOTFOUND, "no %s for %s \"%s\"", what, qt, qi);
    }
    return 0;
}

static int pg_state_get_ttl(actor_buf *out, int64_t *ttl_ms, actor_provider *prov, const char *type,
                            const char *id)
{
    PGresult *r;
    int rc = keyed_read(&r, (pg_provider *)prov, out, "state_get", ST_GET, "state", type, id);

    if (rc != 0)
        return rc;
    rc = actor_buf_set(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    if (ttl_ms)
        *ttl_ms = col_int8(r, 0, 1);
    PQclear(r);
    return rc;
}

static int pg_state_get(actor_buf *out, actor_provider *prov, const char *type, const char *id)
{
    return pg_state_get_ttl(out, NULL, prov, type, id);
}

/* ---- apply -------------------------------------------------------------- */

/* What one statement of an apply pipeline stands for. */
typedef struct step {
    int kind;          /* ST_SET (a group), ST_DEL, ST_ACQ, ST_LEASE_GET, ST_REL */
    size_t first, end; /* ops[first..end) for a group; first for one op */
} step;

/* Keys of the current group, to cut a run of writes where a key repeats
 * (one INSERT ... ON CONFLICT cannot touch a row twice). */
typedef struct keyset {
    size_t *slot; /* op index + 1, 0 = empty */
    uint32_t *gen;
    uint32_t cur;
    size_t cap;
} keyset;

static uint64_t key_hash(const actor_store_op *op)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = op->type; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xFF) * 1099511628211ull;
    for (const char *s = op->id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Add op i; returns 1 if its key was already in the set (not added). */
static int keyset_add(keyset *k, actor_store_op **ops, size_t i)
{
    size_t m = k->cap - 1;
    size_t h = (size_t)key_hash(ops[i]) & m;

    for (;;) {
        if (k->gen[h] != k->cur || k->slot[h] == 0) {
            k->gen[h] = k->cur;
            k->slot[h] = i + 1;
            return 0;
        }
        const actor_store_op *o = ops[k->slot[h] - 1];
        if (strcmp(o->type, ops[i]->type) == 0 && strcmp(o->id, ops[i]->id) == 0)
            return 1;
        h = (h + 1) & m;
    }
}

/* What a batch tells ST_SET of the fence cache: the generation it holds
 * for (valid: has_gen), the host, and which ops' fences it remembers. */
typedef struct fence_hint {
    const char *host; /* the one host the batch's writes are fenced by, or NULL */
    int has_gen;
    unsigned char gen[8];       /* big-endian */
    const unsigned char *known; /* per op: 1 when remembered */
} fence_hint;

/* Queue one set-based write of ops[first..end). */
static int send_group(PGconn *c, actor_store_op **ops, size_t first, size_t end, array_buf *a,
                      const fence_hint *fh)
{
    const char *v[9];
    int len[9], fmt[9];
    int rc = 0;

    rc = array_begin(&a[0], PG_OID_TEXT);
    if (!rc)
        rc = array_begin(&a[1], PG_OID_TEXT);
    if (!rc)
        rc = array_begin(&a[2], PG_OID_BYTEA);
    if (!rc)
        rc = array_begin(&a[3], PG_OID_INT8);
    if (!rc)
        rc = array_begin(&a[4], PG_OID_TEXT);
    if (!rc)
        rc = array_begin(&a[5], PG_OID_INT8);
    if (!rc)
        rc = array_begin(&a[6], PG_OID_BOOL);
    for (size_t i = first; rc == 0 && i < end; i++) {
        const actor_store_op *op = ops[i];
        unsigned char ttl[8], ep[8];
        put_be64(ttl, (uint64_t)(op->ttl_ms > 0 ? op->ttl_ms : 0));
        put_be64(ep, op->fence_epoch);
        rc = array_add(&a[0], op->type, strlen(op->type), 0);
        if (!rc)
            rc = array_add(&a[1], op->id, strlen(op->id), 0);
        if (!rc)
            rc = array_add(&a[2], op->value_len ? op->value : "", op->value_len, 0);
        if (!rc)
            rc = array_add(&a[3], ttl, 8, 0);
        if (!rc)
            rc = array_add(&a[4], op->fence_host, op->fence_host ? strlen(op->fence_host) : 0,
                           op->fence_host == NULL);
        if (!rc)
            rc = array_add(&a[5], ep, 8, 0);
        if (!rc)
            rc = array_add(&a[6], fh->known[i] ? "\1" : "\0", 1, 0);
    }
    if (rc != 0)
        return rc;
    for (int k = 0; k < 7; k++) {
        array_end(&a[k]);
        if (a[k].b.size > INT32_MAX)
            return actor_error_set(ACTOR_EINVAL, "PostgreSQL apply: batch too large");
        v[k] = a[k].b.ptr;
        len[k] = (int)a[k].b.size;
        fmt[k] = 1;
    }
    /* $7: the generation (NULL: none), $8: the flags (a[6]), $9: the host. */
    v[7] = v[6];
    len[7] = len[6];
    fmt[7] = 1;
    v[6] = fh->has_gen ? (const char *)fh->gen : NULL;
    len[6] = fh->has_gen ? 8 : 0;
    fmt[6] = 1;
    v[8] = fh->host;
    len[8] = fh->host ? (int)strlen(fh->host) : 0;
    fmt[8] = 1;
    char name[8];
    snprintf(name, sizeof(name), "a%d", ST_SET);
    if (!PQsendQueryPrepared(c, name, 9, v, len, fmt, 1))
        return conn_error(c, "apply");
    return 0;
}

static int send_one(PGconn *c, const actor_store_op *op, int st)
{
    params ps = {0};

    param_text(&ps, op->type);
    param_text(&ps, op->id);
    switch (st) {
    case ST_DEL:
        if (op->fence_host) {
            param_text(&ps, op->fence_host);
        } else {
            ps.v[ps.n] = NULL;
            ps.len[ps.n] = 0;
            ps.fmt[ps.n] = 1;
            ps.n++;
        }
        param_int8(&ps, (int64_t)op->fence_epoch);
        break;
    case ST_ACQ:
        param_text(&ps, op->fence_host);
        break;
    case ST_REL:
        param_text(&ps, op->fence_host);
        param_int8(&ps, (int64_t)op->fence_epoch);
        break;
    default:
        break;
    }
    return send_stmt(c, st, &ps, "apply");
}

static int check_op_as(const actor_store_op *op, const char *member)
{
    int rc;

    if (op == NULL)
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL %s: op is NULL", member);
    if ((rc = check_key(member, op->type, op->id)) != 0)
        return rc;
    switch (op->kind) {
    case ACTOR_STORE_STATE_SET:
        if (op->value == NULL && op->value_len > 0)
            return actor_error_set(ACTOR_EINVAL, "PostgreSQL %s: value is NULL with length %zu",
                                   member, op->value_len);
        if (op->value_len > INT32_MAX / 2)
            return actor_error_set(ACTOR_EINVAL,
                                   "PostgreSQL %s: value of %zu bytes is larger than the "
                                   "provider's limit of %d",
                                   member, op->value_len, INT32_MAX / 2);
        if (op->ttl_ms < 0)
            return actor_error_set(ACTOR_EINVAL, "PostgreSQL %s: bad TTL %lld ms", member,
                                   (long long)op->ttl_ms);
        /* fall through */
    case ACTOR_STORE_STATE_DELETE:
        if (op->fence_host != NULL)
            return check_name(member, "fence host ID", op->fence_host, ACTOR_HOST_ID_MAX);
        return 0;
    case ACTOR_STORE_LEASE_ACQUIRE:
    case ACTOR_STORE_LEASE_RELEASE:
        return check_name(member, "lease host ID", op->fence_host, ACTOR_HOST_ID_MAX);
    default:
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL %s: unknown op kind %d", member,
                               (int)op->kind);
    }
}

/* Check one op of an apply; the op's index goes into the message only when
 * something is wrong (see op_check in the SQLite provider). */
static int check_op(const actor_store_op *op, size_t i)
{
    char member[48];

    if (check_op_as(op, "apply") == 0)
        return 0;
    snprintf(member, sizeof(member), "apply (op %zu)", i);
    return check_op_as(op, member);
}

/* Fill the ops' results from the statements' results. */
static int read_results(actor_store_op **ops, const step *steps, size_t nsteps, PGresult **res)
{
    int rc;

    for (size_t s = 0; s < nsteps; s++) {
        const PGresult *r = res[s];
        const step *stp = &steps[s];
        actor_store_op *op = ops[stp->first];

        switch (stp->kind) {
        case ST_SET:
            for (size_t i = stp->first; i < stp->end; i++)
                ops[i]->result = 0;
            for (int row = 0; row < PQntuples(r); row++) {
                int64_t n = col_int8(r, row, 0); /* 0: the generation row */
                if (n >= 1 && (size_t)n <= stp->end - stp->first)
                    ops[stp->first + (size_t)n - 1]->result = ACTOR_ELEASE;
            }
            break;
        case ST_DEL:
            if (PQntuples(r) != 1)
                return actor_error_set(ACTOR_ESTORE, "PostgreSQL apply: bad delete result");
            if (!col_bool(r, 0, 0))
                op->result = ACTOR_ELEASE;
            else
                op->result = col_bool(r, 0, 1) ? 0 : ACTOR_ENOTFOUND;
            break;
        case ST_ACQ:
            /* The ST_LEASE_GET step that follows decides the outcome. */
            if (PQntuples(r) == 1) {
                op->result = 0;
                op->out_epoch = (uint64_t)col_int8(r, 0, 0);
            } else {
                op->result = ACTOR_ELEASE;
                op->out_epoch = 0;
            }
            break;
        case ST_LEASE_GET:
            if (op->result == ACTOR_ELEASE && PQntuples(r) == 1) {
                if ((rc = actor_buf_set(&op->holder_id, PQgetvalue(r, 0, 0),
                                        (size_t)PQgetlength(r, 0, 0))) != 0 ||
                    (rc = actor_buf_set(&op->holder_addr, PQgetvalue(r, 0, 1),
                                        (size_t)PQgetlength(r, 0, 1))) != 0)
                    return rc;
            }
            break;
        case ST_REL:
            op->result = atoi(PQcmdTuples((PGresult *)r)) > 0 ? 0 : ACTOR_ENOTFOUND;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* ---- the fence cache ----------------------------------------------------
 * A fenced write looks its lease row up (and locks it until commit); in a
 * batch of small writes that is a large part of the cost. Each host row
 * carries a lease generation that a trigger bumps on every update of one of
 * the host's lease rows to another holder or epoch, and on every delete of
 * one (a takeover, a release, cleanup, host_remove); a registration starts
 * one the host never had. A batch of writes fenced by one host first locks
 * that host's row (FOR SHARE, its own statement), so that no change to the
 * host's leases can commit until the batch does, and each later statement
 * reads the generation in a snapshot taken after the lock. If the
 * generation is the one under which the provider saw a fence hold, none of
 * the host's lease rows changed since, and the fence still holds: the write
 * skips the lookup. A host without a row gets no generation and every fence
 * is looked up. The provider forgets a fence when it acquires or releases
 * that actor's lease itself, and all of them when a batch reports another
 * generation. */

/* Forget every fence and the generation. Called with fence_mu held. */
static void fences_reset_locked(pg_provider *p)
{
    actor__fences_forget_all(&p->fences);
    p->fence_gen_set = 0;
}

/* The one host the batch's writes are fenced by, or NULL (none, or more). */
static const char *batch_fence_host(actor_store_op **ops, size_t n)
{
    const char *h = NULL;

    for (size_t i = 0; i < n; i++) {
        const actor_store_op *op = ops[i];
        if ((op->kind != ACTOR_STORE_STATE_SET && op->kind != ACTOR_STORE_STATE_DELETE) ||
            op->fence_host == NULL)
            continue;
        if (h == NULL)
            h = op->fence_host;
        else if (strcmp(h, op->fence_host) != 0)
            return NULL;
    }
    return h;
}

/* Before sending: forget what the batch's own lease ops change, then mark
 * the fenced writes whose fence is remembered (in batch order). */
static void fences_hint(pg_provider *p, actor_store_op **ops, size_t n, fence_hint *fh,
                        unsigned char *known)
{
    pthread_mutex_lock(&p->fence_mu);
    fh->has_gen = fh->host != NULL && p->fence_gen_set;
    if (fh->has_gen)
        put_be64(fh->gen, (uint64_t)p->fence_gen);
    for (size_t i = 0; i < n; i++) {
        const actor_store_op *op = ops[i];
        if (op->kind == ACTOR_STORE_LEASE_ACQUIRE || op->kind == ACTOR_STORE_LEASE_RELEASE)
            actor__fences_forget(&p->fences, op->type, op->id);
        else if (fh->has_gen && op->kind == ACTOR_STORE_STATE_SET && op->fence_host != NULL)
            known[i] = (unsigned char)actor__fences_known(&p->fences, op);
    }
    pthread_mutex_unlock(&p->fence_mu);
    fh->known = known;
}

/* After a committed batch: remember the fences its writes saw hold, under
 * the generation each statement read (a later one of the batch may differ:
 * its own lease ops bump it). */
static void fences_learn(pg_provider *p, actor_store_op **ops, const step *steps, size_t nsteps,
                         PGresult **res, const char *host)
{
    pthread_mutex_lock(&p->fence_mu);
    for (size_t s = 0; s < nsteps; s++) {
        const PGresult *r = res[s];
        int have = 0;
        int64_t gen = 0;
        if (steps[s].kind != ST_SET || host == NULL)
            continue; /* nothing fenced by one host: it says nothing */
        for (int row = 0; row < PQntuples(r); row++) {
            if (col_int8(r, row, 0) == 0 && !PQgetisnull(r, row, 1)) {
                gen = col_int8(r, row, 1);
                have = 1;
            }
        }
        if (!have) {
            fences_reset_locked(p); /* the host has no row: nothing holds */
            continue;
        }
        if (!p->fence_gen_set || p->fence_gen != gen) {
            actor__fences_forget_all(&p->fences);
            p->fence_gen = gen;
            p->fence_gen_set = 1;
        }
        for (size_t i = steps[s].first; i < steps[s].end; i++) {
            if (ops[i]->fence_host != NULL && ops[i]->result == 0)
                actor__fences_remember(&p->fences, ops[i]);
        }
    }
    pthread_mutex_unlock(&p->fence_mu);
}

static int pg_apply(actor_provider *prov, actor_store_op **ops, size_t n)
{
    pg_provider *p = (pg_provider *)prov;
    array_buf arrays[7];
    fence_hint fh = {0};
    unsigned char *known = NULL;
    keyset ks = {0};
    step *steps = NULL;
    PGresult **res = NULL;
    size_t nsteps = 0;
    pg_lease l;
    int rc = 0;

    if (n == 0)
        return 0;
    if (ops == NULL)
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL apply: ops is NULL");
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_op(ops[i], i)) != 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        ops[i]->result = 0;
        ops[i]->out_epoch = 0;
        actor_buf_clear(&ops[i]->holder_id);
        actor_buf_clear(&ops[i]->holder_addr);
    }
    /* At most two statements per op and the fence host's lock; a key set
     * twice the group size. */
    steps = calloc(2 * n + 1, sizeof(*steps));
    res = calloc(2 * n + 1, sizeof(*res));
    known = calloc(n, 1);
    ks.cap = 16;
    while (ks.cap < 2 * (n < PG_GROUP_MAX_OPS ? n : PG_GROUP_MAX_OPS))
        ks.cap *= 2;
    ks.slot = calloc(ks.cap, sizeof(*ks.slot));
    ks.gen = calloc(ks.cap, sizeof(*ks.gen));
    memset(arrays, 0, sizeof(arrays));
    if (steps == NULL || res == NULL || known == NULL || ks.slot == NULL || ks.gen == NULL) {
        rc = actor__error_oom();
        goto out;
    }
    fh.host = batch_fence_host(ops, n);
    fences_hint(p, ops, n, &fh, known);
    if ((rc = pool_get(&l, p)) != 0)
        goto out;
    if (fh.host != NULL) {
        /* The fence host's row first, in a statement of its own (see the
         * fence cache). */
        params ps = {0};
        param_text(&ps, fh.host);
        rc = send_stmt(l.conn, ST_HOST_SHARE, &ps, "apply");
        steps[nsteps++] = (step){ST_HOST_SHARE, 0, 0};
    }
    for (size_t i = 0; i < n && rc == 0;) {
        const actor_store_op *op = ops[i];
        if (op->kind == ACTOR_STORE_STATE_SET) {
            size_t end = i, bytes = 0;
            ks.cur++;
            while (end < n && ops[end]->kind == ACTOR_STORE_STATE_SET &&
                   end - i < PG_GROUP_MAX_OPS && (bytes < PG_GROUP_MAX_BYTES || end == i) &&
                   !keyset_add(&ks, ops, end)) {
                bytes += ops[end]->value_len + 64;
                end++;
            }
            rc = send_group(l.conn, ops, i, end, arrays, &fh);
            steps[nsteps++] = (step){ST_SET, i, end};
            i = end;
            continue;
        }
        switch (op->kind) {
        case ACTOR_STORE_STATE_DELETE:
            rc = send_one(l.conn, op, ST_DEL);
            steps[nsteps++] = (step){ST_DEL, i, i + 1};
            break;
        case ACTOR_STORE_LEASE_ACQUIRE:
            rc = send_one(l.conn, op, ST_ACQ);
            steps[nsteps++] = (step){ST_ACQ, i, i + 1};
            if (rc == 0)
                rc = send_one(l.conn, op, ST_LEASE_GET);
            steps[nsteps++] = (step){ST_LEASE_GET, i, i + 1};
            break;
        default:
            rc = send_one(l.conn, op, ST_REL);
            steps[nsteps++] = (step){ST_REL, i, i + 1};
            break;
        }
        i++;
    }
    if (rc != 0) {
        /* Nothing was synced: the implicit transaction never commits. */
        pool_put(p, &l, 1);
        goto out;
    }
    /* The statements up to the Sync form one implicit transaction, which
     * commits at the Sync, or rolls back entirely if any of them fails. */
    rc = finish_call(p, &l, res, (int)nsteps, "apply");
    if (rc == 0)
        rc = read_results(ops, steps, nsteps, res);
    if (rc == 0)
        fences_learn(p, ops, steps, nsteps, res, fh.host);

out:
    if (res)
        clear_results(res, (int)nsteps);
    for (int k = 0; k < 7; k++)
        actor_buf_dispose(&arrays[k].b);
    free(known);
    free(ks.slot);
    free(ks.gen);
    free(steps);
    free(res);
    return rc;
}

/* ---- hosts and leases --------------------------------------------------- */

/* Run one or two prepared statements with the same text parameters in one
 * implicit transaction; *affected gets the rows of the last one. */
static int run_simple(pg_provider *p, const char *what, int st1, int st2, const char *a,
                      const char *b, long *affected)
{
    PGresult *res[2];
    params ps = {0};
    pg_lease l;
    int n = st2 >= 0 ? 2 : 1;
    int rc;

    if ((rc = pool_get(&l, p)) != 0)
        return rc;
    param_text(&ps, a);
    if (b)
        param_text(&ps, b);
    rc = send_stmt(l.conn, st1, &ps, what);
    if (rc == 0 && st2 >= 0)
        rc = send_stmt(l.conn, st2, &ps, what);
    if (rc != 0) {
        pool_put(p, &l, 1);
        return rc;
    }
    if ((rc = finish_call(p, &l, res, n, what)) != 0)
        return rc;
    if (affected)
        *affected = atol(PQcmdTuples(res[n - 1]));
    clear_results(res, n);
    return 0;
}

static int pg_host_register(actor_provider *prov, const char *host_id, const char *address)
{
    int rc;
    if ((rc = check_name("host_register", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    if (address == NULL)
        address = "";
    if (strlen(address) > ACTOR_HOST_ADDRESS_MAX || !actor_utf8_valid(address, strlen(address)))
        return check_name("host_register", "host address", address, ACTOR_HOST_ADDRESS_MAX);
    if ((rc = run_simple((pg_provider *)prov, "host_register", ST_HOST_REG, -1, host_id, address,
                         NULL)) == 0) {
        /* A new lease generation: what was remembered is of no use. */
        pg_provider *p = (pg_provider *)prov;
        pthread_mutex_lock(&p->fence_mu);
        fences_reset_locked(p);
        pthread_mutex_unlock(&p->fence_mu);
    }
    return rc;
}

static int pg_host_heartbeat(actor_provider *prov, const char *host_id)
{
    long n = 0;
    int rc;
    if ((rc = check_name("host_heartbeat", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    if ((rc = run_simple((pg_provider *)prov, "host_heartbeat", ST_HOST_BEAT, -1, host_id, NULL,
                         &n)) != 0)
        return rc;
    if (n == 0) {
        char q[300];
        actor__quote(q, sizeof(q), host_id);
        return actor_error_set(ACTOR_ENOTFOUND,
                               "PostgreSQL heartbeat: host \"%s\" is dead (no row in %shosts, "
                               "or its last heartbeat is older than the lease deadline); it "
                               "must stop serving and register again",
                               q, ((pg_provider *)prov)->prefix);
    }
    return 0;
}

static int pg_host_remove(actor_provider *prov, const char *host_id)
{
    int rc;
    if ((rc = check_name("host_remove", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    return run_simple((pg_provider *)prov, "host_remove", ST_HOST_REM_LEASES, ST_HOST_REM, host_id,
                      NULL, NULL);
}

static int pg_lease_get(actor_lease_info *out, actor_provider *prov, const char *type,
                        const char *id)
{
    PGresult *r;
    int rc = keyed_read(&r, (pg_provider *)prov, out, "lease_get", ST_LEASE_GET, "lease", type, id);

    if (rc != 0)
        return rc;
    rc = actor_buf_set(&out->host_id, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    if (rc == 0)
        rc = actor_buf_set(&out->address, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1));
    out->epoch = (uint64_t)col_int8(r, 0, 2);
    out->holder_alive = col_bool(r, 0, 3);
    PQclear(r);
    return rc;
}

static int pg_job_claim(actor_provider *prov, const char *job, const char *host_id,
                        int64_t interval_ms)
{
    pg_provider *p = (pg_provider *)prov;
    params ps = {0};
    PGresult *r;
    pg_lease l;
    int rc;

    if ((rc = check_name("job_claim", "job name", job, ACTOR_TYPE_NAME_MAX)) != 0 ||
        (rc = check_name("job_claim", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    if ((rc = pool_get(&l, p)) != 0)
        return rc;
    param_text(&ps, job);
    param_text(&ps, host_id);
    param_int8(&ps, interval_ms > 0 ? interval_ms : 0);
    if ((rc = send_stmt(l.conn, ST_JOB_CLAIM, &ps, "job_claim")) != 0) {
        pool_put(p, &l, 1);
        return rc;
    }
    if ((rc = finish_call(p, &l, &r, 1, "job_claim")) != 0)
        return rc;
    rc = atoi(PQcmdTuples(r)) > 0 ? 1 : 0;
    PQclear(r);
    return rc;
}

/* ---- cleanup ------------------------------------------------------------ */

static int clean_one(pg_provider *p, int st, size_t limit, size_t *count)
{
    params ps = {0};
    PGresult *r;
    pg_lease l;
    int rc;

    if ((rc = pool_get(&l, p)) != 0)
        return rc;
    param_int8(&ps, (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
    if ((rc = send_stmt(l.conn, st, &ps, "cleanup")) != 0) {
        pool_put(p, &l, 1);
        return rc;
    }
    if ((rc = finish_call(p, &l, &r, 1, "cleanup")) != 0)
        return rc;
    *count += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

static int pg_cleanup(actor_cleanup_counts *out, actor_provider *prov, size_t limit)
{
    pg_provider *p = (pg_provider *)prov;
    int rc;

    if (out == NULL)
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL cleanup: out is NULL");
    if (limit == 0)
        return 0;
    /* Three short transactions; leases before hosts, so that a dead host's
     * row goes only once it holds nothing. */
    if ((rc = clean_one(p, ST_CLEAN_STATE, limit, &out->expired_state)) != 0)
        return rc;
    if ((rc = clean_one(p, ST_CLEAN_LEASES, limit, &out->dead_leases)) != 0)
        return rc;
    return clean_one(p, ST_CLEAN_HOSTS, limit, &out->dead_hosts);
}

/* ---- schema and migrations ---------------------------------------------- */

static char *format_sql(const char *fmt, const char *prefix, long long deadline)
{
    int len = snprintf(NULL, 0, fmt, prefix, deadline, PG_TTL_FOREVER_MS);
    char *s;
    if (len < 0)
        return NULL;
    s = malloc((size_t)len + 1);
    if (s)
        snprintf(s, (size_t)len + 1, fmt, prefix, deadline, PG_TTL_FOREVER_MS);
    return s;
}

/* End a failed migration transaction: roll it back if the connection can
 * still talk; the caller drops the connection otherwise. */
static void rollback(PGconn *c, int64_t deadline)
{
    PGresult *r = NULL;
    if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) == PQTRANS_IDLE)
        return;
    if (send_sql(c, "ROLLBACK", "rollback") == 0 && exchange(c, deadline, &r, 1, "rollback") == 0)
        PQclear(r);
}

/*
 * Create or migrate the schema on one connection, in one transaction that
 * first takes a transaction-scoped advisory lock: hosts starting together
 * on an empty database run this one after another, and the later ones find
 * the schema done. A failure rolls everything back.
 */
static int migrate(pg_provider *p, PGconn *c)
{
    int64_t deadline = query_deadline(p);
    PGresult *res[4] = {0};
    char sql[256], lock[80];
    long long version = 0;
    int rc, n = 0;

    snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%lld)", (long long)p->lock_key);
    snprintf(sql, sizeof(sql), "SELECT to_regclass('%smeta') IS NOT NULL", p->prefix);
    rc = send_sql(c, "BEGIN", "schema check");
    if (rc == 0)
        rc = send_sql(c, lock, "schema check");
    if (rc == 0)
        rc = send_sql(c, sql, "schema check");
    if (rc == 0)
        rc = exchange(c, deadline, res, 3, "schema check");
    if (rc == 0)
        rc = first_failure(res, 3, "schema check (lock)");
    if (rc != 0)
        goto fail;
    if (col_bool(res[2], 0, 0)) {
        clear_results(res, 3);
        snprintf(sql, sizeof(sql), "SELECT value FROM %smeta WHERE key = 'schema_version'",
                 p->prefix);
        rc = send_sql(c, sql, "schema check");
        if (rc == 0)
            rc = exchange(c, deadline, res, 1, "schema check");
        if (rc == 0)
            rc = first_failure(res, 1, "schema check (read version)");
        if (rc != 0)
            goto fail;
        if (PQntuples(res[0]) == 1) {
            char buf[32];
            int len = PQgetlength(res[0], 0, 0);
            char *end;
            snprintf(buf, sizeof(buf), "%.*s", len < 31 ? len : 31, PQgetvalue(res[0], 0, 0));
            version = strtoll(buf, &end, 10);
            if (*end != '\0' || version < 0) {
                rc = actor_error_set(ACTOR_ESCHEMA,
                                     "PostgreSQL: table %smeta holds schema version \"%s\", "
                                     "which this library (schema version %d) cannot read",
                                     p->prefix, buf, PG_SCHEMA_VERSION);
                goto fail;
            }
        }
    }
    clear_results(res, 4);
    if (version > PG_SCHEMA_VERSION) {
        rc = actor_error_set(ACTOR_ESCHEMA,
                             "PostgreSQL: the store's schema version %lld (table %smeta) is "
                             "newer than this library's schema version %d; nothing was changed",
                             version, p->prefix, PG_SCHEMA_VERSION);
        goto fail;
    }
    if (version < PG_SCHEMA_VERSION) {
        /* Every migration's statements, the version row, the commit: one
         * pipeline, one transaction. */
        if (version == 0) {
            snprintf(sql, sizeof(sql),
                     "CREATE TABLE IF NOT EXISTS %smeta (key text PRIMARY KEY, "
                     "value text NOT NULL)",
                     p->prefix);
            rc = send_sql(c, sql, "schema migration");
            n++;
        }
        for (long long v = version; rc == 0 && v < PG_SCHEMA_VERSION; v++) {
            for (const char *const *m = migrations[v]; rc == 0 && *m; m++) {
                char *s = format_sql(*m, p->prefix, 0);
                if (s == NULL) {
                    rc = actor__error_oom();
                    break;
                }
                rc = send_sql(c, s, "schema migration");
                free(s);
                n++;
            }
        }
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %smeta (key, value) VALUES ('schema_version', '%d') "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 p->prefix, PG_SCHEMA_VERSION);
        if (rc == 0) {
            rc = send_sql(c, sql, "schema migration");
            n++;
        }
    }
    if (rc == 0) {
        rc = send_sql(c, "COMMIT", "schema migration");
        n++;
    }
    if (rc == 0) {
        PGresult **all = calloc((size_t)n, sizeof(*all));
        if (all == NULL) {
            rc = actor__error_oom();
            goto fail;
        }
        rc = exchange(c, deadline, all, n, "schema migration");
        if (rc == 0)
            rc = first_failure(all, n, "schema migration");
        clear_results(all, n);
        free(all);
        /* A failed statement aborts the transaction; COMMIT then ends it
         * as a rollback. */
    }
    if (rc != 0)
        goto fail;
    return 0;

fail:
    clear_results(res, 4);
    {
        /* Keep the error message: the rollback may overwrite it. */
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", actor_error_last());
        rollback(c, query_deadline(p));
        actor_error_set(rc, "%s", msg);
    }
    return rc;
}

/* ---- open and free ------------------------------------------------------ */

static void pg_free(actor_provider *prov)
{
    pg_provider *p = (pg_provider *)prov;

    if (p == NULL)
        return;
    for (unsigned int i = 0; p->conns && i < p->pool_size; i++)
        if (p->conns[i])
            PQfinish(p->conns[i]);
    for (int i = 0; i < ST_COUNT; i++)
        free(p->sql[i]);
    free(p->conns);
    free(p->free_idx);
    free(p->url);
    actor__fences_dispose(&p->fences);
    pthread_mutex_destroy(&p->fence_mu);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int actor__postgres_provider_open(actor_provider **out, const actor_provider_config *config)
{
    pg_provider *p;
    PQconninfoOption *opts;
    pthread_condattr_t ca;
    char *err = NULL;
    uint64_t h = 1469598103934665603ull;
    PGconn *c = NULL;
    int rc;

    if (out == NULL || config == NULL || config->url == NULL || config->table_prefix == NULL)
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL: NULL argument");
    *out = NULL;
    if (strlen(config->table_prefix) > 32)
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL: table prefix is longer than 32 bytes");
    for (const char *s = config->table_prefix; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              (s != config->table_prefix && ch >= '0' && ch <= '9')))
            return actor_error_set(ACTOR_EINVAL, "PostgreSQL: invalid table prefix");
    }
    /* libpq's own parser decides what a valid URL is. */
    opts = PQconninfoParse(config->url, &err);
    if (opts == NULL) {
        char m[600];
        clean_msg(m, sizeof(m), err ? err : "out of memory");
        PQfreemem(err);
        return actor_error_set(ACTOR_EINVAL, "PostgreSQL: invalid store URL: %s", m);
    }
    PQconninfoFree(opts);

    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return actor__error_oom();
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->fence_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->base.version = ACTOR_PROVIDER_VERSION;
    p->base.name = "postgres";
    p->base.free = pg_free;
    p->base.state_get = pg_state_get;
    p->base.state_get_ttl = pg_state_get_ttl;
    p->base.apply = pg_apply;
    p->base.host_register = pg_host_register;
    p->base.host_heartbeat = pg_host_heartbeat;
    p->base.host_remove = pg_host_remove;
    p->base.lease_get = pg_lease_get;
    p->base.cleanup = pg_cleanup;
    p->base.job_claim = pg_job_claim;
    p->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : 5000;
    p->lease_deadline_ms = config->lease_deadline_ms > 0 ? config->lease_deadline_ms : 10000;
    p->pool_size = config->pool_size > 0 ? config->pool_size : 4;
    /* Unquoted identifiers: PostgreSQL folds them to lower case, so the
     * prefix is used in lower case everywhere (to_regclass included). */
    for (size_t i = 0; config->table_prefix[i]; i++) {
        char ch = config->table_prefix[i];
        p->prefix[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    for (const char *s = "libactor schema "; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    for (const char *s = p->prefix; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    p->lock_key = (int64_t)(h >> 1);
    p->url = strdup(config->url);
    p->conns = calloc(p->pool_size, sizeof(*p->conns));
    p->free_idx = calloc(p->pool_size, sizeof(*p->free_idx));
    if (p->url == NULL || p->conns == NULL || p->free_idx == NULL) {
        pg_free(&p->base);
        return actor__error_oom();
    }
    for (int i = 0; i < ST_COUNT; i++) {
        p->sql[i] = format_sql(stmt_sql[i], p->prefix, (long long)p->lease_deadline_ms);
        if (p->sql[i] == NULL) {
            pg_free(&p->base);
            return actor__error_oom();
        }
    }
    for (unsigned int i = 0; i < p->pool_size; i++)
        p->free_idx[p->nfree++] = p->pool_size - 1 - i;

    /* First connection: schema, then prepare; it joins the pool. */
    rc = pg_connect(&c, p, deadline_in(p->timeout_ms), 0);
    if (rc == 0)
        rc = migrate(p, c);
    if (rc != 0) {
        if (c)
            PQfinish(c);
        pg_free(&p->base);
        return rc;
    }
    PQfinish(c);
    /* Connect (and prepare) one pooled connection now so that a schema
     * problem shows at open; the others connect on first use. */
    {
        pg_lease l;
        if ((rc = pool_get(&l, p)) != 0) {
            pg_free(&p->base);
            return rc;
        }
        pool_put(p, &l, 0);
    }
    *out = &p->base;
    return 0;
}
