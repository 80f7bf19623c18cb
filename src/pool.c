/*
 * pool.c: the worker pool that runs actors. One FIFO run queue (intrusive,
 * O(1) push and pop, no stealing to walk) guarded by one mutex, and a set of
 * threads of which at most `target` run items at once.
 *
 * Wake-ups are rationed: a push signals a sleeping thread only when fewer
 * than `target` threads are running and none is already on its way, so a
 * busy pool takes new work without any futex traffic. Managed blocking: a
 * worker about to block (a blocking invoke, a store commit) leaves the count
 * of running threads, and if work is queued another thread, woken or newly
 * started (up to max_threads), takes its place. This keeps turns that wait
 * on each other or on the store from starving the pool, and lets many actors
 * wait on one group commit at the same time.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct actor__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    actor__runnable *head, *tail;
    unsigned target;      /* threads that may run items at once */
    unsigned max_threads; /* threads that may exist at once */
    unsigned nthreads;    /* threads started */
    unsigned nidle;       /* threads waiting on cv */
    unsigned nwaking;     /* signalled, not yet awake */
    unsigned nrunning;    /* threads running an item and not blocked */
    int stopping;
    actor__pool_run_fn run;
    void *payload;
    pthread_t *threads;
    size_t threads_cap;
    pthread_attr_t attr;
};

static _Thread_local actor__pool *tls_pool;

static void *worker_main(void *arg)
{
    actor__pool *p = arg;
    actor__runnable *item;

    tls_pool = p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && (p->head == NULL || p->nrunning >= p->target)) {
            p->nidle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->nidle--;
            if (p->nwaking > 0)
                p->nwaking--;
        }
        if (p->head == NULL)
            break; /* stopping and drained */
        item = p->head;
        p->head = item->next;
        if (p->head == NULL)
            p->tail = NULL;
        item->next = NULL;
        p->nrunning++;
        pthread_mutex_unlock(&p->mu);

        p->run(item, p->payload);

        pthread_mutex_lock(&p->mu);
        p->nrunning--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Start one more thread. Called with p->mu held. */
static int spawn_locked(actor__pool *p)
{
    if (p->nthreads == p->threads_cap) {
        size_t cap = p->threads_cap ? p->threads_cap * 2 : 8;
        pthread_t *t = realloc(p->threads, cap * sizeof(*t));
        if (t == NULL)
            return ACTOR_ENOMEM;
        p->threads = t;
        p->threads_cap = cap;
    }
    if (pthread_create(&p->threads[p->nthreads], &p->attr, worker_main, p) != 0)
        return ACTOR_ERROR;
    p->nthreads++;
    return 0;
}

int actor__pool_new(actor__pool **out, unsigned workers, unsigned max_threads,
                    actor__pool_run_fn run, void *payload)
{
    actor__pool *p;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return actor__error_oom();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_attr_init(&p->attr);
    pthread_attr_setstacksize(&p->attr, 1024 * 1024);
    p->target = workers ? workers : 1;
    p->max_threads = max_threads < p->target ? p->target : max_threads;
    p->run = run;
    p->payload = payload;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->target; i++) {
        if (spawn_locked(p) != 0) {
            pthread_mutex_unlock(&p->mu);
            actor__pool_free(p);
            return actor_error_set(ACTOR_ERROR, "cannot start worker thread %u of %u", i + 1,
                                   workers);
        }
    }
    pthread_mutex_unlock(&p->mu);
    *out = p;
    return 0;
}

/* Called with p->mu held: make sure queued work has a thread coming. */
static void wake_locked(actor__pool *p)
{
    if (p->head == NULL || p->nrunning + p->nwaking >= p->target)
        return;
    if (p->nidle > p->nwaking) {
        p->nwaking++;
        pthread_cond_signal(&p->cv);
    } else if (p->nthreads < p->max_threads && !p->stopping) {
        /* Every thread is busy or blocked: add one (managed blocking). */
        (void)spawn_locked(p);
    }
}

void actor__pool_push(actor__pool *p, actor__runnable *item)
{
    item->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = item;
    else
        p->head = item;
    p->tail = item;
    wake_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void actor__pool_block_enter(void)
{
    actor__pool *p = tls_pool;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->nrunning--;
    wake_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void actor__pool_block_leave(void)
{
    actor__pool *p = tls_pool;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->nrunning++;
    pthread_mutex_unlock(&p->mu);
}

int actor__pool_is_worker(void)
{
    return tls_pool != NULL;
}

unsigned actor__pool_threads(actor__pool *p)
{
    unsigned n;

    pthread_mutex_lock(&p->mu);
    n = p->nthreads;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void actor__pool_free(actor__pool *p)
{
    unsigned n;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    n = p->nthreads;
    pthread_mutex_unlock(&p->mu);
    /* Threads are only added while not stopping, so n is final. */
    for (unsigned i = 0; i < n; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_attr_destroy(&p->attr);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
