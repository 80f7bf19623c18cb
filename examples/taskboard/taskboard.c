/*
 * taskboard.c: the demo. A TaskActor keeps a task's status, timestamps and
 * history as durable JSON state, initialised on its first activation only;
 * a CounterActor counts increments without a lock. The program drives a few
 * thousand tasks, lets them go idle (short idle timeout), frees the host,
 * opens a new host on the same database, and checks that every task came
 * back. It also sends 100 concurrent increments to one counter.
 *
 * Usage: taskboard [STORE_URL] [TASKS]   (default sqlite:taskboard.db, 3000)
 */
#include <actor/actor.h>
#include <jansson.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- TaskActor ----------------------------------------------------------- */

static int g_created, g_recovered; /* counted atomically */
static int g_deactivated;           /* guarded by g_mu */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static void now_iso(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000) % 1000000L);
}

/* Read the task's state document; NULL with an error recorded if absent. */
static json_t *load_task(actor_ctx *ctx, int *rc)
{
    actor_buf b = ACTOR_BUF_INIT;
    json_error_t jerr;
    json_t *doc = NULL;

    *rc = actor_ctx_state_get(&b, ctx);
    if (*rc == 0) {
        doc = json_loadb(b.ptr, b.size, 0, &jerr);
        if (doc == NULL)
            *rc = actor_error_set(ACTOR_EDECODE, "task %s: stored state is not JSON: %s",
                                  actor_ctx_id(ctx), jerr.text);
    }
    actor_buf_dispose(&b);
    return doc;
}

static int save_task(actor_ctx *ctx, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    int rc;

    if (s == NULL)
        return actor_error_set(ACTOR_ENOMEM, "cannot encode task %s", actor_ctx_id(ctx));
    rc = actor_ctx_state_set(ctx, s, strlen(s), 0);
    free(s);
    return rc;
}

static int task_activate(void **instance, actor_ctx *ctx, void *payload)
{
    int rc;
    json_t *doc = load_task(ctx, &rc);
    char ts[96];

    if (rc == ACTOR_ENOTFOUND) {
        /* First activation ever: create the task. */
        now_iso(ts, sizeof(ts));
        doc = json_pack("{s:s, s:s, s:n, s:[]}", "status", "pending", "created_at", ts,
                        "updated_at", "history");
        rc = doc ? save_task(ctx, doc) : ACTOR_ENOMEM;
        if (rc == 0)
            __atomic_add_fetch(&g_created, 1, __ATOMIC_RELAXED);
    } else if (rc == 0) {
        __atomic_add_fetch(&g_recovered, 1, __ATOMIC_RELAXED);
    }
    json_decref(doc);
    return rc;
}

static void task_deactivate(void *instance, actor_ctx *ctx, void *payload)
{
    /* Every change was saved when it was made: nothing to flush. */
    pthread_mutex_lock(&g_mu);
    g_deactivated++;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static int task_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                       const void *req, size_t len, void *payload)
{
    int rc;
    json_t *doc = load_task(ctx, &rc);
    char ts[96], *out;

    if (doc == NULL)
        return rc;
    if (strcmp(method, "GetTask") == 0) {
        json_object_set_new(doc, "id", json_string(actor_ctx_id(ctx)));
        out = json_dumps(doc, JSON_COMPACT);
        rc = out ? actor_buf_puts(resp, out) : ACTOR_ENOMEM;
        free(out);
    } else if (strcmp(method, "UpdateStatus") == 0 || strcmp(method, "AddHistoryEntry") == 0) {
        json_t *text = json_stringn((const char *)req, len);
        if (text == NULL) {
            rc = actor_error_set(ACTOR_EINVAL, "%s: request is not UTF-8 text", method);
        } else if (method[0] == 'U') {
            now_iso(ts, sizeof(ts));
            json_object_set_new(doc, "status", text);
            json_object_set_new(doc, "updated_at", json_string(ts));
            rc = save_task(ctx, doc);
        } else {
            now_iso(ts, sizeof(ts));
            json_array_append_new(json_object_get(doc, "history"),
                                  json_pack("{s:o, s:s}", "entry", text, "timestamp", ts));
            rc = save_task(ctx, doc);
        }
    } else {
        rc = actor_error_set(ACTOR_EINVAL, "TaskActor has no method %s", method);
    }
    json_decref(doc);
    return rc;
}

/* ---- CounterActor -------------------------------------------------------- */

static int counter_activate(void **instance, actor_ctx *ctx, void *payload)
{
    actor_buf b = ACTOR_BUF_INIT;
    int rc = actor_ctx_state_get(&b, ctx);

    if (rc == ACTOR_ENOTFOUND)
        rc = actor_ctx_state_set(ctx, "0", 1, 0);
    actor_buf_dispose(&b);
    return rc;
}

static int counter_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                          const void *req, size_t len, void *payload)
{
    actor_buf b = ACTOR_BUF_INIT;
    char out[32];
    long count;
    int rc = actor_ctx_state_get(&b, ctx);

    if (rc != 0)
        return rc;
    count = atol(b.ptr);
    actor_buf_dispose(&b);
    if (strcmp(method, "Increment") == 0) {
        /* Read, add, write back: safe without a lock, one turn at a time. */
        snprintf(out, sizeof(out), "%ld", count + 1);
        if ((rc = actor_ctx_state_set(ctx, out, strlen(out), 0)) != 0)
            return rc;
        return actor_buf_puts(resp, out);
    }
    if (strcmp(method, "GetCount") == 0) {
        snprintf(out, sizeof(out), "%ld", count);
        return actor_buf_puts(resp, out);
    }
    return actor_error_set(ACTOR_EINVAL, "CounterActor has no method %s", method);
}

/* ---- driver -------------------------------------------------------------- */

static int start(actor_host **out, const char *url)
{
    actor_host_options opts;
    actor_type task = ACTOR_TYPE_INIT, counter = ACTOR_TYPE_INIT;
    int rc;

    actor_host_options_init(&opts);
    task.name = "TaskActor";
    task.activate = task_activate;
    task.invoke = task_invoke;
    task.deactivate = task_deactivate;
    task.idle_timeout_ms = 300; /* short, so the demo sees tasks go idle */
    counter.name = "CounterActor";
    counter.activate = counter_activate;
    counter.invoke = counter_invoke;
    if ((rc = actor_host_new(out, url, &opts)) != 0 ||
        (rc = actor_host_register(*out, &task, NULL)) != 0 ||
        (rc = actor_host_register(*out, &counter, NULL)) != 0 ||
        (rc = actor_host_start(*out)) != 0) {
        fprintf(stderr, "taskboard: cannot start a host on %s: %s\n", url, actor_error_last());
        actor_host_free(*out);
        *out = NULL;
    }
    return rc;
}

struct pending {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long left;
    long failed;
};

static void on_done(int error, const void *resp, size_t len, void *payload)
{
    struct pending *p = payload;

    pthread_mutex_lock(&p->mu);
    if (error != 0 && p->failed++ == 0)
        fprintf(stderr, "taskboard: a call failed: %s\n", actor_error_last());
    if (--p->left == 0)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void post_task(actor_host *h, struct pending *p, const char *id, const char *method,
                 const char *text)
{
    pthread_mutex_lock(&p->mu);
    p->left++;
    pthread_mutex_unlock(&p->mu);
    if (actor_invoke_async(h, "TaskActor", id, method, text, strlen(text), on_done, p) != 0)
        on_done(actor_error_last_code(), NULL, 0, p);
}

struct incrementer {
    actor_host *host;
    int calls;
    int failed;
};

static void *increment_many(void *arg)
{
    struct incrementer *inc = arg;

    for (int i = 0; i < inc->calls; i++)
        if (actor_invoke(NULL, inc->host, "CounterActor", "demo-counter", "Increment", NULL, 0))
            inc->failed++;
    return NULL;
}

static const char *status_of(long i)
{
    return i % 3 == 0 ? "done" : i % 3 == 1 ? "in_progress" : "blocked";
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "sqlite:taskboard.db";
    long ntasks = argc > 2 ? atol(argv[2]) : 3000;
    struct pending p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    actor_host *h = NULL;
    actor_buf b = ACTOR_BUF_INIT;
    struct incrementer inc[4];
    pthread_t th[4];
    char id[32];
    long ok = 0, bad = 0;
    struct timespec t0, t1;

    if (ntasks <= 0) {
        fprintf(stderr, "usage: taskboard [STORE_URL] [TASKS > 0]\n");
        return 2;
    }
    printf("libactor %s taskboard demo on %s\n", actor_version(), url);
    if (start(&h, url) != 0)
        return 1;

    /* 1. Drive the tasks: three messages each, all in flight at once. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < ntasks; i++) {
        snprintf(id, sizeof(id), "task-%ld", i);
        post_task(h, &p, id, "AddHistoryEntry", "created by the demo");
        post_task(h, &p, id, "UpdateStatus", status_of(i));
        post_task(h, &p, id, "AddHistoryEntry", "status set");
    }
    pthread_mutex_lock(&p.mu);
    while (p.left > 0)
        pthread_cond_wait(&p.cv, &p.mu);
    pthread_mutex_unlock(&p.mu);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("drove %ld tasks (%ld durable writes) in %.2f s; %d created, %ld failed calls\n",
           ntasks, ntasks * 4,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, g_created,
           p.failed);

    /* 2. 100 concurrent increments from 4 threads. */
    for (int i = 0; i < 4; i++) {
        inc[i].host = h;
        inc[i].calls = 25;
        inc[i].failed = 0;
        pthread_create(&th[i], NULL, increment_many, &inc[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += inc[i].failed;
    }
    if (actor_invoke(&b, h, "CounterActor", "demo-counter", "GetCount", NULL, 0) != 0) {
        fprintf(stderr, "taskboard: GetCount: %s\n", actor_error_last());
        return 1;
    }
    printf("counter after 100 concurrent increments: %s%s\n", b.ptr,
           strcmp(b.ptr, "100") == 0 && bad == 0 ? "" : "  <-- WRONG");
    if (strcmp(b.ptr, "100") != 0 || bad != 0)
        return 1;
    actor_state_delete(h, "CounterActor", "demo-counter");

    /* 3. Let the tasks go idle: the scanner deactivates them. */
    pthread_mutex_lock(&g_mu);
    while (g_deactivated < ntasks)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    printf("all tasks went idle and were deactivated (%d deactivations)\n", g_deactivated);
    actor_host_free(h);
    printf("host freed; opening a new host on the same database\n");

    /* 4. A new host: every task comes back with its status and history. */
    if (start(&h, url) != 0)
        return 1;
    for (long i = 0; i < ntasks; i++) {
        json_t *doc;
        snprintf(id, sizeof(id), "task-%ld", i);
        if (actor_invoke(&b, h, "TaskActor", id, "GetTask", NULL, 0) != 0) {
            fprintf(stderr, "taskboard: GetTask %s: %s\n", id, actor_error_last());
            bad++;
            continue;
        }
        doc = json_loadb(b.ptr, b.size, 0, NULL);
        if (doc && strcmp(json_string_value(json_object_get(doc, "status")), status_of(i)) == 0 &&
            json_array_size(json_object_get(doc, "history")) == 2)
            ok++;
        else
            bad++;
        if (i == 0)
            printf("sample: %s\n", b.ptr);
        json_decref(doc);
    }
    printf("recovered %ld of %ld tasks with their status and 2 history entries each "
           "(%d activations read existing state)\n",
           ok, ntasks, g_recovered);
    actor_buf_dispose(&b);
    actor_host_free(h);
    if (bad != 0 || ok != ntasks) {
        printf("FAILED: %ld tasks did not come back intact\n", bad);
        return 1;
    }
    printf("OK\n");
    return 0;
}
