/*
 * pgtest.h: helpers shared by the PostgreSQL tests: finding the server from
 * the environment that scripts/with-postgres.sh sets (skipping, or failing
 * under CI=true, when it is absent), unique table prefixes per run, opening
 * the provider, and a direct libpq connection for inspecting the database.
 */
#ifndef ACTOR_PGTEST_H
#define ACTOR_PGTEST_H

#include <actor/sys/provider.h>

#include <libpq-fe.h>

#include "test.h"

/* The server URL, or exit: 77 (skipped) when unset, 1 under CI=true. */
static inline const char *pg_url_or_skip(const char *prog)
{
    const char *url = getenv("ACTOR_TEST_PG_URL");
    const char *ci = getenv("CI");

    if (url && *url)
        return url;
    if (ci && strcmp(ci, "true") == 0) {
        fprintf(stderr,
                "%s: ACTOR_TEST_PG_URL is not set but CI=true: the PostgreSQL tests "
                "must run in CI (use scripts/with-postgres.sh)\n",
                prog);
        exit(1);
    }
    fprintf(stderr,
            "%s: SKIPPED: ACTOR_TEST_PG_URL is not set; run the tests under "
            "scripts/with-postgres.sh to start a private PostgreSQL server\n",
            prog);
    exit(77);
}

/* A table prefix unique to this process and call: "t<pid>_<n>_<random>_". */
static inline const char *pg_prefix(char *buf, size_t size)
{
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, size, "t%ld_%u_%lx_", (long)getpid() % 100000, ++counter,
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec) & 0xFFFFFul);
    return buf;
}

static inline actor_provider_config pg_config(const char *url, const char *prefix)
{
    actor_provider_config c;
    memset(&c, 0, sizeof(c));
    c.version = ACTOR_PROVIDER_CONFIG_VERSION;
    c.url = url;
    c.table_prefix = prefix;
    c.timeout_ms = 5000;
    c.pool_size = 4;
    c.lease_deadline_ms = 10000;
    return c;
}

/* A plain libpq connection to the test server, or NULL with a message. */
static inline PGconn *pg_direct(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "  direct connection failed: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Run SQL on a direct connection; returns 1 when it succeeded. */
static inline int pg_exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "  SQL failed: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/* The first column of the first row of a query as a number (-1 on error). */
static inline long long pg_scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = atoll(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "  SQL failed: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

/* Fill a state-set op. */
static inline void pg_op_set(actor_store_op *op, const char *type, const char *id,
                             const char *value, int64_t ttl_ms)
{
    memset(op, 0, sizeof(*op));
    op->kind = ACTOR_STORE_STATE_SET;
    op->type = type;
    op->id = id;
    op->value = value;
    op->value_len = value ? strlen(value) : 0;
    op->ttl_ms = ttl_ms;
}

/* Apply a single op. Returns apply's code; the op's result is in op. */
static inline int pg_apply1(actor_provider *p, actor_store_op *op)
{
    actor_store_op *ops[1] = {op};
    return p->apply(p, ops, 1);
}

#endif
