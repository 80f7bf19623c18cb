/*
 * sqlite.c: the SQLite storage provider behind "sqlite:PATH" and
 * "sqlite::memory:" (sys/provider.h). It owns the on-disk schema and its
 * migrations (the <prefix>meta table records the version), one writer
 * connection serialised by a mutex for apply, hosts and cleanup, and a small
 * pool of reader connections for state_get and lease_get, so that reads run
 * beside the writer (WAL mode). Statements are prepared once per connection
 * and cached. It also parses its store URL: a percent-decoded path and the
 * query options synchronous and busy_timeout_ms. docs/providers.md describes
 * the URL, the schema and the settings chosen.
 */
#include <actor/sys/provider.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "internal.h"

/* The schema version this library writes and understands. */
#define SCHEMA_VERSION 1

#define DEFAULT_TIMEOUT_MS  5000
#define DEFAULT_DEADLINE_MS 10000
#define MAX_READERS         64
/* Pages of WAL after which a commit checkpoints (SQLite's default is 1000):
 * fewer, larger checkpoints, see docs/providers.md. */
#define WAL_AUTOCHECKPOINT_PAGES 10000
/* Size the WAL file is truncated back to after a checkpoint. */
#define JOURNAL_SIZE_LIMIT (64LL * 1024 * 1024)
/* Page cache of the writer connection, in KiB. */
#define WRITER_CACHE_KIB 16384

/* ---- SQL ----------------------------------------------------------------
 * "{p}" stands for the table prefix; it is substituted once at open. */

static const char *const migration_1[] = {
    "CREATE TABLE IF NOT EXISTS {p}meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS {p}state (actor_type TEXT NOT NULL, actor_id TEXT NOT NULL, "
    "value BLOB NOT NULL, expires_at INTEGER, updated_at INTEGER NOT NULL, "
    "PRIMARY KEY (actor_type, actor_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS {p}state_expires ON {p}state (expires_at) "
    "WHERE expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS {p}hosts (host_id TEXT PRIMARY KEY, address TEXT NOT NULL, "
    "last_heartbeat INTEGER NOT NULL, started_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS {p}leases (actor_type TEXT NOT NULL, actor_id TEXT NOT NULL, "
    "host_id TEXT NOT NULL, epoch INTEGER NOT NULL, acquired_at INTEGER NOT NULL, "
    "PRIMARY KEY (actor_type, actor_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS {p}leases_host ON {p}leases (host_id)",
    "CREATE TABLE IF NOT EXISTS {p}jobs (job TEXT PRIMARY KEY, host_id TEXT NOT NULL, "
    "claimed_at INTEGER NOT NULL) WITHOUT ROWID",
    NULL,
};

/* migrations[v] takes the schema from version v to v + 1. */
static const char *const *const migrations[SCHEMA_VERSION] = {migration_1};

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_STATE_GET,
    ST_STATE_SET,
    ST_STATE_SET_FENCED,
    ST_STATE_DELETE,
    ST_FENCE_CHECK,
    ST_LEASE_ACQUIRE,
    ST_LEASE_HOLDER,
    ST_LEASE_RELEASE,
    ST_LEASE_GET,
    ST_HOST_REGISTER,
    ST_HOST_HEARTBEAT,
    ST_HOST_DELETE,
    ST_HOST_LEASES_DELETE,
    ST_CLEAN_STATE,
    ST_CLEAN_LEASES,
    ST_CLEAN_HOSTS,
    ST_JOB_CLAIM,
    ST_META_TABLE,
    ST_META_VERSION,
    ST_META_SET,
    ST_DATA_VERSION,
    ST_COUNT
};

struct stmt_def {
    const char *name; /* the step, for messages */
    const char *sql;
};

static const struct stmt_def stmt_defs[ST_COUNT] = {
    [ST_BEGIN] = {"begin transaction", "BEGIN IMMEDIATE"},
    [ST_COMMIT] = {"commit", "COMMIT"},
    [ST_ROLLBACK] = {"rollback", "ROLLBACK"},
    [ST_STATE_GET] = {"read state",
                      "SELECT value, expires_at FROM {p}state WHERE actor_type = ?1 AND "
                      "actor_id = ?2 AND (expires_at IS NULL OR expires_at > ?3)"},
    [ST_STATE_SET] = {"write state",
                      "INSERT INTO {p}state (actor_type, actor_id, value, expires_at, updated_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (actor_type, actor_id) DO UPDATE "
                      "SET value = excluded.value, expires_at = excluded.expires_at, "
                      "updated_at = excluded.updated_at"},
    /* The row to write comes from the lease row, so none comes when the
     * fence does not match, and changes() tells which happened. (A join
     * costs less than an EXISTS subquery: about 10% of a fenced write.) */
    [ST_STATE_SET_FENCED] = {"write state (fenced)",
                             "INSERT INTO {p}state (actor_type, actor_id, value, expires_at, "
                             "updated_at) SELECT ?1, ?2, ?3, ?4, ?5 FROM {p}leases WHERE "
                             "actor_type = ?1 AND actor_id = ?2 AND host_id = ?6 AND epoch = ?7 "
                             "ON CONFLICT (actor_type, actor_id) DO UPDATE SET "
                             "value = excluded.value, expires_at = excluded.expires_at, "
                             "updated_at = excluded.updated_at"},
    [ST_STATE_DELETE] = {"delete state", "DELETE FROM {p}state WHERE actor_type = ?1 AND "
                                         "actor_id = ?2 RETURNING expires_at"},
    [ST_FENCE_CHECK] = {"check fence", "SELECT 1 FROM {p}leases WHERE actor_type = ?1 AND "
                                       "actor_id = ?2 AND host_id = ?3 AND epoch = ?4"},
    /* Take a free lease (epoch 1), or take over one held by this host or by a
     * host that is dead or has no row (epoch + 1); no row comes back when a
     * live other host holds it. ?5 is the oldest heartbeat still alive. */
    [ST_LEASE_ACQUIRE] = {"acquire lease",
                          "INSERT INTO {p}leases (actor_type, actor_id, host_id, epoch, "
                          "acquired_at) VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (actor_type, "
                          "actor_id) DO UPDATE SET host_id = excluded.host_id, epoch = "
                          "{p}leases.epoch + 1, acquired_at = excluded.acquired_at WHERE "
                          "{p}leases.host_id = excluded.host_id OR NOT EXISTS (SELECT 1 FROM "
                          "{p}hosts AS h WHERE h.host_id = {p}leases.host_id AND "
                          "h.last_heartbeat >= ?5) RETURNING epoch"},
    [ST_LEASE_HOLDER] = {"read lease holder",
                         "SELECT l.host_id, COALESCE(h.address, '') FROM {p}leases AS l LEFT "
                         "JOIN {p}hosts AS h ON h.host_id = l.host_id WHERE l.actor_type = ?1 "
                         "AND l.actor_id = ?2"},
    [ST_LEASE_RELEASE] = {"release lease", "DELETE FROM {p}leases WHERE actor_type = ?1 AND "
                                           "actor_id = ?2 AND host_id = ?3 AND epoch = ?4"},
    [ST_LEASE_GET] = {"read lease",
                      "SELECT l.host_id, l.epoch, COALESCE(h.address, ''), h.last_heartbeat "
                      "FROM {p}leases AS l LEFT JOIN {p}hosts AS h ON h.host_id = l.host_id "
                      "WHERE l.actor_type = ?1 AND l.actor_id = ?2"},
    [ST_HOST_REGISTER] = {"register host",
                          "INSERT INTO {p}hosts (host_id, address, last_heartbeat, started_at) "
                          "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (host_id) DO UPDATE SET "
                          "address = excluded.address, last_heartbeat = excluded.last_heartbeat, "
                          "started_at = excluded.started_at"},
    /* Only a live host refreshes its row: a dead one must register again. */
    [ST_HOST_HEARTBEAT] = {"heartbeat", "UPDATE {p}hosts SET last_heartbeat = ?2 WHERE host_id = "
                                        "?1 AND last_heartbeat >= ?3"},
    [ST_HOST_DELETE] = {"delete host", "DELETE FROM {p}hosts WHERE host_id = ?1"},
    [ST_HOST_LEASES_DELETE] = {"delete host leases", "DELETE FROM {p}leases WHERE host_id = ?1"},
    [ST_CLEAN_STATE] = {"purge expired state",
                        "DELETE FROM {p}state WHERE (actor_type, actor_id) IN (SELECT "
                        "actor_type, actor_id FROM {p}state WHERE expires_at IS NOT NULL AND "
                        "expires_at <= ?1 LIMIT ?2)"},
    /* Leases of hosts that are dead or have no row. The holders are found by
     * walking the distinct host_id values through the index (one seek per
     * holder, not a scan of every lease), then their rows go by index too. */
    [ST_CLEAN_LEASES] = {"purge leases of dead hosts",
                         "WITH RECURSIVE hs(id) AS (SELECT (SELECT min(host_id) FROM {p}leases) "
                         "UNION ALL SELECT (SELECT min(host_id) FROM {p}leases WHERE host_id > "
                         "hs.id) FROM hs WHERE hs.id IS NOT NULL), dead(id) AS (SELECT id FROM "
                         "hs WHERE id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {p}hosts AS h "
                         "WHERE h.host_id = hs.id AND h.last_heartbeat >= ?1)) DELETE FROM "
                         "{p}leases WHERE (actor_type, actor_id) IN (SELECT actor_type, actor_id "
                         "FROM {p}leases WHERE host_id IN (SELECT id FROM dead) LIMIT ?2)"},
    /* Dead hosts whose leases are all gone. */
    [ST_CLEAN_HOSTS] = {"purge dead hosts",
                        "DELETE FROM {p}hosts WHERE host_id IN (SELECT host_id FROM {p}hosts AS h "
                        "WHERE h.last_heartbeat < ?1 AND NOT EXISTS (SELECT 1 FROM {p}leases AS l "
                        "WHERE l.host_id = h.host_id) LIMIT ?2)"},
    /* Claim a job unless somebody claimed it after ?4 (now - interval). */
    [ST_JOB_CLAIM] = {"claim job",
                      "INSERT INTO {p}jobs (job, host_id, claimed_at) VALUES (?1, ?2, "
                      "?3) ON CONFLICT (job) DO UPDATE SET host_id = excluded.host_id, "
                      "claimed_at = excluded.claimed_at WHERE {p}jobs.claimed_at <= ?4"},
    [ST_META_TABLE] = {"look for the meta table",
                       "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1"},
    [ST_META_VERSION] = {"read the schema version",
                         "SELECT value FROM {p}meta WHERE key = 'schema_version'"},
    [ST_META_SET] = {"record the schema version",
                     "INSERT INTO {p}meta (key, value) VALUES ('schema_version', ?1) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
    /* Changes when another connection commits (see the fence cache). */
    [ST_DATA_VERSION] = {"read the data version", "PRAGMA data_version"},
};

/* ---- types ---------------------------------------------------------------- */

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT]; /* prepared on first use */
};

struct sqlite_provider {
    actor_provider base; /* first: the runtime holds a pointer to this */
    char *path;          /* the file, or ":memory:" */
    int memory;
    char prefix[40];
    int64_t timeout_ms; /* waits inside the process: writer mutex, readers */
    int64_t busy_ms;    /* SQLite's busy handler and the WAL switch */
    int sync_normal;    /* synchronous=NORMAL on the writer, else FULL */
    int64_t deadline_ms;
    int64_t max_value;   /* SQLite's length limit for one value */
    char *sql[ST_COUNT]; /* stmt_defs with the prefix substituted */

    /* Who holds the writer connection, and who waits for it (see
     * writer_lock); wlock guards these. */
    pthread_mutex_t wlock;
    int wheld;
    int wstarving; /* the longest waiter waited STARVE_MS: hand over in order */
    struct wwaiter *whead, *wtail;
    struct conn writer;
    /* The fence cache (fences.c), under the writer lock like the writer. */
    actor__fences fences;
    int64_t fence_version; /* the writer's data_version they hold for */

    pthread_mutex_t plock; /* owns the free list of readers */
    pthread_cond_t pcond;
    struct conn *readers;
    size_t nreaders;
    struct conn **free_readers;
    size_t nfree;
    int locks_ready;
};

static struct sqlite_provider *sp_of(actor_provider *p)
{
    return (struct sqlite_provider *)p;
}

/* ---- errors ----------------------------------------------------------- */

static int map_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return ACTOR_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ACTOR_ETIMEOUT;
    case SQLITE_TOOBIG:
        return ACTOR_EINVAL;
    default:
        return ACTOR_ESTORE;
    }
}

/* Record a SQLite failure of `step` on `db` and return the ACTOR_E* code. */
static int db_fail(const struct sqlite_provider *sp, sqlite3 *db, int rc, const char *step)
{
    const char *msg = db && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int code = map_code(rc);

    if (code == ACTOR_ETIMEOUT)
        return actor_error_set(code, "sqlite \"%s\": %s: %s (busy timeout %lld ms)", sp->path, step,
                               msg, (long long)sp->busy_ms);
    return actor_error_set(code, "sqlite \"%s\": %s: %s", sp->path, step, msg);
}

/* ---- SQL text ----------------------------------------------------------- */

/* A copy of tmpl with every "{p}" replaced by prefix, or NULL (no memory). */
static char *sql_expand(const char *tmpl, const char *prefix)
{
    size_t plen = strlen(prefix), n = 0, o = 0;
    char *out;

    for (const char *s = tmpl; *s; s++)
        n += (s[0] == '{' && s[1] == 'p' && s[2] == '}') ? plen : 1;
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    for (const char *s = tmpl; *s;) {
        if (s[0] == '{' && s[1] == 'p' && s[2] == '}') {
            memcpy(out + o, prefix, plen);
            o += plen;
            s += 3;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return out;
}

static int prefix_valid(const char *p)
{
    size_t n;

    if (p == NULL || p[0] == '\0' || (p[0] >= '0' && p[0] <= '9'))
        return 0;
    for (n = 0; p[n]; n++) {
        char c = p[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return n <= 32;
}

/* ---- statements ------------------------------------------------------- */

/* The cached statement `id` of connection c, reset and ready to bind. */
static int stmt_get(sqlite3_stmt **out, struct sqlite_provider *sp, struct conn *c, enum stmt_id id)
{
    int rc;

    if (c->stmts[id] == NULL) {
        rc = sqlite3_prepare_v3(c->db, sp->sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[id],
                                NULL);
        if (rc != SQLITE_OK) {
            c->stmts[id] = NULL;
            return db_fail(sp, c->db, rc, stmt_defs[id].name);
        }
    }
    *out = c->stmts[id];
    return 0;
}

/* Step a statement that returns no rows (or whose rows are ignored) to the
 * end and reset it. */
static int stmt_run(struct sqlite_provider *sp, struct conn *c, sqlite3_stmt *st, enum stmt_id id)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(sp, c->db, rc, stmt_defs[id].name);
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    return 0;
}

/* Step once; 1 for a row, 0 at the end, or a negative error (then reset). */
static int stmt_step(struct sqlite_provider *sp, struct conn *c, sqlite3_stmt *st, enum stmt_id id)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    rc = db_fail(sp, c->db, rc, stmt_defs[id].name);
    sqlite3_reset(st);
    return rc;
}

/* Run a statement without parameters (BEGIN, COMMIT...). */
static int stmt_exec(struct sqlite_provider *sp, struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt_get(&st, sp, c, id);

    return rc ? rc : stmt_run(sp, c, st, id);
}

/* Roll back if a transaction is open, keeping the recorded error. */
static void tx_rollback(struct sqlite_provider *sp, struct conn *c)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_get_autocommit(c->db))
        return;
    if (c->stmts[ST_ROLLBACK] == NULL &&
        sqlite3_prepare_v3(c->db, sp->sql[ST_ROLLBACK], -1, SQLITE_PREPARE_PERSISTENT,
                           &c->stmts[ST_ROLLBACK], NULL) != SQLITE_OK) {
        c->stmts[ST_ROLLBACK] = NULL;
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return;
    }
    st = c->stmts[ST_ROLLBACK];
    sqlite3_step(st);
    sqlite3_reset(st);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Bind ?1..?4 to the op's (type, id) and its fence (host, epoch). */
static void bind_fenced_key(sqlite3_stmt *st, const actor_store_op *op)
{
    bind_text(st, 1, op->type);
    bind_text(st, 2, op->id);
    bind_text(st, 3, op->fence_host);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)op->fence_epoch);
}

/* ---- connections -------------------------------------------------------- */

static int exec_sql(struct sqlite_provider *sp, sqlite3 *db, const char *sql, const char *step)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

    if (rc != SQLITE_OK) {
        int code = map_code(rc);
        actor_error_set(code, "sqlite \"%s\": %s: %s", sp->path, step,
                        err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return code;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(c->stmts[i]);
        c->stmts[i] = NULL;
    }
    if (c->db)
        sqlite3_close(c->db);
    c->db = NULL;
}

static int conn_open(struct sqlite_provider *sp, struct conn *c, int flags)
{
    int rc;

    memset(c, 0, sizeof(*c));
    /* Each connection is used by one thread at a time under our own locks,
     * so SQLite's per-connection mutex is not needed. The path is already
     * decoded from the store URL; SQLite takes it literally (no
     * SQLITE_OPEN_URI). */
    rc = sqlite3_open_v2(sp->path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int code = map_code(rc);
        actor_error_set(code, "sqlite: cannot open \"%s\": %s", sp->path,
                        c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        c->db = NULL;
        return code;
    }
    sqlite3_extended_result_codes(c->db, 0);
    sqlite3_busy_timeout(c->db, sp->busy_ms > INT_MAX ? INT_MAX : (int)sp->busy_ms);
    return 0;
}

/* ---- schema ------------------------------------------------------------- */

/* Read the recorded schema version (0 when there is no meta table yet). */
static int schema_version(int64_t *out, struct sqlite_provider *sp, struct conn *c)
{
    char table[64];
    sqlite3_stmt *st = NULL;
    const unsigned char *txt;
    char *end;
    int rc, found;
    long long v;

    *out = 0;
    snprintf(table, sizeof(table), "%smeta", sp->prefix);
    if ((rc = stmt_get(&st, sp, c, ST_META_TABLE)) != 0)
        return rc;
    bind_text(st, 1, table);
    if ((rc = stmt_step(sp, c, st, ST_META_TABLE)) < 0)
        return rc;
    found = rc == 1 && sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    if (!found)
        return 0;
    /* The meta table exists: prepare against it only now. */
    if ((rc = stmt_get(&st, sp, c, ST_META_VERSION)) != 0)
        return rc;
    if ((rc = stmt_step(sp, c, st, ST_META_VERSION)) < 0)
        return rc;
    if (rc == 0) {
        sqlite3_reset(st);
        return 0;
    }
    txt = sqlite3_column_text(st, 0);
    errno = 0;
    v = txt ? strtoll((const char *)txt, &end, 10) : -1;
    if (txt == NULL || end == (const char *)txt || *end != '\0' || errno != 0 || v < 0) {
        char q[100];
        actor__quote(q, sizeof(q), txt ? (const char *)txt : "NULL");
        sqlite3_reset(st);
        return actor_error_set(ACTOR_ESCHEMA,
                               "sqlite \"%s\": table %smeta records an unreadable schema "
                               "version \"%s\"",
                               sp->path, sp->prefix, q);
    }
    sqlite3_reset(st);
    *out = v;
    return 0;
}

static int schema_newer(const struct sqlite_provider *sp, int64_t v)
{
    return actor_error_set(ACTOR_ESCHEMA,
                           "sqlite \"%s\": schema version %lld (table %smeta) is newer than "
                           "this library's schema version %d; upgrade libactor",
                           sp->path, (long long)v, sp->prefix, SCHEMA_VERSION);
}

/* Bring the schema to SCHEMA_VERSION in one BEGIN IMMEDIATE transaction. */
static int schema_migrate(struct sqlite_provider *sp, struct conn *c)
{
    sqlite3_stmt *st = NULL;
    int64_t v;
    int rc;

    if ((rc = stmt_exec(sp, c, ST_BEGIN)) != 0)
        return rc;
    /* Another process may have migrated since the first look. */
    if ((rc = schema_version(&v, sp, c)) != 0)
        goto fail;
    if (v > SCHEMA_VERSION) {
        rc = schema_newer(sp, v);
        goto fail;
    }
    for (; v < SCHEMA_VERSION; v++) {
        for (const char *const *step = migrations[v]; *step; step++) {
            char *sql = sql_expand(*step, sp->prefix), what[64];
            if (sql == NULL) {
                rc = actor__error_oom();
                goto fail;
            }
            snprintf(what, sizeof(what), "migration to schema version %lld", (long long)v + 1);
            rc = exec_sql(sp, c->db, sql, what);
            free(sql);
            if (rc)
                goto fail;
        }
    }
    if ((rc = stmt_get(&st, sp, c, ST_META_SET)) != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, SCHEMA_VERSION);
    if ((rc = stmt_run(sp, c, st, ST_META_SET)) != 0)
        goto fail;
    if ((rc = stmt_exec(sp, c, ST_COMMIT)) != 0)
        goto fail;
    return 0;
fail:
    tx_rollback(sp, c);
    return rc;
}

/* Switch the file to WAL (a no-op when it already is). */
static int wal_enable(struct sqlite_provider *sp, struct conn *c)
{
    const unsigned char *mode;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL)) != 0)
        return db_fail(sp, c->db, rc, "switch to WAL");
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = db_fail(sp, c->db, rc, "switch to WAL");
        sqlite3_finalize(st);
        return rc;
    }
    mode = sqlite3_column_text(st, 0);
    rc = 0;
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0)
        rc = actor_error_set(ACTOR_ESTORE,
                             "sqlite \"%s\": switch to WAL: the journal mode stayed \"%s\"",
                             sp->path, mode ? (const char *)mode : "");
    sqlite3_finalize(st);
    return rc;
}

/*
 * Open the writer and bring the database up. The version is read before
 * anything is written, so a file with a newer schema or a file that is no
 * database is left byte for byte as it was. The schema is created before
 * the switch to WAL: a new file then gets its header written in rollback
 * mode, under ordinary locks. (Switched first, the header of a new file
 * would sit in one process's WAL while the main file stays empty; a second
 * process opening it at that moment cannot see that it is in WAL mode and
 * waits for an exclusive lock that the first never gives up.)
 */
static int writer_open(struct sqlite_provider *sp)
{
    struct conn *c = &sp->writer;
    int64_t v;
    int rc;
    char sql[160];

    if ((rc = conn_open(sp, c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) != 0)
        return rc;
    /* Until the checks pass, closing must not checkpoint a WAL left behind
     * by someone else into the main file. */
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if ((rc = schema_version(&v, sp, c)) != 0)
        return rc;
    if (v > SCHEMA_VERSION)
        return schema_newer(sp, v);

    /* Readers never write, so synchronous matters on the writer alone. */
    snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s; PRAGMA cache_size=-%d",
             sp->sync_normal ? "NORMAL" : "FULL", WRITER_CACHE_KIB);
    if ((rc = exec_sql(sp, c->db, sql, "set pragmas")) != 0)
        return rc;
    if (v < SCHEMA_VERSION && (rc = schema_migrate(sp, c)) != 0)
        return rc;
    if (!sp->memory) {
        /* The pragma upgrades a read lock to a write lock, and SQLite does
         * not wait (busy handler) on such upgrades: two processes switching
         * at once see SQLITE_BUSY at once. Retry until the busy timeout. */
        int64_t deadline = actor__mono_ms() + sp->busy_ms;
        while ((rc = wal_enable(sp, c)) == ACTOR_ETIMEOUT && actor__mono_ms() < deadline) {
            struct timespec ts = {0, (long)(2 + (unsigned)getpid() % 7) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (rc != 0)
            return rc;
        snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint=%d; PRAGMA journal_size_limit=%lld",
                 WAL_AUTOCHECKPOINT_PAGES, (long long)JOURNAL_SIZE_LIMIT);
        if ((rc = exec_sql(sp, c->db, sql, "set pragmas")) != 0)
            return rc;
    }
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    sp->max_value = sqlite3_limit(c->db, SQLITE_LIMIT_LENGTH, -1);
    return 0;
}

static int readers_open(struct sqlite_provider *sp, unsigned int n)
{
    int rc;

    if (n == 0)
        return 0;
    sp->readers = calloc(n, sizeof(*sp->readers));
    sp->free_readers = calloc(n, sizeof(*sp->free_readers));
    if (sp->readers == NULL || sp->free_readers == NULL)
        return actor__error_oom();
    for (unsigned int i = 0; i < n; i++) {
        struct conn *c = &sp->readers[i];
        if ((rc = conn_open(sp, c, SQLITE_OPEN_READWRITE)) != 0)
            return rc;
        sp->nreaders++;
        if ((rc = exec_sql(sp, c->db, "PRAGMA query_only=1", "set pragmas")) != 0)
            return rc;
        sp->free_readers[sp->nfree++] = c;
    }
    return 0;
}

/* ---- locking ------------------------------------------------------------ */

static void deadline_after(struct timespec *ts, clockid_t clk, int64_t ms)
{
    clock_gettime(clk, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* One thread waiting for the writer connection, on its own stack. */
struct wwaiter {
    struct wwaiter *next;
    pthread_cond_t cv;
    int64_t since; /* monotonic ms it started waiting */
    int granted;   /* the connection was handed to this waiter */
};

/* How long a waiter may see others take the writer connection before it
 * asks for it in arrival order. */
#define STARVE_MS 5

static void wqueue_remove(struct sqlite_provider *sp, struct wwaiter *me)
{
    struct wwaiter **pp = &sp->whead, *prev = NULL;

    while (*pp != me) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = me->next;
    if (sp->wtail == me)
        sp->wtail = prev;
}

/* Take the writer connection, waiting at most timeout_ms. A free connection
 * goes to whoever asks, which keeps a busy writer going without a context
 * switch per transaction; but a thread that releases it and asks again at
 * once (a commit leader, a writer in a loop) could keep it from a waiting
 * reader indefinitely, so once the longest waiter has waited STARVE_MS the
 * connection is handed over in arrival order until the queue has caught
 * up. */
static int writer_lock(struct sqlite_provider *sp)
{
    struct wwaiter me;
    struct timespec ts;
    int rc = 0;

    pthread_mutex_lock(&sp->wlock);
    if (!sp->wheld && (sp->whead == NULL || !sp->wstarving)) {
        sp->wheld = 1;
        pthread_mutex_unlock(&sp->wlock);
        return 0;
    }
    me.next = NULL;
    me.granted = 0;
    me.since = actor__mono_ms();
    actor__cond_init_mono(&me.cv);
    if (sp->wtail)
        sp->wtail->next = &me;
    else
        sp->whead = &me;
    sp->wtail = &me;
    deadline_after(&ts, CLOCK_MONOTONIC, sp->timeout_ms);
    for (;;) {
        if (me.granted)
            break;
        if (!sp->wheld && !sp->wstarving) {
            wqueue_remove(sp, &me);
            sp->wheld = 1;
            me.granted = 1;
            break;
        }
        if (rc == ETIMEDOUT)
            break;
        if (sp->whead == &me && actor__mono_ms() - me.since >= STARVE_MS)
            sp->wstarving = 1;
        rc = pthread_cond_timedwait(&me.cv, &sp->wlock, &ts);
    }
    if (!me.granted) {
        wqueue_remove(sp, &me);
        if (!sp->wheld && sp->whead)
            pthread_cond_signal(&sp->whead->cv);
    } else if (sp->whead == NULL || actor__mono_ms() - me.since < STARVE_MS) {
        sp->wstarving = 0; /* caught up */
    }
    pthread_mutex_unlock(&sp->wlock);
    pthread_cond_destroy(&me.cv);
    if (me.granted)
        return 0;
    return actor_error_set(ACTOR_ETIMEOUT,
                           "sqlite \"%s\": waited %lld ms for the writer connection", sp->path,
                           (long long)sp->timeout_ms);
}

/* Give the writer connection up: straight to the longest waiter when
 * waiters starve, else to whoever takes it first (the longest waiter is
 * woken to try). */
static void writer_unlock(struct sqlite_provider *sp)
{
    struct wwaiter *w;

    pthread_mutex_lock(&sp->wlock);
    if ((w = sp->whead) != NULL && sp->wstarving) {
        wqueue_remove(sp, w);
        w->granted = 1; /* wheld stays set: the connection passes to w */
        pthread_cond_signal(&w->cv);
    } else {
        sp->wheld = 0;
        if (w != NULL)
            pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&sp->wlock);
}

/* Take a reader connection (the writer when there is no pool). */
static int reader_take(struct conn **out, struct sqlite_provider *sp)
{
    struct timespec ts;
    int rc = 0;

    if (sp->nreaders == 0) {
        if ((rc = writer_lock(sp)) != 0)
            return rc;
        *out = &sp->writer;
        return 0;
    }
    pthread_mutex_lock(&sp->plock);
    if (sp->nfree == 0) {
        deadline_after(&ts, CLOCK_MONOTONIC, sp->timeout_ms);
        while (sp->nfree == 0 && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&sp->pcond, &sp->plock, &ts);
    }
    if (sp->nfree == 0) {
        pthread_mutex_unlock(&sp->plock);
        return actor_error_set(ACTOR_ETIMEOUT,
                               "sqlite \"%s\": waited %lld ms for a reader connection", sp->path,
                               (long long)sp->timeout_ms);
    }
    *out = sp->free_readers[--sp->nfree];
    pthread_mutex_unlock(&sp->plock);
    return 0;
}

static void reader_give(struct sqlite_provider *sp, struct conn *c)
{
    if (c == &sp->writer) {
        writer_unlock(sp);
        return;
    }
    pthread_mutex_lock(&sp->plock);
    sp->free_readers[sp->nfree++] = c;
    pthread_cond_signal(&sp->pcond);
    pthread_mutex_unlock(&sp->plock);
}

/* ---- argument checks ---------------------------------------------------- */

static int check_name(const char *member, const char *what, const char *s, size_t max)
{
    int rc = actor__validate_name(what, s, max);

    if (rc)
        return actor_error_set(rc, "sqlite %s: %s", member, actor_error_last());
    return 0;
}

static int check_key(const char *member, const char *type, const char *id)
{
    int rc = check_name(member, "actor type", type, ACTOR_TYPE_NAME_MAX);

    return rc ? rc : check_name(member, "actor ID", id, ACTOR_ID_MAX);
}

static int op_check_as(const actor_store_op *op, const char *member, int64_t max_len, int64_t now)
{
    int rc;

    if (op == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite %s: op is NULL", member);
    if ((rc = check_key(member, op->type, op->id)) != 0)
        return rc;
    switch (op->kind) {
    case ACTOR_STORE_STATE_SET:
        if (op->value == NULL && op->value_len > 0)
            return actor_error_set(ACTOR_EINVAL, "sqlite %s: value is NULL with length %zu", member,
                                   op->value_len);
        if ((uint64_t)op->value_len > (uint64_t)max_len)
            return actor_error_set(ACTOR_EINVAL,
                                   "sqlite %s: value of %zu bytes is larger than SQLite's "
                                   "limit of %lld",
                                   member, op->value_len, (long long)max_len);
        if (op->ttl_ms < 0 || op->ttl_ms > INT64_MAX - now)
            return actor_error_set(ACTOR_EINVAL, "sqlite %s: bad TTL %lld ms", member,
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
        return actor_error_set(ACTOR_EINVAL, "sqlite %s: unknown op kind %d", member,
                               (int)op->kind);
    }
}

/* Check one op of an apply. The op's index goes into the message only when
 * something is wrong: formatting it for every op cost each write a
 * snprintf. */
static int op_check(const actor_store_op *op, size_t i, int64_t max_len, int64_t now)
{
    char member[48];

    if (op_check_as(op, "apply", max_len, now) == 0)
        return 0;
    snprintf(member, sizeof(member), "apply (op %zu)", i);
    return op_check_as(op, member, max_len, now);
}

/* ---- members ------------------------------------------------------------ */

/* The start of a read by key (state_get, lease_get): check the arguments,
 * take a reader connection and the statement with (type, id) bound as ?1
 * and ?2. On success the caller steps, resets and gives the reader back. */
static int keyed_read(struct conn **c, sqlite3_stmt **st, struct sqlite_provider *sp,
                      const void *out, const char *member, int stmt, const char *type,
                      const char *id)
{
    int rc;

    if (sp == NULL || out == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite %s: NULL argument", member);
    if ((rc = check_key(member, type, id)) != 0)
        return rc;
    if ((rc = reader_take(c, sp)) != 0)
        return rc;
    if ((rc = stmt_get(st, sp, *c, stmt)) != 0) {
        reader_give(sp, *c);
        return rc;
    }
    bind_text(*st, 1, type);
    bind_text(*st, 2, id);
    return 0;
}

/* ACTOR_ENOTFOUND naming what (state, lease) was not there for (type, id). */
static int not_found(const char *what, const char *type, const char *id)
{
    char qt[300], qi[300];

    actor__quote(qt, sizeof(qt), type);
    actor__quote(qi, sizeof(qi), id);
    return actor_error_set(ACTOR_ENOTFOUND, "no %s for %s \"%s\"", what, qt, qi);
}

static int sq_state_get_ttl(actor_buf *out, int64_t *ttl_ms, actor_provider *p, const char *type,
                            const char *id)
{
    struct sqlite_provider *sp = sp_of(p);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t now = actor_time_now_ms();
    int rc;

    if ((rc = keyed_read(&c, &st, sp, out, "state_get", ST_STATE_GET, type, id)) != 0)
        return rc;
    sqlite3_bind_int64(st, 3, now);
    rc = stmt_step(sp, c, st, ST_STATE_GET);
    if (rc == 1) {
        rc = actor_buf_set(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        if (ttl_ms)
            *ttl_ms = sqlite3_column_type(st, 1) == SQLITE_NULL
                          ? 0
                          : sqlite3_column_int64(st, 1) - now; /* > 0: expires_at > now */
    } else if (rc == 0) {
        rc = not_found("state", type, id);
    }
    /* Reset at once: it ends the read transaction, so checkpoints can pass. */
    sqlite3_reset(st);
    reader_give(sp, c);
    return rc;
}

static int sq_state_get(actor_buf *out, actor_provider *p, const char *type, const char *id)
{
    return sq_state_get_ttl(out, NULL, p, type, id);
}

/* ---- the fence cache -------------------------------------------------------
 * A fenced write looks up its lease row; in a batch of small writes that
 * lookup costs about a third of the transaction. But within one connection
 * the lease row can only have changed since the writer last saw the fence
 * hold if (a) another connection committed since, which SQLite's
 * data_version (read inside the write transaction, so current) tells, or
 * (b) this connection changed it: an acquire or release of that actor
 * forgets its entry, and any wider lease change (host_remove, cleanup) or a
 * rolled-back transaction forgets them all. So a fence the writer saw hold,
 * with data_version unchanged since, still holds, and the write needs no
 * lookup. */

/* At the start of a write transaction: forget every fence if another
 * connection committed since they were seen. */
static int fence_sync(struct sqlite_provider *sp, struct conn *c)
{
    sqlite3_stmt *st = NULL;
    int64_t v;
    int rc;

    if ((rc = stmt_get(&st, sp, c, ST_DATA_VERSION)) != 0)
        return rc;
    if ((rc = stmt_step(sp, c, st, ST_DATA_VERSION)) < 0)
        return rc;
    v = rc == 1 ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (v != sp->fence_version || v < 0)
        actor__fences_forget_all(&sp->fences);
    sp->fence_version = v;
    return 0;
}

static int apply_set(struct sqlite_provider *sp, struct conn *c, actor_store_op *op, int64_t now)
{
    sqlite3_stmt *st = NULL;
    enum stmt_id which = op->fence_host && !actor__fences_known(&sp->fences, op)
                             ? ST_STATE_SET_FENCED
                             : ST_STATE_SET;
    int rc;

    if ((rc = stmt_get(&st, sp, c, which)) != 0)
        return rc;
    bind_text(st, 1, op->type);
    bind_text(st, 2, op->id);
    if (op->value_len == 0)
        rc = sqlite3_bind_zeroblob(st, 3, 0);
    else
        rc = sqlite3_bind_blob64(st, 3, op->value, (sqlite3_uint64)op->value_len, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        rc = db_fail(sp, c->db, rc, "bind the state value");
        sqlite3_reset(st);
        return rc;
    }
    if (op->ttl_ms > 0)
        sqlite3_bind_int64(st, 4, now + op->ttl_ms);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, now);
    if (which == ST_STATE_SET_FENCED) {
        bind_text(st, 6, op->fence_host);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)op->fence_epoch);
    }
    if ((rc = stmt_run(sp, c, st, which)) != 0)
        return rc;
    op->result = sqlite3_changes(c->db) > 0 ? 0 : ACTOR_ELEASE;
    if (which == ST_STATE_SET_FENCED && op->result == 0)
        actor__fences_remember(&sp->fences, op);
    return 0;
}

/* 1 when the lease row of (type, id) is (host, epoch), 0 when not. */
static int fence_holds(struct sqlite_provider *sp, struct conn *c, const actor_store_op *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = stmt_get(&st, sp, c, ST_FENCE_CHECK)) != 0)
        return rc;
    bind_fenced_key(st, op);
    rc = stmt_step(sp, c, st, ST_FENCE_CHECK);
    if (rc >= 0)
        sqlite3_reset(st);
    return rc;
}

/* Delete; an expired row counts as absent (ENOTFOUND) but goes anyway. */
static int apply_delete(struct sqlite_provider *sp, struct conn *c, actor_store_op *op, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc, live = 0;

    if (op->fence_host && !actor__fences_known(&sp->fences, op)) {
        if ((rc = fence_holds(sp, c, op)) < 0)
            return rc;
        if (rc == 0) {
            op->result = ACTOR_ELEASE;
            return 0;
        }
        actor__fences_remember(&sp->fences, op);
    }
    if ((rc = stmt_get(&st, sp, c, ST_STATE_DELETE)) != 0)
        return rc;
    bind_text(st, 1, op->type);
    bind_text(st, 2, op->id);
    while ((rc = stmt_step(sp, c, st, ST_STATE_DELETE)) == 1) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL || sqlite3_column_int64(st, 0) > now)
            live = 1;
    }
    if (rc < 0)
        return rc;
    sqlite3_reset(st);
    op->result = live ? 0 : ACTOR_ENOTFOUND;
    return 0;
}

static int apply_acquire(struct sqlite_provider *sp, struct conn *c, actor_store_op *op,
                         int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc, got = 0;

    if ((rc = stmt_get(&st, sp, c, ST_LEASE_ACQUIRE)) != 0)
        return rc;
    bind_text(st, 1, op->type);
    bind_text(st, 2, op->id);
    bind_text(st, 3, op->fence_host);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, now - sp->deadline_ms);
    while ((rc = stmt_step(sp, c, st, ST_LEASE_ACQUIRE)) == 1) {
        op->out_epoch = (uint64_t)sqlite3_column_int64(st, 0);
        got = 1;
    }
    if (rc < 0)
        return rc;
    sqlite3_reset(st);
    if (got)
        return 0;

    /* A live other host holds it: say who. */
    op->result = ACTOR_ELEASE;
    if ((rc = stmt_get(&st, sp, c, ST_LEASE_HOLDER)) != 0)
        return rc;
    bind_text(st, 1, op->type);
    bind_text(st, 2, op->id);
    if ((rc = stmt_step(sp, c, st, ST_LEASE_HOLDER)) < 0)
        return rc;
    if (rc == 1) {
        rc = actor_buf_set(&op->holder_id, sqlite3_column_text(st, 0),
                           (size_t)sqlite3_column_bytes(st, 0));
        if (rc == 0)
            rc = actor_buf_set(&op->holder_addr, sqlite3_column_text(st, 1),
                               (size_t)sqlite3_column_bytes(st, 1));
    }
    sqlite3_reset(st);
    return rc;
}

static int apply_release(struct sqlite_provider *sp, struct conn *c, actor_store_op *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = stmt_get(&st, sp, c, ST_LEASE_RELEASE)) != 0)
        return rc;
    bind_fenced_key(st, op);
    if ((rc = stmt_run(sp, c, st, ST_LEASE_RELEASE)) != 0)
        return rc;
    op->result = sqlite3_changes(c->db) > 0 ? 0 : ACTOR_ENOTFOUND;
    return 0;
}

static int apply_one(struct sqlite_provider *sp, struct conn *c, actor_store_op *op, int64_t now)
{
    op->result = 0;
    op->out_epoch = 0;
    actor_buf_clear(&op->holder_id);
    actor_buf_clear(&op->holder_addr);
    switch (op->kind) {
    case ACTOR_STORE_STATE_SET:
        return apply_set(sp, c, op, now);
    case ACTOR_STORE_STATE_DELETE:
        return apply_delete(sp, c, op, now);
    case ACTOR_STORE_LEASE_ACQUIRE:
        actor__fences_forget(&sp->fences, op->type, op->id);
        return apply_acquire(sp, c, op, now);
    case ACTOR_STORE_LEASE_RELEASE:
        actor__fences_forget(&sp->fences, op->type, op->id);
        return apply_release(sp, c, op);
    }
    return actor_error_set(ACTOR_EINVAL, "sqlite apply: unknown op kind %d", (int)op->kind);
}

/* Apply the chunks `next` gives in one transaction (see apply_stream in
 * sys/provider.h). Unless `checked`, each chunk is checked whole before any
 * of its ops runs; any failure rolls everything back. */
static int tx_stream(struct sqlite_provider *sp, actor_store_next_fn next, void *arg, int checked)
{
    struct conn *c = &sp->writer;
    size_t done = 0;
    int64_t now;
    int rc;

    if ((rc = writer_lock(sp)) != 0)
        return rc;
    now = actor_time_now_ms();
    if ((rc = stmt_exec(sp, c, ST_BEGIN)) != 0)
        goto out;
    rc = fence_sync(sp, c);
    while (rc == 0) {
        actor_store_op **ops = NULL;
        size_t n = 0;

        if ((rc = next(arg, &ops, &n)) != 0 || n == 0)
            break;
        if (ops == NULL) {
            rc = actor_error_set(ACTOR_EINVAL, "sqlite apply: a chunk of %zu ops is NULL", n);
            break;
        }
        for (size_t i = 0; i < n && rc == 0 && !checked; i++)
            rc = op_check(ops[i], done + i, sp->max_value, now);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = apply_one(sp, c, ops[i], now);
        done += n;
    }
    if (rc == 0)
        rc = stmt_exec(sp, c, ST_COMMIT);
    if (rc != 0) {
        /* What this transaction saw of the fences is undone with it. */
        tx_rollback(sp, c);
        actor__fences_forget_all(&sp->fences);
    }
out:
    writer_unlock(sp);
    return rc;
}

static int sq_apply_stream(actor_provider *p, actor_store_next_fn next, void *arg)
{
    struct sqlite_provider *sp = sp_of(p);

    if (sp == NULL || next == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite apply: NULL argument");
    return tx_stream(sp, next, arg, 0);
}

/* apply(): the whole batch as the one chunk of a stream. */
struct one_chunk {
    actor_store_op **ops;
    size_t n;
};

static int one_chunk_next(void *arg, actor_store_op ***ops, size_t *n)
{
    struct one_chunk *oc = arg;

    *ops = oc->ops;
    *n = oc->n;
    oc->n = 0;
    return 0;
}

static int sq_apply(actor_provider *p, actor_store_op **ops, size_t n)
{
    struct sqlite_provider *sp = sp_of(p);
    struct one_chunk oc = {ops, n};
    int64_t now = actor_time_now_ms();
    int rc;

    if (sp == NULL || (ops == NULL && n > 0))
        return actor_error_set(ACTOR_EINVAL, "sqlite apply: NULL argument");
    if (n == 0)
        return 0;
    /* Check the whole batch before touching the store. */
    for (size_t i = 0; i < n; i++)
        if ((rc = op_check(ops[i], i, sp->max_value, now)) != 0)
            return rc;
    return tx_stream(sp, one_chunk_next, &oc, 1);
}

static int sq_host_register(actor_provider *p, const char *host_id, const char *address)
{
    struct sqlite_provider *sp = sp_of(p);
    sqlite3_stmt *st = NULL;
    int rc;

    if (sp == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite host_register: NULL provider");
    if ((rc = check_name("host_register", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    if (address == NULL)
        address = "";
    if (strlen(address) > ACTOR_HOST_ADDRESS_MAX || !actor_utf8_valid(address, strlen(address)))
        return check_name("host_register", "host address", address, ACTOR_HOST_ADDRESS_MAX);
    if ((rc = writer_lock(sp)) != 0)
        return rc;
    if ((rc = stmt_get(&st, sp, &sp->writer, ST_HOST_REGISTER)) == 0) {
        bind_text(st, 1, host_id);
        bind_text(st, 2, address);
        sqlite3_bind_int64(st, 3, actor_time_now_ms());
        rc = stmt_run(sp, &sp->writer, st, ST_HOST_REGISTER);
    }
    writer_unlock(sp);
    return rc;
}

static int sq_host_heartbeat(actor_provider *p, const char *host_id)
{
    struct sqlite_provider *sp = sp_of(p);
    sqlite3_stmt *st = NULL;
    int rc;

    if (sp == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite host_heartbeat: NULL provider");
    if ((rc = check_name("host_heartbeat", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    if ((rc = writer_lock(sp)) != 0)
        return rc;
    if ((rc = stmt_get(&st, sp, &sp->writer, ST_HOST_HEARTBEAT)) == 0) {
        int64_t now = actor_time_now_ms();
        bind_text(st, 1, host_id);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, now - sp->deadline_ms);
        rc = stmt_run(sp, &sp->writer, st, ST_HOST_HEARTBEAT);
        if (rc == 0 && sqlite3_changes(sp->writer.db) == 0) {
            char q[300];
            actor__quote(q, sizeof(q), host_id);
            rc = actor_error_set(ACTOR_ENOTFOUND,
                                 "sqlite heartbeat: host \"%s\" is dead: its row in %shosts is "
                                 "gone or its last heartbeat is older than %lld ms; it must "
                                 "register again",
                                 q, sp->prefix, (long long)sp->deadline_ms);
        }
    }
    writer_unlock(sp);
    return rc;
}

static int sq_host_remove(actor_provider *p, const char *host_id)
{
    struct sqlite_provider *sp = sp_of(p);
    struct conn *c = &sp->writer;
    sqlite3_stmt *st = NULL;
    int rc;

    if (sp == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite host_remove: NULL provider");
    if ((rc = check_name("host_remove", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    if ((rc = writer_lock(sp)) != 0)
        return rc;
    if ((rc = stmt_exec(sp, c, ST_BEGIN)) != 0)
        goto out;
    actor__fences_forget_all(&sp->fences); /* the host's leases go */
    if ((rc = stmt_get(&st, sp, c, ST_HOST_LEASES_DELETE)) == 0) {
        bind_text(st, 1, host_id);
        rc = stmt_run(sp, c, st, ST_HOST_LEASES_DELETE);
    }
    if (rc == 0 && (rc = stmt_get(&st, sp, c, ST_HOST_DELETE)) == 0) {
        bind_text(st, 1, host_id);
        rc = stmt_run(sp, c, st, ST_HOST_DELETE);
    }
    if (rc == 0)
        rc = stmt_exec(sp, c, ST_COMMIT);
    if (rc != 0)
        tx_rollback(sp, c);
out:
    writer_unlock(sp);
    return rc;
}

static int sq_lease_get(actor_lease_info *out, actor_provider *p, const char *type, const char *id)
{
    struct sqlite_provider *sp = sp_of(p);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = keyed_read(&c, &st, sp, out, "lease_get", ST_LEASE_GET, type, id)) != 0)
        return rc;
    rc = stmt_step(sp, c, st, ST_LEASE_GET);
    if (rc == 1) {
        int64_t now = actor_time_now_ms();
        rc = actor_buf_set(&out->host_id, sqlite3_column_text(st, 0),
                           (size_t)sqlite3_column_bytes(st, 0));
        if (rc == 0)
            rc = actor_buf_set(&out->address, sqlite3_column_text(st, 2),
                               (size_t)sqlite3_column_bytes(st, 2));
        out->epoch = (uint64_t)sqlite3_column_int64(st, 1);
        out->holder_alive = sqlite3_column_type(st, 3) != SQLITE_NULL &&
                            now - sqlite3_column_int64(st, 3) <= sp->deadline_ms;
    } else if (rc == 0) {
        rc = not_found("lease", type, id);
    }
    sqlite3_reset(st);
    reader_give(sp, c);
    return rc;
}

/* Run one bounded purge statement (its own transaction); add what it
 * deleted to *count. */
static int purge(size_t *count, struct sqlite_provider *sp, enum stmt_id id, int64_t cutoff,
                 int64_t limit)
{
    struct conn *c = &sp->writer;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = writer_lock(sp)) != 0)
        return rc;
    actor__fences_forget_all(&sp->fences); /* leases may go */
    if ((rc = stmt_get(&st, sp, c, id)) == 0) {
        sqlite3_bind_int64(st, 1, cutoff);
        sqlite3_bind_int64(st, 2, limit);
        if ((rc = stmt_run(sp, c, st, id)) == 0)
            *count += (size_t)sqlite3_changes(c->db);
    }
    writer_unlock(sp);
    return rc;
}

static int sq_cleanup(actor_cleanup_counts *out, actor_provider *p, size_t limit)
{
    struct sqlite_provider *sp = sp_of(p);
    int64_t lim;
    int rc;

    if (sp == NULL || out == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite cleanup: NULL argument");
    if (limit == 0)
        return 0;
    lim = limit > (size_t)INT_MAX ? INT_MAX : (int64_t)limit;
    /* Leases before hosts, so a dead host loses its leases and then its row
     * in the same call. Each purge re-reads the clock. */
    if ((rc = purge(&out->expired_state, sp, ST_CLEAN_STATE, actor_time_now_ms(), lim)) != 0)
        return rc;
    if ((rc = purge(&out->dead_leases, sp, ST_CLEAN_LEASES, actor_time_now_ms() - sp->deadline_ms,
                    lim)) != 0)
        return rc;
    return purge(&out->dead_hosts, sp, ST_CLEAN_HOSTS, actor_time_now_ms() - sp->deadline_ms, lim);
}

static int sq_job_claim(actor_provider *p, const char *job, const char *host_id,
                        int64_t interval_ms)
{
    struct sqlite_provider *sp = sp_of(p);
    sqlite3_stmt *st = NULL;
    int64_t now;
    int rc;

    if (sp == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite job_claim: NULL provider");
    if ((rc = check_name("job_claim", "job name", job, ACTOR_TYPE_NAME_MAX)) != 0 ||
        (rc = check_name("job_claim", "host ID", host_id, ACTOR_HOST_ID_MAX)) != 0)
        return rc;
    if (interval_ms < 0)
        return actor_error_set(ACTOR_EINVAL, "sqlite job_claim: negative interval %lld ms",
                               (long long)interval_ms);
    if ((rc = writer_lock(sp)) != 0)
        return rc;
    now = actor_time_now_ms();
    if ((rc = stmt_get(&st, sp, &sp->writer, ST_JOB_CLAIM)) == 0) {
        bind_text(st, 1, job);
        bind_text(st, 2, host_id);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int64(st, 4, interval_ms > now ? INT64_MIN : now - interval_ms);
        if ((rc = stmt_run(sp, &sp->writer, st, ST_JOB_CLAIM)) == 0)
            rc = sqlite3_changes(sp->writer.db) > 0 ? 1 : 0;
    }
    writer_unlock(sp);
    return rc;
}

static void sq_free(actor_provider *p)
{
    struct sqlite_provider *sp = sp_of(p);

    if (sp == NULL)
        return;
    /* Readers first: the writer, closing last, checkpoints the WAL. */
    for (size_t i = 0; i < sp->nreaders; i++)
        conn_close(&sp->readers[i]);
    conn_close(&sp->writer);
    actor__fences_dispose(&sp->fences);
    free(sp->readers);
    free(sp->free_readers);
    for (int i = 0; i < ST_COUNT; i++)
        free(sp->sql[i]);
    if (sp->locks_ready) {
        pthread_mutex_destroy(&sp->wlock);
        pthread_mutex_destroy(&sp->plock);
        pthread_cond_destroy(&sp->pcond);
    }
    free(sp->path);
    free(sp);
}

/* ---- store URL ------------------------------------------------------------
 * sqlite:PATH[?OPTIONS]. The first '?' starts the options; PATH before it is
 * percent-decoded (%XX), so that a file name holding '?' or '%' is still
 * expressible. OPTIONS is KEY=VALUE pairs joined by '&', taken literally;
 * an empty query ("sqlite:a.db?") means no options. */

struct store_url {
    char *path;      /* decoded; owned */
    int sync_normal; /* synchronous=normal */
    int64_t busy_ms; /* busy_timeout_ms, or -1 when not given */
};

#define OPTION_NAMES "synchronous, busy_timeout_ms"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Quote the n bytes at s (not NUL-terminated) for a message. */
static void quote_span(char *dst, size_t size, const char *s, size_t n)
{
    char tmp[80];

    if (n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    actor__quote(dst, size, tmp);
}

static int span_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Like span_is, ignoring ASCII case (SQLite's own comparison). */
static int span_is_nocase(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && sqlite3_strnicmp(s, word, (int)n) == 0;
}

/* Decode the n bytes of PATH at s into u->path. */
static int url_path(struct store_url *u, const char *url, const char *s, size_t n)
{
    char q[300], qe[32];
    size_t o = 0;

    if ((u->path = malloc(n + 1)) == NULL)
        return actor__error_oom();
    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] != '%') {
            u->path[o++] = s[i];
            continue;
        }
        hi = i + 1 < n ? hex_value(s[i + 1]) : -1;
        lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            actor__quote(q, sizeof(q), url);
            quote_span(qe, sizeof(qe), s + i, n - i < 3 ? n - i : 3);
            if (hi == 0 && lo == 0)
                return actor_error_set(ACTOR_EINVAL,
                                       "store URL \"%s\": escape \"%s\" in the path: a file name "
                                       "cannot hold a NUL byte",
                                       q, qe);
            return actor_error_set(ACTOR_EINVAL,
                                   "store URL \"%s\": bad escape \"%s\" in the path: expected %% "
                                   "and two hex digits (%%25 for %%, %%3F for ?)",
                                   q, qe);
        }
        u->path[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    u->path[o] = '\0';
    return 0;
}

/* Apply one option KEY=VALUE (the n bytes at s); `seen` holds one bit per
 * option already given. */
static int url_option(struct store_url *u, unsigned *seen, const char *url, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t klen = eq ? (size_t)(eq - s) : n, vlen = eq ? n - klen - 1 : 0;
    const char *v = eq ? eq + 1 : s + n;
    char q[300], qk[300], qv[300];
    unsigned bit;

    actor__quote(q, sizeof(q), url);
    quote_span(qk, sizeof(qk), s, klen);
    quote_span(qv, sizeof(qv), v, vlen);
    if (n == 0)
        return actor_error_set(ACTOR_EINVAL,
                               "store URL \"%s\": empty option (nothing between '?' or '&' and "
                               "the next '&' or the end)",
                               q);
    if (span_is(s, klen, "synchronous"))
        bit = 1;
    else if (span_is(s, klen, "busy_timeout_ms"))
        bit = 2;
    else
        return actor_error_set(ACTOR_EINVAL,
                               "store URL \"%s\": unknown option \"%s\" (known: " OPTION_NAMES ")",
                               q, qk);
    if (*seen & bit)
        return actor_error_set(ACTOR_EINVAL, "store URL \"%s\": option %s is given twice", q, qk);
    *seen |= bit;
    if (eq == NULL)
        return actor_error_set(
            ACTOR_EINVAL, "store URL \"%s\": option %s has no '=' (expected %s=VALUE)", q, qk, qk);
    if (vlen == 0)
        return actor_error_set(ACTOR_EINVAL, "store URL \"%s\": option %s has an empty value", q,
                               qk);

    if (bit == 1) {
        if (span_is_nocase(v, vlen, "full")) {
            u->sync_normal = 0;
        } else if (span_is_nocase(v, vlen, "normal")) {
            u->sync_normal = 1;
        } else if (span_is_nocase(v, vlen, "off")) {
            return actor_error_set(ACTOR_EINVAL,
                                   "store URL \"%s\": option synchronous=off is refused: it breaks "
                                   "the durability contract (an OS crash or power failure could "
                                   "lose or corrupt committed writes); use normal or full",
                                   q);
        } else {
            return actor_error_set(ACTOR_EINVAL,
                                   "store URL \"%s\": option synchronous: \"%s\" is not full or "
                                   "normal",
                                   q, qv);
        }
        return 0;
    }
    u->busy_ms = 0;
    for (size_t i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9' || u->busy_ms > (INT_MAX - (v[i] - '0')) / 10)
            return actor_error_set(ACTOR_EINVAL,
                                   "store URL \"%s\": option busy_timeout_ms: \"%s\" is not an "
                                   "integer from 0 to %d",
                                   q, qv, INT_MAX);
        u->busy_ms = u->busy_ms * 10 + (v[i] - '0');
    }
    return 0;
}

/* Parse "sqlite:PATH[?OPTIONS]" into u; on failure u->path may be set and
 * is the caller's to free. */
static int url_parse(struct store_url *u, const char *url)
{
    const char *path = url + 7, *qm = NULL;
    size_t plen = 0;
    unsigned seen = 0;
    char q[300];
    int rc;

    u->path = NULL;
    u->sync_normal = 0;
    u->busy_ms = -1;
    if (strncmp(url, "sqlite:", 7) == 0) {
        qm = strchr(path, '?');
        plen = qm ? (size_t)(qm - path) : strlen(path);
    }
    if (plen == 0) {
        actor__quote(q, sizeof(q), url);
        return actor_error_set(ACTOR_EINVAL,
                               "store URL \"%s\": expected sqlite:PATH or sqlite::memory:, "
                               "optionally followed by ?OPTIONS",
                               q);
    }
    if ((rc = url_path(u, url, path, plen)) != 0)
        return rc;
    if (qm == NULL || qm[1] == '\0')
        return 0;
    for (const char *s = qm + 1;;) {
        const char *amp = strchr(s, '&');
        size_t n = amp ? (size_t)(amp - s) : strlen(s);
        if ((rc = url_option(u, &seen, url, s, n)) != 0)
            return rc;
        if (amp == NULL)
            return 0;
        s = amp + 1;
    }
}

/* ---- open --------------------------------------------------------------- */

static int locks_init(struct sqlite_provider *sp)
{
    pthread_condattr_t ca;

    if (pthread_mutex_init(&sp->wlock, NULL) != 0)
        return actor_error_set(ACTOR_ERROR, "sqlite: cannot create a mutex");
    if (pthread_mutex_init(&sp->plock, NULL) != 0) {
        pthread_mutex_destroy(&sp->wlock);
        return actor_error_set(ACTOR_ERROR, "sqlite: cannot create a mutex");
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&sp->pcond, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&sp->wlock);
        pthread_mutex_destroy(&sp->plock);
        return actor_error_set(ACTOR_ERROR, "sqlite: cannot create a condition variable");
    }
    pthread_condattr_destroy(&ca);
    sp->locks_ready = 1;
    return 0;
}

int actor__sqlite_provider_open(actor_provider **out, const actor_provider_config *config)
{
    struct sqlite_provider *sp;
    struct store_url u;
    char q[300];
    int rc;

    if (out == NULL || config == NULL || config->url == NULL)
        return actor_error_set(ACTOR_EINVAL, "sqlite provider: NULL argument");
    *out = NULL;
    if ((rc = url_parse(&u, config->url)) != 0) {
        free(u.path);
        return rc;
    }
    if (!prefix_valid(config->table_prefix)) {
        free(u.path);
        actor__quote(q, sizeof(q), config->table_prefix);
        return actor_error_set(ACTOR_EINVAL,
                               "sqlite: table prefix \"%s\" is not [A-Za-z_][A-Za-z0-9_]* of at "
                               "most 32 bytes",
                               q);
    }
    if (!sqlite3_threadsafe()) {
        free(u.path);
        return actor_error_set(ACTOR_ESTORE, "sqlite: the SQLite library was built without "
                                             "thread support (SQLITE_THREADSAFE=0)");
    }

    sp = calloc(1, sizeof(*sp));
    if (sp == NULL) {
        free(u.path);
        return actor__error_oom();
    }
    sp->path = u.path;
    sp->fence_version = -1;
    sp->base.version = ACTOR_PROVIDER_VERSION;
    sp->base.name = "sqlite";
    sp->base.free = sq_free;
    sp->base.state_get = sq_state_get;
    sp->base.state_get_ttl = sq_state_get_ttl;
    sp->base.apply = sq_apply;
    sp->base.apply_stream = sq_apply_stream;
    sp->base.host_register = sq_host_register;
    sp->base.host_heartbeat = sq_host_heartbeat;
    sp->base.host_remove = sq_host_remove;
    sp->base.lease_get = sq_lease_get;
    sp->base.cleanup = sq_cleanup;
    sp->base.job_claim = sq_job_claim;
    /* SQLite opens a private in-memory database for this name, however it
     * was spelled in the URL. */
    sp->memory = strcmp(sp->path, ":memory:") == 0;
    snprintf(sp->prefix, sizeof(sp->prefix), "%s", config->table_prefix);
    sp->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : DEFAULT_TIMEOUT_MS;
    sp->busy_ms = u.busy_ms >= 0 ? u.busy_ms : sp->timeout_ms;
    sp->sync_normal = u.sync_normal;
    sp->deadline_ms =
        config->lease_deadline_ms > 0 ? config->lease_deadline_ms : DEFAULT_DEADLINE_MS;
    for (int i = 0; i < ST_COUNT; i++) {
        if ((sp->sql[i] = sql_expand(stmt_defs[i].sql, sp->prefix)) == NULL) {
            sq_free(&sp->base);
            return actor__error_oom();
        }
    }
    if ((rc = locks_init(sp)) != 0)
        goto fail;
    if ((rc = writer_open(sp)) != 0)
        goto fail;
    /* A private in-memory database lives in its one connection. */
    if (!sp->memory &&
        (rc = readers_open(sp,
                           config->pool_size > MAX_READERS ? MAX_READERS : config->pool_size)) != 0)
        goto fail;
    *out = &sp->base;
    return 0;
fail:
    sq_free(&sp->base);
    return rc;
}
