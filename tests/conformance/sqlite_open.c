/*
 * sqlite_open.c: what only the SQLite provider does: opening files (newer
 * schema, not a database, unopenable path, reopen), the settings it leaves
 * on the file (WAL, schema version), table prefixes sharing one file,
 * several connections, threads and processes writing one file, the busy
 * timeout, reads without a reader pool, the purge of orphan leases, and the
 * store URL's percent-decoded path and query options (synchronous, counted
 * in fsyncs through a shim VFS; busy_timeout_ms). Talks to the file with
 * SQLite directly where the provider cannot show it.
 */
#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <pthread.h>
#include <sys/wait.h>

#include <sqlite3.h>

#include "test.h"

static void config_init(actor_provider_config *cfg, const char *url, const char *prefix)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->version = ACTOR_PROVIDER_CONFIG_VERSION;
    cfg->url = url;
    cfg->table_prefix = prefix;
    cfg->timeout_ms = 10000;
    cfg->pool_size = 2;
    cfg->lease_deadline_ms = 10000;
}

static int open_store(actor_provider **out, const char *url, const char *prefix)
{
    actor_provider_config cfg;
    config_init(&cfg, url, prefix);
    return actor_provider_open(out, &cfg);
}

static int put(actor_provider *p, const char *type, const char *id, const char *val)
{
    actor_store_op op = {.kind = ACTOR_STORE_STATE_SET};
    actor_store_op *ops[1] = {&op};
    int rc;

    op.type = type;
    op.id = id;
    op.value = val;
    op.value_len = strlen(val);
    rc = p->apply(p, ops, 1);
    return rc ? rc : op.result;
}

static int has(actor_provider *p, const char *type, const char *id, const char *want)
{
    actor_buf b = ACTOR_BUF_INIT;
    int ok = p->state_get(&b, p, type, id) == 0 && b.size == strlen(want) &&
             memcmp(b.ptr, want, b.size) == 0;
    actor_buf_dispose(&b);
    return ok;
}

/* Read a whole file into a malloc'd buffer; NULL when it cannot be read. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (f == NULL)
        return NULL;
    do {
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    T_ASSERT(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;

    T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        T_FAIL("%s: %s", sql, err);
    sqlite3_free(err);
    sqlite3_close(db);
}

/* The first column of the first row of `sql`, as text, in buf. */
static const char *raw_query(char *buf, size_t size, const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    buf[0] = '\0';
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0))
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return buf;
}

static void test_bad_urls(void)
{
    actor_provider *p = NULL;
    actor_provider_config cfg;

    T_EQ(open_store(&p, "sqlite:", "t_"), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "\"sqlite:\"");
    T_CHECK(p == NULL);
    T_EQ(open_store(&p, "sqlitex:/tmp/x.db", "t_"), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "sqlitex:/tmp/x.db");
    /* A prefix that would not be a safe SQL name. */
    T_EQ(open_store(&p, "sqlite::memory:", "x; DROP TABLE y; --"), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "prefix");
    config_init(&cfg, "sqlite::memory:", "t_");
    cfg.version = 99;
    T_EQ(actor_provider_open(&p, &cfg), ACTOR_EINVAL);
}

static void test_newer_schema(void)
{
    char path[600], url[700], buf[64];
    unsigned char *before, *after;
    size_t nb = 0, na = 0;
    actor_provider *p = NULL;

    t_tmp_path(path, sizeof(path), "newer.db");
    t_sqlite_url_of(url, sizeof(url), path);
    T_OK(open_store(&p, url, "s_"));
    T_OK(put(p, "t", "a", "kept"));
    actor_provider_free(p);
    p = NULL;
    T_STREQ(
        raw_query(buf, sizeof(buf), path, "SELECT value FROM s_meta WHERE key = 'schema_version'"),
        "1");
    /* Back to a rollback journal, so that switching to WAL (a write to the
     * header) before the version check would show in the bytes. */
    raw_exec(path, "UPDATE s_meta SET value = '99' WHERE key = 'schema_version'; "
                   "PRAGMA journal_mode = DELETE");
    T_STREQ(raw_query(buf, sizeof(buf), path, "PRAGMA journal_mode"), "delete");

    before = slurp(path, &nb);
    T_ASSERT(before != NULL && nb > 0);
    T_EQ(open_store(&p, url, "s_"), ACTOR_ESCHEMA);
    T_CHECK(p == NULL);
    T_CONTAINS(actor_error_last(), "schema version 99");
    T_CONTAINS(actor_error_last(), "schema version 1;");
    T_CONTAINS(actor_error_last(), path);
    after = slurp(path, &na);
    T_ASSERT(after != NULL);
    T_EQ(na, nb);
    T_CHECK(na == nb && memcmp(before, after, nb) == 0);
    free(after);
    free(before);

    /* Another prefix in the same file has its own schema and version. */
    T_OK(open_store(&p, url, "other_"));
    T_OK(put(p, "t", "a", "other"));
    actor_provider_free(p);
}

static void check_garbage(const char *name, const char *content, size_t len)
{
    char path[600], url[700];
    unsigned char *after;
    size_t na = 0;
    actor_provider *p = NULL;

    t_tmp_path(path, sizeof(path), name);
    t_sqlite_url_of(url, sizeof(url), path);
    write_file(path, content, len);
    T_EQ(open_store(&p, url, "g_"), ACTOR_ESTORE);
    T_CHECK(p == NULL);
    T_CONTAINS(actor_error_last(), path);
    T_CONTAINS(actor_error_last(), "not a database");
    after = slurp(path, &na);
    T_ASSERT(after != NULL);
    T_EQ(na, len);
    T_CHECK(na == len && memcmp(content, after, len) == 0);
    free(after);
}

static void test_garbage_file(void)
{
    size_t n = 8192;
    char *junk = malloc(n);

    T_ASSERT(junk != NULL);
    for (size_t i = 0; i < n; i++)
        junk[i] = "this is not a database, only text\n"[i % 34];
    check_garbage("garbage.db", junk, n);
    check_garbage("short.db", "garbage!", 8);
    free(junk);
}

static void test_unopenable_path(void)
{
    char dir[600], path[700], url[800];
    struct stat stbuf;
    actor_provider *p = NULL;

    t_tmp_path(dir, sizeof(dir), "no-such-dir");
    snprintf(path, sizeof(path), "%s/sub/x.db", dir);
    t_sqlite_url_of(url, sizeof(url), path);
    T_EQ(open_store(&p, url, "u_"), ACTOR_ESTORE);
    T_CHECK(p == NULL);
    T_CONTAINS(actor_error_last(), path);
    T_CHECK(stat(dir, &stbuf) != 0);

    /* A directory is not a database file either. */
    t_tmp_path(dir, sizeof(dir), "a-directory");
    T_ASSERT(mkdir(dir, 0700) == 0);
    t_sqlite_url_of(url, sizeof(url), dir);
    T_EQ(open_store(&p, url, "u_"), ACTOR_ESTORE);
    T_CONTAINS(actor_error_last(), dir);
}

static void test_reopen_keeps_data(void)
{
    char path[600], url[700], buf[64];
    actor_provider *p = NULL;

    t_sqlite_url(url, sizeof(url), "reopen.db");
    t_tmp_path(path, sizeof(path), "reopen.db");
    T_OK(open_store(&p, url, "r_"));
    T_OK(put(p, "t", "a", "one"));
    T_OK(p->host_register(p, "h1", "addr"));
    actor_provider_free(p);
    p = NULL;
    T_STREQ(raw_query(buf, sizeof(buf), path, "PRAGMA journal_mode"), "wal");
    T_OK(open_store(&p, url, "r_"));
    T_CHECK(has(p, "t", "a", "one"));
    T_OK(p->host_heartbeat(p, "h1"));
    actor_provider_free(p);
    p = NULL;

    /* The in-memory store is private to its provider. */
    T_OK(open_store(&p, "sqlite::memory:", "r_"));
    {
        actor_provider *q = NULL;
        T_OK(open_store(&q, "sqlite::memory:", "r_"));
        T_OK(put(p, "t", "a", "mine"));
        T_CHECK(!has(q, "t", "a", "mine"));
        actor_provider_free(q);
    }
    T_CHECK(has(p, "t", "a", "mine"));
    actor_provider_free(p);
}

static void test_no_reader_pool(void)
{
    actor_provider_config cfg;
    actor_provider *p = NULL;
    actor_lease_info li = {0};
    char url[700];

    config_init(&cfg, t_sqlite_url(url, sizeof(url), "nopool.db"), "n_");
    cfg.pool_size = 0;
    T_OK(actor_provider_open(&p, &cfg));
    T_OK(put(p, "t", "a", "v"));
    T_CHECK(has(p, "t", "a", "v"));
    T_EQ(p->lease_get(&li, p, "t", "a"), ACTOR_ENOTFOUND);
    actor_provider_free(p);
}

struct writer_arg {
    actor_provider *p;
    int no;
    int failures;
    char msg[300];
};

static void *writer_main(void *arg)
{
    struct writer_arg *w = arg;
    char id[32], val[32];

    for (int i = 0; i < 200 && !w->failures; i++) {
        actor_store_op ops[5], *pp[5];
        char ids[5][32];
        snprintf(val, sizeof(val), "%d", i);
        for (int k = 0; k < 5; k++) {
            snprintf(ids[k], sizeof(ids[k]), "c%d-%d", w->no, k);
            memset(&ops[k], 0, sizeof(ops[k]));
            ops[k].kind = ACTOR_STORE_STATE_SET;
            ops[k].type = "t";
            ops[k].id = ids[k];
            ops[k].value = val;
            ops[k].value_len = strlen(val);
            pp[k] = &ops[k];
        }
        if (w->p->apply(w->p, pp, 5) != 0) {
            w->failures++;
            snprintf(w->msg, sizeof(w->msg), "apply: %s", actor_error_last());
        }
        snprintf(id, sizeof(id), "c%d-%d", 1 - w->no, i % 5);
        {
            actor_buf b = ACTOR_BUF_INIT;
            int rc = w->p->state_get(&b, w->p, "t", id);
            if (rc != 0 && rc != ACTOR_ENOTFOUND) {
                w->failures++;
                snprintf(w->msg, sizeof(w->msg), "state_get: %s", actor_error_last());
            }
            actor_buf_dispose(&b);
        }
    }
    return NULL;
}

static void test_two_connections_two_threads(void)
{
    char url[700];
    struct writer_arg w[2] = {{.no = 0}, {.no = 1}};
    pthread_t th[2];
    actor_provider *check = NULL;

    t_sqlite_url(url, sizeof(url), "shared.db");
    T_OK(open_store(&w[0].p, url, "c_"));
    T_OK(open_store(&w[1].p, url, "c_"));
    for (int i = 0; i < 2; i++)
        T_ASSERT(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures)
            T_FAIL("writer %d: %s", i, w[i].msg);
    }
    T_OK(open_store(&check, url, "c_"));
    for (int k = 0; k < 5; k++) {
        char id[32];
        snprintf(id, sizeof(id), "c0-%d", k);
        T_CHECK(has(check, "t", id, "199"));
        snprintf(id, sizeof(id), "c1-%d", k);
        T_CHECK(has(check, "t", id, "199"));
    }
    actor_provider_free(check);
    actor_provider_free(w[0].p);
    actor_provider_free(w[1].p);
}

/* Several processes open one new file at the same instant (released
 * together from a pipe), so that schema creation and the switch to WAL
 * race, and then write it concurrently. Several rounds, each on a fresh
 * file, since the opening race is a matter of timing. */
enum { PROCS = 4, ROUNDS = 4 };

static void test_processes_share_file(void)
{
    for (int round = 0; round < ROUNDS; round++) {
        char url[700], name[32], go[PROCS];
        struct writer_arg w = {.no = 0};
        actor_provider *check = NULL;
        pid_t pids[PROCS];
        int fds[2];

        snprintf(name, sizeof(name), "procs%d.db", round);
        t_sqlite_url(url, sizeof(url), name);
        T_ASSERT(pipe(fds) == 0);
        fflush(NULL);
        for (int k = 1; k < PROCS; k++) {
            pids[k] = fork();
            T_ASSERT(pids[k] >= 0);
            if (pids[k] == 0) {
                struct writer_arg cw = {.no = k};
                char c;
                close(fds[1]);
                if (read(fds[0], &c, 1) != 1)
                    _exit(2);
                if (open_store(&cw.p, url, "p_") != 0) {
                    fprintf(stderr, "process %d: open: %s\n", k, actor_error_last());
                    _exit(1);
                }
                writer_main(&cw);
                if (cw.failures)
                    fprintf(stderr, "process %d: %s\n", k, cw.msg);
                actor_provider_free(cw.p);
                _exit(cw.failures ? 1 : 0);
            }
        }
        close(fds[0]);
        memset(go, 'g', sizeof(go));
        T_ASSERT(write(fds[1], go, PROCS - 1) == PROCS - 1);
        close(fds[1]);
        if (open_store(&w.p, url, "p_") == 0) {
            writer_main(&w);
            actor_provider_free(w.p);
        } else {
            w.failures = 1;
            snprintf(w.msg, sizeof(w.msg), "open: %s", actor_error_last());
        }
        for (int k = 1; k < PROCS; k++) {
            int status = 0;
            T_ASSERT(waitpid(pids[k], &status, 0) == pids[k]);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                T_FAIL("round %d: process %d failed", round, k);
        }
        if (w.failures)
            T_FAIL("round %d: process 0: %s", round, w.msg);
        T_OK(open_store(&check, url, "p_"));
        for (int k = 0; k < PROCS; k++) {
            char id[32];
            snprintf(id, sizeof(id), "c%d-4", k);
            T_CHECK(has(check, "t", id, "199"));
        }
        actor_provider_free(check);
    }
}

static void test_busy_timeout(void)
{
    char path[600], url[700];
    actor_provider_config cfg;
    actor_provider *p = NULL;
    sqlite3 *db = NULL;
    int64_t t0, took;

    t_tmp_path(path, sizeof(path), "busy.db");
    t_sqlite_url_of(url, sizeof(url), path);
    config_init(&cfg, url, "b_");
    cfg.timeout_ms = 200;
    T_OK(actor_provider_open(&p, &cfg));
    T_OK(put(p, "t", "a", "before"));

    /* Someone else holds the write lock for longer than our timeout. */
    T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    t0 = t_now_ms();
    T_EQ(put(p, "t", "a", "blocked"), ACTOR_ETIMEOUT);
    took = t_now_ms() - t0;
    T_CONTAINS(actor_error_last(), "locked");
    T_CHECK(took >= 150 && took < 5000);
    /* Reads go on meanwhile (WAL). */
    T_CHECK(has(p, "t", "a", "before"));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);

    T_OK(put(p, "t", "a", "after"));
    T_CHECK(has(p, "t", "a", "after"));
    actor_provider_free(p);
}

static void test_failed_batch_rolls_back(void)
{
    char path[600], url[700];
    actor_provider *p = NULL;
    actor_store_op ops[3];
    actor_store_op *pp[3] = {&ops[0], &ops[1], &ops[2]};

    t_tmp_path(path, sizeof(path), "rollback.db");
    t_sqlite_url_of(url, sizeof(url), path);
    T_OK(open_store(&p, url, "f_"));
    T_OK(put(p, "t", "a", "old"));
    /* Make the store itself fail on one row, in the middle of a batch. */
    raw_exec(path, "CREATE TRIGGER f_boom BEFORE INSERT ON f_state WHEN NEW.actor_id = 'boom' "
                   "BEGIN SELECT RAISE(ABORT, 'boom trigger'); END");
    memset(ops, 0, sizeof(ops));
    for (int i = 0; i < 3; i++) {
        ops[i].kind = ACTOR_STORE_STATE_SET;
        ops[i].type = "t";
        ops[i].value = "new";
        ops[i].value_len = 3;
    }
    ops[0].id = "a";
    ops[1].id = "boom";
    ops[2].id = "c";
    T_EQ(p->apply(p, pp, 3), ACTOR_ESTORE);
    T_CONTAINS(actor_error_last(), "boom trigger");
    T_CONTAINS(actor_error_last(), path);
    T_CHECK(has(p, "t", "a", "old"));
    T_CHECK(!has(p, "t", "c", "new"));
    /* The connection is usable afterwards. */
    ops[1].id = "b";
    T_OK(p->apply(p, pp, 3));
    T_CHECK(has(p, "t", "a", "new"));
    T_CHECK(has(p, "t", "c", "new"));
    actor_provider_free(p);
}

static void test_orphan_leases(void)
{
    actor_provider *p = NULL;
    actor_store_op op = {.kind = ACTOR_STORE_LEASE_ACQUIRE};
    actor_store_op *ops[1] = {&op};
    actor_cleanup_counts c = {0};
    actor_lease_info li = {0};

    T_OK(open_store(&p, "sqlite::memory:", "o_"));
    /* A lease of a host that never registered is dead; cleanup removes it. */
    op.type = "t";
    op.id = "a";
    op.fence_host = "h-unregistered";
    T_OK(p->apply(p, ops, 1));
    T_EQ(op.result, 0);
    T_OK(p->host_register(p, "h-live", ""));
    op.id = "b";
    op.fence_host = "h-live";
    T_OK(p->apply(p, ops, 1));
    T_OK(p->cleanup(&c, p, 100));
    T_EQ(c.dead_hosts, 0);
    T_EQ(c.dead_leases, 1);
    T_EQ(p->lease_get(&li, p, "t", "a"), ACTOR_ENOTFOUND);
    T_OK(p->lease_get(&li, p, "t", "b"));
    actor_lease_info_dispose(&li);
    actor_provider_free(p);
}

/* ---- store URL options ---------------------------------------------------- */

/* "sqlite:" + path with '%' and '?' escaped + suffix, as is (e.g.
 * "?synchronous=normal"). */
static const char *url_of(char *buf, size_t size, const char *path, const char *suffix)
{
    size_t o = strlen(t_sqlite_url_of(buf, size, path));

    snprintf(buf + o, size - o, "%s", suffix);
    return buf;
}

static void test_url_options_accepted(void)
{
    static const char *const memory_urls[] = {
        "sqlite::memory:?",
        "sqlite::memory:?synchronous=normal",
        "sqlite::memory:?synchronous=NORMAL&busy_timeout_ms=0",
        "sqlite::memory:?busy_timeout_ms=2147483647&synchronous=Full",
        "sqlite:%3Amemory%3A?synchronous=normal",
    };
    char path[600], url[800];
    struct stat st;
    actor_provider *p = NULL;

    for (size_t i = 0; i < sizeof(memory_urls) / sizeof(memory_urls[0]); i++) {
        if (open_store(&p, memory_urls[i], "m_") != 0)
            T_FAIL("%s: %s", memory_urls[i], actor_error_last());
        else
            T_CHECK(put(p, "t", "a", "v") == 0 && has(p, "t", "a", "v"));
        actor_provider_free(p);
        p = NULL;
    }
    /* Options are not part of the file name; an empty query is no options. */
    t_tmp_path(path, sizeof(path), "opts.db");
    T_OK(open_store(&p, url_of(url, sizeof(url), path, "?synchronous=normal&busy_timeout_ms=100"),
                    "o_"));
    actor_provider_free(p);
    p = NULL;
    T_CHECK(stat(path, &st) == 0);
    T_OK(open_store(&p, url_of(url, sizeof(url), path, "?"), "o_"));
    actor_provider_free(p);
    p = NULL;
    t_tmp_path(path, sizeof(path), "opts.db?synchronous=normal&busy_timeout_ms=100");
    T_CHECK(stat(path, &st) != 0);
    t_tmp_path(path, sizeof(path), "opts.db?");
    T_CHECK(stat(path, &st) != 0);
}

static void test_url_percent_path(void)
{
    char dir[600], path[700], url[800], buf[64];
    struct stat st;
    actor_provider *p = NULL;

    /* Every awkward byte of the name written as an escape, hex in both cases. */
    t_tmp_path(dir, sizeof(dir), "");
    T_OK(open_store(&p, url_of(url, sizeof(url), dir, "a%3Fb%25c%20d%26e%3d.db?synchronous=normal"),
                    "e_"));
    T_OK(put(p, "t", "a", "decoded"));
    actor_provider_free(p);
    p = NULL;
    t_tmp_path(path, sizeof(path), "a?b%c d&e=.db");
    T_CHECK(stat(path, &st) == 0);
    T_STREQ(raw_query(buf, sizeof(buf), path, "SELECT value FROM e_state WHERE actor_id = 'a'"),
            "decoded");
    t_tmp_path(path, sizeof(path), "a%3Fb%25c%20d%26e%3d.db");
    T_CHECK(stat(path, &st) != 0);
    t_tmp_path(path, sizeof(path), "a");
    T_CHECK(stat(path, &st) != 0);

    /* The same file under another spelling, with the default options. */
    T_OK(open_store(&p, url_of(url, sizeof(url), dir, "a%3fb%25c d&e=.db"), "e_"));
    T_CHECK(has(p, "t", "a", "decoded"));
    actor_provider_free(p);
}

/* Written with synchronous=normal, closed, reopened with the default: all
 * there (a clean close checkpoints the WAL). */
static void test_synchronous_normal_reopen(void)
{
    char path[600], url[800], id[16];
    actor_provider *p = NULL;

    t_tmp_path(path, sizeof(path), "normal.db");
    T_OK(open_store(&p, url_of(url, sizeof(url), path, "?synchronous=normal"), "y_"));
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        T_OK(put(p, "t", id, id));
    }
    actor_provider_free(p);
    p = NULL;
    T_OK(open_store(&p, url_of(url, sizeof(url), path, ""), "y_"));
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        T_CHECK(has(p, "t", id, id));
    }
    actor_provider_free(p);
}

/* A VFS over the default one that counts xSync calls: synchronous is a
 * setting of the provider's own connection, so the fsyncs it causes are
 * the way to see which mode is in effect. */
struct count_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, right after this struct */
};

static sqlite3_vfs *g_real_vfs;
static sqlite3_vfs g_count_vfs;
static int g_syncs; /* the provider syncs on the calling thread */

#define REAL(f) (((struct count_file *)(f))->real)

static int cf_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int cf_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int cf_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int cf_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int cf_sync(sqlite3_file *f, int flags)
{
    g_syncs++;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int cf_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int cf_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int cf_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int cf_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int cf_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int cf_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int cf_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int cf_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int cf_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void cf_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int cf_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2: no memory-mapped I/O (xFetch), which the provider does not
 * enable anyway. */
static const sqlite3_io_methods g_count_io = {
    .iVersion = 2,
    .xClose = cf_close,
    .xRead = cf_read,
    .xWrite = cf_write,
    .xTruncate = cf_truncate,
    .xSync = cf_sync,
    .xFileSize = cf_file_size,
    .xLock = cf_lock,
    .xUnlock = cf_unlock,
    .xCheckReservedLock = cf_check_reserved,
    .xFileControl = cf_file_control,
    .xSectorSize = cf_sector_size,
    .xDeviceCharacteristics = cf_device,
    .xShmMap = cf_shm_map,
    .xShmLock = cf_shm_lock,
    .xShmBarrier = cf_shm_barrier,
    .xShmUnmap = cf_shm_unmap,
};

static int cv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
    struct count_file *f = (struct count_file *)file;
    int rc;

    (void)vfs;
    f->real = (sqlite3_file *)(f + 1);
    rc = g_real_vfs->xOpen(g_real_vfs, name, f->real, flags, out);
    f->base.pMethods = f->real->pMethods ? &g_count_io : NULL;
    return rc;
}

static void count_vfs_install(void)
{
    g_real_vfs = sqlite3_vfs_find(NULL);
    T_ASSERT(g_real_vfs != NULL && g_real_vfs->iVersion >= 1);
    g_count_vfs = *g_real_vfs;
    g_count_vfs.pNext = NULL;
    g_count_vfs.zName = "actor-test-count";
    g_count_vfs.szOsFile = (int)sizeof(struct count_file) + g_real_vfs->szOsFile;
    g_count_vfs.xOpen = cv_open;
    T_ASSERT(sqlite3_vfs_register(&g_count_vfs, 1) == SQLITE_OK);
}

/* How many fsyncs `n` single-write commits on a fresh file cost with the
 * store URL suffix `options`. */
static int syncs_for(const char *name, const char *options, int n)
{
    char path[600], url[800], id[16];
    actor_provider *p = NULL;
    int syncs;

    t_tmp_path(path, sizeof(path), name);
    T_OK(open_store(&p, url_of(url, sizeof(url), path, options), "s_"));
    T_OK(put(p, "t", "warm-up", "v")); /* the first commit starts the WAL */
    g_syncs = 0;
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        T_OK(put(p, "t", id, "v"));
    }
    syncs = g_syncs;
    actor_provider_free(p);
    return syncs;
}

static void test_synchronous_fsyncs(void)
{
    enum { N = 20 };
    int full, deflt, normal;

    count_vfs_install();
    full = syncs_for("sync-full.db", "?synchronous=full", N);
    deflt = syncs_for("sync-default.db", "", N);
    normal = syncs_for("sync-normal.db", "?synchronous=normal", N);
    sqlite3_vfs_unregister(&g_count_vfs);
    fprintf(stderr, "  fsyncs for %d commits: full %d, default %d, normal %d\n", N, full, deflt,
            normal);
    /* FULL syncs the WAL at every commit; NORMAL only at checkpoints, and
     * these few pages never reach one (0 measured; a little slack for
     * other SQLite versions). */
    T_CHECK(full >= N);
    T_CHECK(deflt >= N);
    T_CHECK(normal < N / 4);
}

/* busy_timeout_ms replaces store_timeout_ms for SQLite's busy handler. */
static void test_busy_timeout_option(void)
{
    char path[600], url[800];
    actor_provider *p = NULL;
    sqlite3 *db = NULL;
    int64_t t0, took;

    t_tmp_path(path, sizeof(path), "busy-opt.db");
    /* open_store's store_timeout_ms is 10000. */
    T_OK(open_store(&p, url_of(url, sizeof(url), path, "?busy_timeout_ms=150"), "b_"));
    T_OK(put(p, "t", "a", "before"));
    T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    t0 = t_now_ms();
    T_EQ(put(p, "t", "a", "blocked"), ACTOR_ETIMEOUT);
    took = t_now_ms() - t0;
    T_CONTAINS(actor_error_last(), "busy timeout 150 ms");
    T_CHECK(took >= 100 && took < 5000);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    T_OK(put(p, "t", "a", "after"));
    T_CHECK(has(p, "t", "a", "after"));
    actor_provider_free(p);
}

int main(void)
{
    T_RUN(test_bad_urls);
    T_RUN(test_newer_schema);
    T_RUN(test_garbage_file);
    T_RUN(test_unopenable_path);
    T_RUN(test_reopen_keeps_data);
    T_RUN(test_no_reader_pool);
    T_RUN(test_two_connections_two_threads);
    T_RUN(test_processes_share_file);
    T_RUN(test_busy_timeout);
    T_RUN(test_failed_batch_rolls_back);
    T_RUN(test_orphan_leases);
    T_RUN(test_url_options_accepted);
    T_RUN(test_url_percent_path);
    T_RUN(test_synchronous_normal_reopen);
    T_RUN(test_synchronous_fsyncs);
    T_RUN(test_busy_timeout_option);
    return t_done();
}
