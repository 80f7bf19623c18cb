/*
 * lapse.c: a host that cannot heartbeat stops serving within the deadline.
 * The test locks the SQLite file from outside (BEGIN EXCLUSIVE) so the
 * host's heartbeats fail; past the deadline the host drops its actors
 * without writing (the deactivate hook's write is refused), and once the
 * store is back it registers anew and activates actors under new epochs.
 */
#include "test.h"

#include <actor/sys/provider.h>
#include <sqlite3.h>

static int g_deactivations;
static int g_hook_write_rc = 1;

static int invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                  const void *req, size_t len, void *payload)
{
    if (strcmp(method, "set") == 0)
        return actor_ctx_state_set(ctx, req, len, 0);
    return actor_ctx_state_get(resp, ctx);
}

static void deactivate(void *instance, actor_ctx *ctx, void *payload)
{
    /* A lapsed host must not write, even from the hook. */
    __atomic_store_n(&g_hook_write_rc, actor_ctx_state_set(ctx, "from-hook", 9, 0),
                     __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_deactivations, 1, __ATOMIC_SEQ_CST);
}

static uint64_t lease_epoch(actor_provider *p, const char *id)
{
    actor_lease_info li;
    uint64_t e = 0;

    memset(&li, 0, sizeof(li));
    if (p->lease_get(&li, p, "x", id) == 0)
        e = li.epoch;
    actor_lease_info_dispose(&li);
    return e;
}

static void test_lapse_drops_and_recovers(void)
{
    char url[720], path[700];
    actor_host_options o;
    actor_type t = ACTOR_TYPE_INIT;
    actor_host *h = NULL;
    actor_provider *p = NULL;
    actor_buf b = ACTOR_BUF_INIT;
    sqlite3 *db = NULL;

    t_tmp_path(path, sizeof(path), "lapse.db");
    t_sqlite_url_of(url, sizeof(url), path);
    actor_host_options_init(&o);
    o.workers = 2;
    o.heartbeat_interval_ms = 50;
    o.lease_deadline_ms = 400;
    o.store_timeout_ms = 100;
    o.cleanup_interval_ms = -1;
    t.name = "x";
    t.invoke = invoke;
    t.deactivate = deactivate;
    T_OK(actor_host_new(&h, url, &o));
    T_OK(actor_host_register(h, &t, NULL));
    T_OK(actor_host_start(h));
    T_OK(actor_invoke(NULL, h, "x", "a", "set", "1", 1));

    p = t_provider_open(url, "actor_", 400);
    T_ASSERT(p != NULL);
    T_EQ(lease_epoch(p, "a"), 1);

    /* Cut the host off from its store: every write waits and times out. */
    T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    /* Within about a deadline it stops serving: the actor is deactivated
     * and its hook may not write. */
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&g_deactivations, __ATOMIC_SEQ_CST) == 1, 10000));
    T_EQ(g_hook_write_rc, ACTOR_ELEASE);
    T_EQ(actor_host_active_count(h), 0);
    T_ASSERT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    /* The store is back: the host registers anew and the actor comes back
     * under a new epoch, with only what was acknowledged before. */
    T_ASSERT(T_WAIT_UNTIL(actor_invoke(&b, h, "x", "a", "get", NULL, 0) == 0, 10000));
    T_STREQ(b.ptr, "1");
    T_EQ(lease_epoch(p, "a"), 2);
    T_OK(actor_invoke(NULL, h, "x", "a", "set", "2", 1));
    T_OK(actor_state_get(&b, h, "x", "a"));
    T_STREQ(b.ptr, "2");
    actor_buf_dispose(&b);
    actor_provider_free(p);
    actor_host_free(h);
}

int main(void)
{
    T_RUN(test_lapse_drops_and_recovers);
    return t_done();
}
