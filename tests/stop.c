/*
 * stop.c: stopping a host with turns in flight and messages queued. The
 * turn already running finishes and its caller gets its result; queued
 * messages fail with ACTOR_ESHUTDOWN; calls after stop fail the same way;
 * every actor is deactivated and its lease released; nobody hangs.
 */
#include "test.h"

#include <actor/sys/provider.h>

#include <pthread.h>

static int g_gate_open;
static int g_in_slow_turn;
static int g_deactivated;
static actor_host *g_host;

static int invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                  const void *req, size_t len, void *payload)
{
    if (strcmp(method, "slow") == 0) {
        __atomic_store_n(&g_in_slow_turn, 1, __ATOMIC_SEQ_CST);
        /* Held until the test has seen the stop begin. */
        if (!T_WAIT_UNTIL(__atomic_load_n(&g_gate_open, __ATOMIC_SEQ_CST), 20000))
            return actor_error_set(ACTOR_ETIMEOUT, "gate never opened");
        return actor_buf_puts(resp, "slow done");
    }
    if (strcmp(method, "fast") == 0)
        return actor_ctx_state_set(ctx, "1", 1, 0);
    return actor_error_set(ACTOR_EINVAL, "unknown method %s", method);
}

static void deact(void *instance, actor_ctx *ctx, void *payload)
{
    __atomic_add_fetch(&g_deactivated, 1, __ATOMIC_SEQ_CST);
}

struct tally {
    pthread_mutex_t mu;
    int ok, shutdown, other, total;
};

static void on_done(int error, const void *resp, size_t len, void *payload)
{
    struct tally *t = payload;

    pthread_mutex_lock(&t->mu);
    if (error == 0)
        t->ok++;
    else if (error == ACTOR_ESHUTDOWN)
        t->shutdown++;
    else
        t->other++;
    t->total++;
    pthread_mutex_unlock(&t->mu);
}

static int tally_total(struct tally *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->total;
    pthread_mutex_unlock(&t->mu);
    return n;
}

struct slow_call {
    int rc;
    char resp[64];
};

static void *call_slow(void *arg)
{
    struct slow_call *sc = arg;
    actor_buf r = ACTOR_BUF_INIT;

    sc->rc = actor_invoke(&r, g_host, "w", "busy", "slow", NULL, 0);
    snprintf(sc->resp, sizeof(sc->resp), "%s", r.ptr ? r.ptr : "");
    actor_buf_dispose(&r);
    return NULL;
}

struct blocked_call {
    int rc;
};

static void *call_queued(void *arg)
{
    struct blocked_call *bc = arg;
    /* Queued behind the slow turn: fails with ACTOR_ESHUTDOWN at stop. */
    bc->rc = actor_invoke(NULL, g_host, "w", "busy", "fast", NULL, 0);
    return NULL;
}

static void *do_stop(void *arg)
{
    *(int *)arg = actor_host_stop(g_host);
    return NULL;
}

static void test_stop_with_work_in_flight(void)
{
    char url[700], path[700];
    actor_host_options o;
    actor_type t = ACTOR_TYPE_INIT;
    actor_host *h = NULL;
    struct tally tl = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
    struct slow_call sc = {-99, ""};
    struct blocked_call bc = {-99};
    pthread_t slow_th, queued_th, stop_th;
    int stop_rc = -99;
    actor_provider *p = NULL;
    actor_lease_info li;

    actor_host_options_init(&o);
    o.workers = 2;
    t.name = "w";
    t.invoke = invoke;
    t.deactivate = deact;
    t_sqlite_url(url, sizeof(url), "stop.db");
    T_OK(actor_host_new(&h, url, &o));
    T_OK(actor_host_register(h, &t, NULL));
    T_OK(actor_host_start(h));
    g_host = h;

    /* Several active actors, one of them busy in a slow turn. */
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof(id), "idle%d", i);
        T_OK(actor_invoke(NULL, h, "w", id, "fast", NULL, 0));
    }
    pthread_create(&slow_th, NULL, call_slow, &sc);
    T_ASSERT(T_WAIT_UNTIL(__atomic_load_n(&g_in_slow_turn, __ATOMIC_SEQ_CST), 10000));
    /* Queue work behind it: 100 asynchronous messages and one blocking. */
    for (int i = 0; i < 100; i++)
        T_OK(actor_invoke_async(h, "w", "busy", "fast", NULL, 0, on_done, &tl));
    pthread_create(&queued_th, NULL, call_queued, &bc);
    T_ASSERT(T_WAIT_UNTIL(actor_host_active_count(h) == 11, 10000));

    pthread_create(&stop_th, NULL, do_stop, &stop_rc);
    /* Stop fails the queued messages first, while the slow turn runs. */
    T_ASSERT(T_WAIT_UNTIL(tally_total(&tl) == 100, 10000));
    T_EQ(tl.shutdown, 100);
    pthread_join(queued_th, NULL);
    T_EQ(bc.rc, ACTOR_ESHUTDOWN);
    /* New calls are refused while stopping. */
    T_EQ(actor_invoke(NULL, h, "w", "new", "fast", NULL, 0), ACTOR_ESHUTDOWN);
    T_EQ(actor_invoke_async(h, "w", "idle1", "fast", NULL, 0, on_done, &tl), ACTOR_ESHUTDOWN);

    __atomic_store_n(&g_gate_open, 1, __ATOMIC_SEQ_CST);
    pthread_join(slow_th, NULL);
    pthread_join(stop_th, NULL);
    T_EQ(sc.rc, 0);
    T_STREQ(sc.resp, "slow done");
    T_EQ(stop_rc, 0);
    T_EQ(g_deactivated, 11);
    T_EQ(actor_host_active_count(h), 0);
    T_EQ(actor_invoke(NULL, h, "w", "idle1", "fast", NULL, 0), ACTOR_ESHUTDOWN);
    T_OK(actor_host_stop(h)); /* idempotent */
    actor_host_free(h);

    /* Every lease was released. */
    p = t_provider_open(url, "actor_", 10000);
    T_ASSERT(p != NULL);
    memset(&li, 0, sizeof(li));
    T_EQ(p->lease_get(&li, p, "w", "busy"), ACTOR_ENOTFOUND);
    T_EQ(p->lease_get(&li, p, "w", "idle3"), ACTOR_ENOTFOUND);
    actor_lease_info_dispose(&li);
    actor_provider_free(p);
    (void)path;
}

static void test_stop_before_start_and_free_without_stop(void)
{
    actor_host *h = NULL;
    actor_type t = ACTOR_TYPE_INIT;

    t.name = "w";
    t.invoke = invoke;
    T_OK(actor_host_new(&h, "sqlite::memory:", NULL));
    T_OK(actor_host_register(h, &t, NULL));
    T_EQ(actor_invoke(NULL, h, "w", "x", "fast", NULL, 0), ACTOR_ESTATE);
    T_OK(actor_host_stop(h));
    actor_host_free(h);

    /* free stops a running host itself. */
    T_OK(actor_host_new(&h, "sqlite::memory:", NULL));
    T_OK(actor_host_register(h, &t, NULL));
    T_OK(actor_host_start(h));
    T_OK(actor_invoke(NULL, h, "w", "x", "fast", NULL, 0));
    actor_host_free(h);
}

int main(void)
{
    T_RUN(test_stop_with_work_in_flight);
    T_RUN(test_stop_before_start_and_free_without_stop);
    return t_done();
}
