/*
 * hostproc.c: a host process driven over stdin/stdout by the multi-process
 * tests (multihost.c). One line in, one line out:
 *
 *   inc ID              -> "ok VALUE" | "err CODE MESSAGE"   (counter +1, durable)
 *   get ID              -> "ok VALUE" | "err CODE MESSAGE"
 *   gateset ID PATH V   -> "queued"; later "gateset-done CODE MESSAGE" once the
 *                          turn, which waits for file PATH to exist, wrote V
 *   race N ROUNDS       -> "race-done C0 C1 ... C(N-1)": successful incs per ID
 *   cleanup             -> "cleaned EXPIRED DEADHOSTS DEADLEASES"
 *   ttlset ID MS V      -> "ok" (service-level write with a TTL)
 *   quit                -> stops the host, exits 0
 *
 * Usage: hostproc URL HOST_ID HEARTBEAT_MS DEADLINE_MS IDLE_MS TABLE_PREFIX
 * The counter's state is its value in decimal.
 */
#include <actor/actor.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static actor_host *g_host;
static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&g_out);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&g_out);
}

static long read_value(actor_ctx *ctx, int *rc)
{
    actor_buf b = ACTOR_BUF_INIT;
    long v = 0;

    *rc = actor_ctx_state_get(&b, ctx);
    if (*rc == 0)
        v = atol(b.ptr);
    else if (*rc == ACTOR_ENOTFOUND)
        *rc = 0;
    actor_buf_dispose(&b);
    return v;
}

static int write_value(actor_ctx *ctx, long v)
{
    char s[32];
    int n = snprintf(s, sizeof(s), "%ld", v);
    return actor_ctx_state_set(ctx, s, (size_t)n, 0);
}

static int counter_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                          const void *req, size_t len, void *payload)
{
    char out[32];
    int rc;
    long v = read_value(ctx, &rc);

    if (rc != 0)
        return rc;
    if (strcmp(method, "inc") == 0) {
        if ((rc = write_value(ctx, v + 1)) != 0)
            return rc;
        v++;
    } else if (strcmp(method, "gateset") == 0) {
        char path[512];
        long nv;
        if (sscanf((const char *)req, "%511s %ld", path, &nv) != 2)
            return actor_error_set(ACTOR_EINVAL, "gateset: bad request");
        /* Hold the turn (and its pending write) until the test opens the
         * gate; bounded so that a broken test cannot hang us. */
        for (int i = 0; i < 60000 && access(path, F_OK) != 0; i++) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        if ((rc = write_value(ctx, nv)) != 0)
            return rc;
        v = nv;
    } else if (strcmp(method, "get") != 0) {
        return actor_error_set(ACTOR_EINVAL, "no method %s", method);
    }
    snprintf(out, sizeof(out), "%ld", v);
    return actor_buf_puts(resp, out);
}

static void gateset_done(int error, const void *resp, size_t len, void *payload)
{
    say("gateset-done %d %s", error, error ? actor_error_last() : "");
}

static void do_call(const char *method, const char *id)
{
    actor_buf b = ACTOR_BUF_INIT;
    int rc = actor_invoke(&b, g_host, "counter", id, method, NULL, 0);

    if (rc == 0)
        say("ok %s", b.ptr);
    else
        say("err %d %s", rc, actor_error_last());
    actor_buf_dispose(&b);
}

static void do_race(long n, long rounds, unsigned seed)
{
    long *ok = calloc((size_t)n, sizeof(long));
    long *order = calloc((size_t)n, sizeof(long));
    char id[32];
    char *line;
    size_t cap = (size_t)n * 12 + 32, off = 0;

    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < n; i++)
            order[i] = i;
        for (long i = n - 1; i > 0; i--) { /* shuffle: each host its own order */
            seed = seed * 1103515245u + 12345u;
            long j = (long)((seed >> 8) % (unsigned long)(i + 1));
            long t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (long i = 0; i < n; i++) {
            snprintf(id, sizeof(id), "r%ld", order[i]);
            if (actor_invoke(NULL, g_host, "counter", id, "inc", NULL, 0) == 0)
                ok[order[i]]++;
        }
    }
    line = malloc(cap);
    off += (size_t)snprintf(line, cap, "race-done");
    for (long i = 0; i < n; i++)
        off += (size_t)snprintf(line + off, cap - off, " %ld", ok[i]);
    say("%s", line);
    free(line);
    free(ok);
    free(order);
}

int main(int argc, char **argv)
{
    actor_host_options o;
    actor_type t = ACTOR_TYPE_INIT;
    char line[1024], a[512], b[512];
    long x, y;

    if (argc != 7) {
        fprintf(stderr, "usage: hostproc URL HOST_ID HEARTBEAT_MS DEADLINE_MS IDLE_MS PREFIX\n");
        return 2;
    }
    actor_host_options_init(&o);
    o.host_id = argv[2];
    o.address = argv[2]; /* tests read it back from ACTOR_ELEASE messages */
    o.heartbeat_interval_ms = atol(argv[3]);
    o.lease_deadline_ms = atol(argv[4]);
    o.table_prefix = argv[6];
    o.cleanup_interval_ms = -1; /* the tests run it on demand */
    t.name = "counter";
    t.invoke = counter_invoke;
    t.idle_timeout_ms = atol(argv[5]);
    if (actor_host_new(&g_host, argv[1], &o) != 0 || actor_host_register(g_host, &t, NULL) != 0 ||
        actor_host_start(g_host) != 0) {
        say("fatal %s", actor_error_last());
        return 1;
    }
    say("ready %s", actor_host_id(g_host));
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "inc %511s", a) == 1) {
            do_call("inc", a);
        } else if (sscanf(line, "get %511s", a) == 1) {
            do_call("get", a);
        } else if (sscanf(line, "gateset %511s %511[^\n]", a, b) == 2) {
            if (actor_invoke_async(g_host, "counter", a, "gateset", b, strlen(b) + 1, gateset_done,
                                   NULL) == 0)
                say("queued");
            else
                say("err %d %s", actor_error_last_code(), actor_error_last());
        } else if (sscanf(line, "race %ld %ld", &x, &y) == 2) {
            unsigned seed = 0;
            for (const char *p = argv[2]; *p; p++)
                seed = seed * 31 + (unsigned char)*p;
            do_race(x, y, seed);
        } else if (strncmp(line, "cleanup", 7) == 0) {
            actor_cleanup_counts c = {0, 0, 0};
            if (actor_host_cleanup(&c, g_host) == 0)
                say("cleaned %zu %zu %zu", c.expired_state, c.dead_hosts, c.dead_leases);
            else
                say("err %d %s", actor_error_last_code(), actor_error_last());
        } else if (sscanf(line, "ttlset %511s %ld %ld", a, &x, &y) == 3) {
            char v[32];
            int n = snprintf(v, sizeof(v), "%ld", y);
            if (actor_state_set(g_host, "counter", a, v, (size_t)n, x) == 0)
                say("ok");
            else
                say("err %d %s", actor_error_last_code(), actor_error_last());
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        } else {
            say("err %d unknown command", ACTOR_EINVAL);
        }
    }
    actor_host_free(g_host);
    return 0;
}
