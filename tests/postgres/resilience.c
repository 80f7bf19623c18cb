/*
 * resilience.c: the PostgreSQL provider across a server restart. A thread
 * writes continuously while the test stops the real server (pg_ctl stop -m
 * fast) and starts it again: calls fail with ACTOR_ESTORE carrying the
 * server's or libpq's message and never hang past the timeout, succeed again
 * once the server is back without reopening the provider, and every write
 * that was acknowledged is there at the end. Needs the server controls that
 * scripts/with-postgres.sh exports; runs alone (RUN_SERIAL).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "pgtest.h"

#define MAX_WRITES 200000
#define TIMEOUT_MS 2000

static const char *url;
static actor_provider *prov;
static atomic_int stop_writer;
static atomic_long acked, failed, attempts;
static atomic_long max_call_ms;
static unsigned char acked_map[MAX_WRITES]; /* 1: acknowledged */
static char first_error[1024];
static atomic_int first_error_code;

static void *writer(void *arg)
{
    char ids[4][32], vals[4][48];
    actor_store_op o[4], *ops[4] = {&o[0], &o[1], &o[2], &o[3]};
    long seq = 0;

    (void)arg;
    while (!atomic_load(&stop_writer) && seq + 4 < MAX_WRITES) {
        /* Alternate single writes and batches of four. */
        size_t n = (seq / 4) % 2 ? 4 : 1;
        for (size_t i = 0; i < n; i++) {
            snprintf(ids[i], sizeof(ids[i]), "w%ld", seq + (long)i);
            snprintf(vals[i], sizeof(vals[i]), "value-%ld", seq + (long)i);
            pg_op_set(&o[i], "R", ids[i], vals[i], 0);
        }
        int64_t t0 = t_now_ms();
        int rc = prov->apply(prov, ops, n);
        long ms = (long)(t_now_ms() - t0);
        if (ms > atomic_load(&max_call_ms))
            atomic_store(&max_call_ms, ms);
        atomic_fetch_add(&attempts, 1);
        if (rc == 0) {
            for (size_t i = 0; i < n; i++)
                acked_map[seq + (long)i] = 1;
            atomic_fetch_add(&acked, (long)n);
        } else {
            if (atomic_fetch_add(&failed, 1) == 0) {
                snprintf(first_error, sizeof(first_error), "%s", actor_error_last());
                atomic_store(&first_error_code, rc);
            }
            t_sleep_ms(20);
        }
        seq += (long)n;
    }
    return NULL;
}

static int run_ctl(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "\"%s\" %s -D \"%s\" >/dev/null", getenv("ACTOR_TEST_PG_CTL"), args,
             getenv("ACTOR_TEST_PG_DATADIR"));
    fprintf(stderr, "  $ pg_ctl %s\n", args);
    return system(cmd);
}

static void test_restart(void)
{
    char prefix[40], start_args[1200];
    actor_provider_config c = pg_config(url, pg_prefix(prefix, sizeof(prefix)));
    actor_buf b = ACTOR_BUF_INIT;
    pthread_t th;
    int rc;

    c.timeout_ms = TIMEOUT_MS;
    c.pool_size = 2;
    T_OK(actor_provider_open(&prov, &c));
    pthread_create(&th, NULL, writer, NULL);
    T_CHECK(T_WAIT_UNTIL(atomic_load(&acked) >= 300, 20000));

    /* Down: calls fail, quickly, with the cause. */
    T_CHECK(run_ctl("stop -m fast -w -t 60") == 0);
    long acked_at_stop = atomic_load(&acked);
    T_CHECK(T_WAIT_UNTIL(atomic_load(&failed) >= 3, 3 * TIMEOUT_MS));
    fprintf(stderr, "  writer's first failure: %d %s\n", atomic_load(&first_error_code),
            first_error);
    T_EQ(atomic_load(&first_error_code), ACTOR_ESTORE);
    T_CHECK(first_error[0] != '\0');
    T_CONTAINS(first_error, "PostgreSQL");
    int64_t t0 = t_now_ms();
    rc = prov->state_get(&b, prov, "R", "w0");
    fprintf(stderr, "  state_get while down: %d %s (%lld ms)\n", rc, actor_error_last(),
            (long long)(t_now_ms() - t0));
    T_EQ(rc, ACTOR_ESTORE);
    T_CHECK(t_now_ms() - t0 < TIMEOUT_MS + 1000);
    t_sleep_ms(500);

    /* Up again: the same provider works. */
    snprintf(start_args, sizeof(start_args), "start -w -t 60 -l \"%s\"",
             getenv("ACTOR_TEST_PG_LOG") ? getenv("ACTOR_TEST_PG_LOG") : "/dev/null");
    T_CHECK(run_ctl(start_args) == 0);
    long acked_at_start = atomic_load(&acked);
    fprintf(stderr, "  acknowledged before stop %ld, while down %ld\n", acked_at_stop,
            acked_at_start - acked_at_stop);
    T_CHECK(T_WAIT_UNTIL(atomic_load(&acked) >= acked_at_start + 300, 30000));
    atomic_store(&stop_writer, 1);
    pthread_join(th, NULL);
    fprintf(stderr, "  attempts %ld, acknowledged writes %ld, failed calls %ld, slowest %ld ms\n",
            atomic_load(&attempts), atomic_load(&acked), atomic_load(&failed),
            atomic_load(&max_call_ms));
    T_CHECK(atomic_load(&max_call_ms) < TIMEOUT_MS + 1500);

    /* Every acknowledged write is there. */
    long missing = 0, checked = 0;
    for (long i = 0; i < MAX_WRITES; i++) {
        char id[32], want[48];
        if (!acked_map[i])
            continue;
        snprintf(id, sizeof(id), "w%ld", i);
        snprintf(want, sizeof(want), "value-%ld", i);
        checked++;
        rc = prov->state_get(&b, prov, "R", id);
        if (rc != 0 || strcmp(b.ptr, want) != 0) {
            if (missing++ < 5)
                T_FAIL("acknowledged write %s lost: %d %s", id, rc, actor_error_last());
        }
    }
    fprintf(stderr, "  checked %ld acknowledged writes, %ld missing\n", checked, missing);
    T_EQ(missing, 0);
    actor_buf_dispose(&b);
    actor_provider_free(prov);
    prov = NULL;
}

int main(void)
{
    const char *ci = getenv("CI");

    url = pg_url_or_skip("postgres_resilience");
    if (!getenv("ACTOR_TEST_PG_CTL") || !getenv("ACTOR_TEST_PG_DATADIR")) {
        fprintf(stderr,
                "postgres_resilience: %s: ACTOR_TEST_PG_CTL and ACTOR_TEST_PG_DATADIR "
                "are not set; run under scripts/with-postgres.sh\n",
                ci && strcmp(ci, "true") == 0 ? "FAILED" : "SKIPPED");
        return ci && strcmp(ci, "true") == 0 ? 1 : 77;
    }
    T_RUN(test_restart);
    return t_done();
}
