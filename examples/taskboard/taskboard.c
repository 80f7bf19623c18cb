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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "task_state.gen.h"

/* ---- TaskActor ----------------------------------------------------------- */

static int g_created, g_recovered; /* counted atomically */
static int g_deactivated;          /* guarded by g_mu */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static void now_iso(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year % 10000 + 1900,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (long)(ts.tv_nsec / 1000000) % 1000L);
}

static int task_activate(void **instance, actor_ctx *ctx, void *payload)
{
    task_state task;
    int rc = task_state_state_get(&task, ctx); /* the zero value when absent */

    if (rc != 0)
        return rc;
    if (task.status[0] == '\0') {
        /* First activation ever: create the task. */
        snprintf(task.status, sizeof(task.status), "pending");
        now_iso(task.created_at, sizeof(task.created_at));
        rc = task_state_state_set(ctx, &task, 0);
        if (rc == 0)
            __atomic_add_fetch(&g_created, 1, __ATOMIC_RELAXED);
    } else {
        __atomic_add_fetch(&g_recovered, 1, __ATOMIC_RELAXED);
    }
    task_state_free(&task);
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

/* Copy the request bytes into a new NUL-terminated string. */
static char *request_text(const void *req, size_t len)
{
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, req, len);
        s[len] = '\0';
    }
    return s;
}

static int task_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                       const void *req, size_t len, void *payload)
{
    task_state task;
    history_entry *grown;
    int rc = task_state_state_get(&task, ctx);

    if (rc != 0)
        return rc;
    if (strcmp(method, "GetTask") == 0) {
        rc = task_state_encode(resp, &task);
    } else if (strcmp(method, "UpdateStatus") == 0) {
        if (len == 0 || len >= sizeof(task.status)) {
            rc = actor_error_set(ACTOR_EINVAL, "UpdateStatus: status must be 1 to %zu bytes",
                                 sizeof(task.status) - 1);
        } else {
            memcpy(task.status, req, len);
            task.status[len] = '\0';
            free(task.updated_at);
            task.updated_at = malloc(32);
            if (task.updated_at == NULL)
                rc = ACTOR_ENOMEM;
            else
                now_iso(task.updated_at, 32);
            if (rc == 0)
                rc = task_state_state_set(ctx, &task, 0); /* EINVAL if not UTF-8 */
        }
    } else if (strcmp(method, "AddHistoryEntry") == 0) {
        grown = realloc(task.history, (task.history_count + 1) * sizeof(*grown));
        if (grown == NULL) {
            rc = ACTOR_ENOMEM;
        } else {
            history_entry *e = &grown[task.history_count];
            task.history = grown;
            memset(e, 0, sizeof(*e));
            task.history_count++;
            e->entry = request_text(req, len);
            now_iso(e->timestamp, sizeof(e->timestamp));
            rc = e->entry ? task_state_state_set(ctx, &task, 0) : ACTOR_ENOMEM;
        }
    } else {
        rc = actor_error_set(ACTOR_EINVAL, "TaskActor has no method %s", method);
    }
    task_state_free(&task);
    return rc;
}

/* ---- CounterActor -------------------------------------------------------- */

static int counter_activate(void **instance, actor_ctx *ctx, void *payload)
{
    counter_state c;
    actor_buf raw = ACTOR_BUF_INIT;
    int rc = actor_ctx_state_get(&raw, ctx);

    actor_buf_dispose(&raw);
    if (rc != ACTOR_ENOTFOUND)
        return rc; /* already initialised (0), or a real error */
    counter_state_init(&c);
    return counter_state_state_set(ctx, &c, 0);
}

static int counter_invoke(actor_buf *resp, void *instance, actor_ctx *ctx, const char *method,
                          const void *req, size_t len, void *payload)
{
    counter_state c;
    char out[32];
    int rc = counter_state_state_get(&c, ctx);

    if (rc != 0)
        return rc;
    if (strcmp(method, "Increment") == 0) {
        /* Read, add, write back: safe without a lock, one turn at a time. */
        c.count++;
        if ((rc = counter_state_state_set(ctx, &c, 0)) != 0)
            return rc;
    } else if (strcmp(method, "GetCount") != 0) {
        return actor_error_set(ACTOR_EINVAL, "CounterActor has no method %s", method);
    }
    snprintf(out, sizeof(out), "%lld", (long long)c.count);
    return actor_buf_puts(resp, out);
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
    printf("drove %ld tasks (%ld durable writes) in %.2f s; %d created, %ld failed calls\n", ntasks,
           ntasks * 4, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           g_created, p.failed);

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
        task_state task;
        snprintf(id, sizeof(id), "task-%ld", i);
        if (actor_invoke(&b, h, "TaskActor", id, "GetTask", NULL, 0) != 0) {
            fprintf(stderr, "taskboard: GetTask %s: %s\n", id, actor_error_last());
            bad++;
            continue;
        }
        if (task_state_decode(&task, b.ptr, b.size, NULL) == 0 &&
            strcmp(task.status, status_of(i)) == 0 && task.history_count == 2 &&
            task.updated_at != NULL)
            ok++;
        else
            bad++;
        if (i == 0)
            printf("sample: %s\n", b.ptr);
        task_state_free(&task);
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
