/*
 * errors.c: bad input at the public API. Names (types, IDs, methods) that
 * are NULL, empty, too long or not UTF-8; unknown and malformed store URLs;
 * a database file that cannot be opened or is not a database; a database
 * whose schema is newer than the library (left untouched); registration
 * mistakes, and many types looked up by name (each invoke reaches its own
 * type, an unknown name none); host options out of range; bad query
 * options and bad percent escapes in a sqlite: URL. Each gets a specific code and a message that
 * names the bad value.
 */
#include "test.h"

#include <sqlite3.h>

static int noop_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                       const void *req, size_t len, void *payload)
{
    return 0;
}

static actor_host *start_host(void)
{
    actor_host *h = NULL;
    actor_type t = ACTOR_TYPE_INIT;

    t.name = "t";
    t.invoke = noop_invoke;
    if (actor_host_new(&h, "sqlite::memory:", NULL) != 0 || actor_host_register(h, &t, NULL) != 0 ||
        actor_host_start(h) != 0) {
        actor_host_free(h);
        return NULL;
    }
    return h;
}

static void test_names(void)
{
    actor_host *h = start_host();
    char longid[ACTOR_ID_MAX + 2];
    char maxid[ACTOR_ID_MAX + 1];
    actor_buf b = ACTOR_BUF_INIT;

    T_ASSERT(h != NULL);
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    memset(maxid, 'y', sizeof(maxid) - 1);
    maxid[sizeof(maxid) - 1] = '\0';

    T_EQ(actor_invoke(NULL, h, "t", "", "m", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "actor ID is empty");
    T_EQ(actor_invoke(NULL, h, "t", NULL, "m", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "actor ID is NULL");
    T_EQ(actor_invoke(NULL, h, "t", longid, "m", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "longer than 256 bytes");
    T_CONTAINS(actor_error_last(), "xxxxxxxx");
    T_OK(actor_invoke(NULL, h, "t", maxid, "m", NULL, 0));         /* the limit itself is fine */
    T_OK(actor_invoke(NULL, h, "t", "caf\xc3\xa9", "m", NULL, 0)); /* UTF-8 beyond ASCII is fine */
    T_EQ(actor_invoke(NULL, h, "t", "bad\xff", "m", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "bad\\xFF");
    T_CONTAINS(actor_error_last(), "not valid UTF-8");
    T_EQ(actor_invoke(NULL, h, "t", "\xed\xa0\x80", "m", NULL, 0), ACTOR_EINVAL); /* surrogate */
    T_EQ(actor_invoke(NULL, h, "t", "\xc0\xaf", "m", NULL, 0), ACTOR_EINVAL);     /* overlong */
    T_EQ(actor_invoke(NULL, h, "", "id", "m", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "actor type is empty");
    T_EQ(actor_invoke(NULL, h, "t", "id", "", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "method name is empty");
    T_EQ(actor_invoke(NULL, h, "t", "id", "m\x80", NULL, 0), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "method name");
    T_EQ(actor_invoke(NULL, h, "t", "id", "m", NULL, 5), ACTOR_EINVAL);
    T_EQ(actor_invoke(NULL, h, "nosuch", "id", "m", NULL, 0), ACTOR_ENOTFOUND);
    T_CONTAINS(actor_error_last(), "\"nosuch\" is not registered");
    T_EQ(actor_invoke(NULL, NULL, "t", "id", "m", NULL, 0), ACTOR_EINVAL);

    T_EQ(actor_state_set(h, "t", "", "x", 1, 0), ACTOR_EINVAL);
    T_EQ(actor_state_get(&b, h, "t", longid), ACTOR_EINVAL);
    T_EQ(actor_state_delete(h, "t\xfe", "id"), ACTOR_EINVAL);
    T_EQ(actor_state_set(h, "t", "id", NULL, 3, 0), ACTOR_EINVAL);
    T_EQ(actor_state_get(NULL, h, "t", "id"), ACTOR_EINVAL);
    T_EQ(actor_host_halt(h, "t", ""), ACTOR_EINVAL);
    /* Nothing above stored anything. */
    T_EQ(actor_state_get(&b, h, "t", "id"), ACTOR_ENOTFOUND);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_urls(void)
{
    actor_host *h = NULL;
    char path[700], url[800];

    T_EQ(actor_host_new(&h, "redis://localhost", NULL), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "redis://localhost");
    T_CHECK(h == NULL);
    T_EQ(actor_host_new(&h, "", NULL), ACTOR_EINVAL);
    T_EQ(actor_host_new(&h, NULL, NULL), ACTOR_EINVAL);
    T_EQ(actor_host_new(&h, "sqlite:", NULL), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "sqlite:");
    T_EQ(actor_host_new(NULL, "sqlite::memory:", NULL), ACTOR_EINVAL);

    /* A path that cannot be opened. */
    t_tmp_path(path, sizeof(path), "no/such/dir/x.db");
    t_sqlite_url_of(url, sizeof(url), path);
    T_EQ(actor_host_new(&h, url, NULL), ACTOR_ESTORE);
    T_CONTAINS(actor_error_last(), "no/such/dir/x.db");
    T_CHECK(h == NULL);
}

/* Store URLs with bad query options: each is ACTOR_EINVAL, and the message
 * quotes the URL and contains `names` (the option, or what is wrong). */
static const struct {
    const char *url;
    const char *names;
} bad_options[] = {
    {"sqlite::memory:?sync=normal", "unknown option \"sync\""},
    {"sqlite::memory:?Synchronous=normal", "unknown option \"Synchronous\""},
    {"sqlite::memory:?=normal", "unknown option \"\""},
    {"sqlite::memory:?synchronous", "synchronous has no '='"},
    {"sqlite::memory:?synchronous=", "synchronous has an empty value"},
    {"sqlite::memory:?synchronous=normal&synchronous=full", "synchronous is given twice"},
    {"sqlite::memory:?synchronous=fast", "synchronous: \"fast\" is not full or normal"},
    {"sqlite::memory:?synchronous=extra", "synchronous: \"extra\""},
    {"sqlite::memory:?synchronous=1", "synchronous: \"1\""},
    {"sqlite::memory:?synchronous=normal ", "synchronous: \"normal \""},
    {"sqlite::memory:?synchronous=off", "synchronous=off is refused"},
    {"sqlite::memory:?synchronous=OFF", "durability"},
    {"sqlite::memory:?busy_timeout_ms", "busy_timeout_ms has no '='"},
    {"sqlite::memory:?busy_timeout_ms=", "busy_timeout_ms has an empty value"},
    {"sqlite::memory:?busy_timeout_ms=-1", "busy_timeout_ms: \"-1\" is not an integer"},
    {"sqlite::memory:?busy_timeout_ms=+5", "busy_timeout_ms: \"+5\""},
    {"sqlite::memory:?busy_timeout_ms=5s", "busy_timeout_ms: \"5s\""},
    {"sqlite::memory:?busy_timeout_ms=2147483648", "busy_timeout_ms: \"2147483648\""},
    {"sqlite::memory:?busy_timeout_ms=99999999999999999999", "busy_timeout_ms: \"9999"},
    {"sqlite::memory:?busy_timeout_ms=1&busy_timeout_ms=1", "busy_timeout_ms is given twice"},
    {"sqlite::memory:?synchronous=normal&", "empty option"},
    {"sqlite::memory:?&synchronous=normal", "empty option"},
    {"sqlite::memory:??", "unknown option \"?\""},
    {"sqlite:?synchronous=normal", "expected sqlite:PATH"},
};

static void test_url_options(void)
{
    actor_host *h = NULL;

    for (size_t i = 0; i < sizeof(bad_options) / sizeof(bad_options[0]); i++) {
        char quoted[200];
        int rc = actor_host_new(&h, bad_options[i].url, NULL);

        if (rc != ACTOR_EINVAL)
            T_FAIL("%s: returned %d (%s), expected ACTOR_EINVAL", bad_options[i].url, rc,
                   actor_strerror(rc));
        T_CHECK(h == NULL);
        actor_host_free(h);
        h = NULL;
        if (strstr(actor_error_last(), bad_options[i].names) == NULL)
            T_FAIL("%s: message \"%s\" does not contain \"%s\"", bad_options[i].url,
                   actor_error_last(), bad_options[i].names);
        snprintf(quoted, sizeof(quoted), "\"%s\"", bad_options[i].url);
        if (strstr(actor_error_last(), quoted) == NULL)
            T_FAIL("%s: message \"%s\" does not quote the URL", bad_options[i].url,
                   actor_error_last());
    }
}

/* A malformed percent escape in the path: ACTOR_EINVAL naming the escape,
 * and no file is created under any spelling of the name. */
static void test_url_escapes(void)
{
    static const struct {
        const char *name; /* the file name as written in the URL */
        const char *escape;
    } cases[] = {
        {"a%G1.db", "\"%G1\""},
        {"a%1G.db", "\"%1G\""},
        {"a.db%4", "\"%4\""},
        {"a.db%", "\"%\""},
        {"a%%41.db", "\"%%4\""},
        {"a%00.db", "\"%00\""},
        {"a%4?synchronous=normal", "\"%4\""},
    };
    actor_host *h = NULL;
    char path[700], url[800];
    struct stat st;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* The directory escaped, the case's bad escape as it is. */
        t_tmp_path(path, sizeof(path), "");
        t_sqlite_url_of(url, sizeof(url), path);
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "%s", cases[i].name);
        t_tmp_path(path, sizeof(path), cases[i].name);
        T_EQ(actor_host_new(&h, url, NULL), ACTOR_EINVAL);
        T_CHECK(h == NULL);
        T_CONTAINS(actor_error_last(), cases[i].escape);
        T_CONTAINS(actor_error_last(), "escape");
        T_CONTAINS(actor_error_last(), "store URL \"sqlite:");
        T_CHECK(stat(path, &st) != 0);
    }
    T_EQ(actor_host_new(&h, "sqlite:%00", NULL), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "NUL");
    T_CONTAINS(actor_error_last(), "\"sqlite:%00\"");
}

static int read_file(const char *path, char *buf, size_t size, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    *len = fread(buf, 1, size, f);
    fclose(f);
    return 0;
}

static void test_not_a_database(void)
{
    actor_host *h = NULL;
    char path[700], url[800], before[4096], after[4096];
    size_t nb = 0, na = 0;
    FILE *f;

    t_tmp_path(path, sizeof(path), "garbage.db");
    f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    for (int i = 0; i < 4000; i++)
        fputc("this is not a database "[i % 23], f);
    fclose(f);
    T_OK(read_file(path, before, sizeof(before), &nb));
    t_sqlite_url_of(url, sizeof(url), path);
    T_EQ(actor_host_new(&h, url, NULL), ACTOR_ESTORE);
    T_CONTAINS(actor_error_last(), "garbage.db");
    T_OK(read_file(path, after, sizeof(after), &na));
    T_EQ(na, nb);
    T_CHECK(na == nb && memcmp(before, after, na) == 0);
}

static void test_newer_schema(void)
{
    actor_host *h = NULL;
    char path[700], url[800];
    static char before[1 << 20], after[1 << 20];
    size_t nb = 0, na = 0;
    sqlite3 *db = NULL;
    actor_buf b = ACTOR_BUF_INIT;

    t_tmp_path(path, sizeof(path), "newer.db");
    t_sqlite_url_of(url, sizeof(url), path);
    {
        actor_type t = ACTOR_TYPE_INIT;
        t.name = "t";
        t.invoke = noop_invoke;
        T_OK(actor_host_new(&h, url, NULL));
        T_OK(actor_host_register(h, &t, NULL));
        T_OK(actor_host_start(h));
        T_OK(actor_state_set(h, "t", "keep", "precious", 8, 0));
        actor_host_free(h);
        h = NULL;
    }
    /* A later libactor recorded schema version 999 in this file. */
    T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db,
                          "PRAGMA journal_mode=DELETE;"
                          "UPDATE actor_meta SET value='999' WHERE key='schema_version'",
                          NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    T_OK(read_file(path, before, sizeof(before), &nb));

    T_EQ(actor_host_new(&h, url, NULL), ACTOR_ESCHEMA);
    T_CONTAINS(actor_error_last(), "999");
    T_CHECK(h == NULL);
    T_OK(read_file(path, after, sizeof(after), &na));
    T_EQ(na, nb);
    T_CHECK(na == nb && memcmp(before, after, na) == 0);

    /* The data is still there for the library that understands it. */
    T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, "UPDATE actor_meta SET value='1' WHERE key='schema_version'", NULL,
                          NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    T_OK(actor_host_new(&h, url, NULL));
    T_OK(actor_state_get(&b, h, "t", "keep"));
    T_STREQ(b.ptr, "precious");
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_registration(void)
{
    actor_host *h = NULL;
    actor_type t = ACTOR_TYPE_INIT, bad;

    T_OK(actor_host_new(&h, "sqlite::memory:", NULL));
    t.name = "t";
    t.invoke = noop_invoke;
    T_OK(actor_host_register(h, &t, NULL));
    T_EQ(actor_host_register(h, &t, NULL), ACTOR_EEXISTS);
    T_CONTAINS(actor_error_last(), "\"t\" is already registered");
    bad = t;
    bad.name = "noinvoke";
    bad.invoke = NULL;
    T_EQ(actor_host_register(h, &bad, NULL), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "noinvoke");
    bad = t;
    bad.name = "future";
    bad.version = 99;
    T_EQ(actor_host_register(h, &bad, NULL), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "version 99");
    bad = t;
    bad.name = "";
    T_EQ(actor_host_register(h, &bad, NULL), ACTOR_EINVAL);
    T_EQ(actor_host_register(h, NULL, NULL), ACTOR_EINVAL);
    T_OK(actor_host_start(h));
    T_EQ(actor_host_start(h), ACTOR_ESTATE);
    bad = t;
    bad.name = "late";
    T_EQ(actor_host_register(h, &bad, NULL), ACTOR_ESTATE);
    T_CONTAINS(actor_error_last(), "already started");
    actor_host_free(h);
}

/* Answers with the name of its type. */
static int type_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                       const void *req, size_t len, void *payload)
{
    const char *type = actor_ctx_type(ctx);
    return actor_buf_set(resp, type, strlen(type));
}

static void test_many_types(void)
{
    enum { NTYPES = 300 };
    static char names[NTYPES][16];
    actor_host *h = NULL;
    actor_type t = ACTOR_TYPE_INIT;
    actor_buf b = ACTOR_BUF_INIT;

    T_OK(actor_host_new(&h, "sqlite::memory:", NULL));
    t.invoke = type_invoke;
    for (int i = 0; i < NTYPES; i++) {
        snprintf(names[i], sizeof(names[i]), "type%d", i);
        t.name = names[i];
        T_OK(actor_host_register(h, &t, NULL));
    }
    t.name = "type7";
    T_EQ(actor_host_register(h, &t, NULL), ACTOR_EEXISTS);
    T_OK(actor_host_start(h));
    for (int i = NTYPES - 1; i >= 0; i--) {
        actor_buf_clear(&b);
        T_OK(actor_invoke(&b, h, names[i], "x", "m", NULL, 0));
        T_EQ(b.size, strlen(names[i]));
        T_ASSERT(memcmp(b.ptr, names[i], b.size) == 0);
    }
    T_EQ(actor_invoke(&b, h, "type300", "x", "m", NULL, 0), ACTOR_ENOTFOUND);
    T_CONTAINS(actor_error_last(), "\"type300\" is not registered");
    T_EQ(actor_invoke(&b, h, "type", "x", "m", NULL, 0), ACTOR_ENOTFOUND);
    actor_buf_dispose(&b);
    actor_host_free(h);
}

static void test_options(void)
{
    actor_host *h = NULL;
    actor_host_options o;

    actor_host_options_init(&o);
    o.version = 42;
    T_EQ(actor_host_new(&h, "sqlite::memory:", &o), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "version 42");
    actor_host_options_init(&o);
    o.table_prefix = "bad-prefix";
    T_EQ(actor_host_new(&h, "sqlite::memory:", &o), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "bad-prefix");
    actor_host_options_init(&o);
    o.workers = 100000;
    T_EQ(actor_host_new(&h, "sqlite::memory:", &o), ACTOR_EINVAL);
    actor_host_options_init(&o);
    o.heartbeat_interval_ms = 5000;
    o.lease_deadline_ms = 1000;
    T_EQ(actor_host_new(&h, "sqlite::memory:", &o), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "lease_deadline_ms");
    actor_host_options_init(&o);
    o.host_id = "";
    T_EQ(actor_host_new(&h, "sqlite::memory:", &o), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "host ID");
    actor_host_options_init(&o);
    o.host_id = "host-a";
    o.table_prefix = "custom_";
    T_OK(actor_host_new(&h, "sqlite::memory:", &o));
    T_STREQ(actor_host_id(h), "host-a");
    actor_host_free(h);
}

int main(void)
{
    T_RUN(test_names);
    T_RUN(test_urls);
    T_RUN(test_url_options);
    T_RUN(test_url_escapes);
    T_RUN(test_not_a_database);
    T_RUN(test_newer_schema);
    T_RUN(test_registration);
    T_RUN(test_many_types);
    T_RUN(test_options);
    return t_done();
}
