/*
 * msgmem.c: message memory. Blocks freed by their own thread or by others
 * are reused by the thread that allocated them; what a thread keeps is
 * bounded; blocks outliving their thread are given back to malloc by
 * whoever frees them last; blocks of the two smaller sizes are carved
 * side by side out of slabs that go back to malloc with their last block;
 * large requests work. The heap's in-use bytes (mallinfo2) show what is
 * kept or leaked. Under AddressSanitizer blocks
 * are plain malloc, so the reuse checks are skipped there.
 */
#include "test.h"

#include <malloc.h>
#include <pthread.h>

#include "internal.h"

#define N     8000
#define SMALL 100 /* a block of the middle size (two lines) */
#define LINE  40  /* a one-line block */

static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

/* The size the batch tests below allocate; each runs with both. */
static size_t g_size = SMALL;

static int recycles(void)
{
    /* Freed by its own thread, a block comes straight back. */
    void *a = actor__msgmem_alloc(SMALL), *b;
    actor__msgmem_free(a);
    b = actor__msgmem_alloc(SMALL);
    actor__msgmem_free(b);
    return a == b;
}

struct batch {
    void *p[N];
    size_t size;
};

static void *alloc_batch(void *arg)
{
    struct batch *bt = arg;
    for (int i = 0; i < N; i++) {
        bt->p[i] = actor__msgmem_alloc(bt->size);
        if (bt->p[i] != NULL)
            memset(bt->p[i], i & 0xff, bt->size);
    }
    return NULL;
}

static void *free_batch(void *arg)
{
    struct batch *bt = arg;
    for (int i = 0; i < N; i++)
        actor__msgmem_free(bt->p[i]);
    return NULL;
}

static void own_thread(void)
{
    static struct batch bt;
    size_t before;
    int reused = 0;
    void *again[64];

    if (!recycles()) {
        T_SKIP("blocks are plain malloc in this build");
        return;
    }
    before = heap_in_use();
    bt.size = g_size;
    alloc_batch(&bt);
    for (int i = 0; i < N; i++) {
        T_ASSERT(bt.p[i] != NULL);
        T_EQ(((unsigned char *)bt.p[i])[g_size - 1], i & 0xff);
    }
    free_batch(&bt);
    /* Bounded: far fewer than N blocks are kept. */
    T_CHECK(heap_in_use() < before + (size_t)N * 256 / 2);
    /* The kept ones come back first. */
    for (int i = 0; i < 64; i++) {
        again[i] = actor__msgmem_alloc(g_size);
        for (int j = 0; j < N; j++)
            if (bt.p[j] == again[i]) {
                reused++;
                break;
            }
    }
    T_EQ(reused, 64);
    for (int i = 0; i < 64; i++)
        actor__msgmem_free(again[i]);
}

/* In a fresh thread (nothing kept yet): 64 blocks freed by another thread
 * are what the next 64 allocations return. */
static void *returned_by_others(void *arg)
{
    static struct batch bt;
    int *reused = arg;
    pthread_t t;
    void *again[64];

    bt.size = g_size;
    for (int i = 0; i < 64; i++)
        bt.p[i] = actor__msgmem_alloc(g_size);
    for (int i = 64; i < N; i++)
        bt.p[i] = NULL;
    if (pthread_create(&t, NULL, free_batch, &bt) != 0)
        return NULL;
    pthread_join(t, NULL);
    for (int i = 0; i < 64; i++) {
        again[i] = actor__msgmem_alloc(g_size);
        for (int j = 0; j < 64; j++)
            if (bt.p[j] == again[i])
                (*reused)++;
    }
    for (int i = 0; i < 64; i++)
        actor__msgmem_free(again[i]);
    return NULL;
}

static void returned_by_others_test(void)
{
    pthread_t t;
    int reused = 0;

    if (!recycles()) {
        T_SKIP("blocks are plain malloc in this build");
        return;
    }
    T_ASSERT(pthread_create(&t, NULL, returned_by_others, &reused) == 0);
    pthread_join(t, NULL);
    T_EQ(reused, 64);
}

static void outlive_their_thread(void)
{
    static struct batch bt;
    size_t before = heap_in_use();
    pthread_t t;

    bt.size = g_size;
    /* A thread allocates and exits; its blocks are freed here later: all
     * of them, and its bookkeeping, go back to malloc. */
    for (int round = 0; round < 3; round++) {
        T_ASSERT(pthread_create(&t, NULL, alloc_batch, &bt) == 0);
        pthread_join(t, NULL);
        for (int i = 0; i < N; i++) {
            T_ASSERT(bt.p[i] != NULL);
            T_EQ(((unsigned char *)bt.p[i])[0], i & 0xff);
        }
        free_batch(&bt);
    }
    T_CHECK(heap_in_use() < before + (size_t)N * 256 / 4);
}

/* Run a batch test with each slabbed size in g_size. */
static void at_both_sizes(void (*test)(void))
{
    g_size = SMALL;
    test();
    g_size = LINE;
    test();
}

static void test_own_thread(void)
{
    at_both_sizes(own_thread);
}

static void test_returned_by_others(void)
{
    at_both_sizes(returned_by_others_test);
}

static void test_outlive_their_thread(void)
{
    at_both_sizes(outlive_their_thread);
}

/* A thread that has nothing to reuse carves blocks of the two smaller
 * sizes out of slabs in turn: each on cache lines of its own, next to the
 * one before (a slab's first line is its header, so at most one gap per
 * 64 lines). Its slabs outlive it while blocks are out; freed from here,
 * all of them go back to malloc, the ones it was still carving included. */
static void slabs(size_t size, size_t stride)
{
    static struct batch bt;
    size_t before = heap_in_use();
    pthread_t t;
    int adjacent = 0;

    bt.size = size;
    T_ASSERT(pthread_create(&t, NULL, alloc_batch, &bt) == 0);
    pthread_join(t, NULL);
    for (int i = 0; i < N; i++) {
        T_ASSERT(bt.p[i] != NULL);
        T_EQ((uintptr_t)bt.p[i] % 64, 16); /* after the block's 16-byte header */
        T_EQ(((unsigned char *)bt.p[i])[size - 1], i & 0xff);
        if (i > 0 && (size_t)((char *)bt.p[i] - (char *)bt.p[i - 1]) == stride)
            adjacent++;
    }
    T_CHECK(adjacent >= N - N / (int)(63 / (stride / 64)) - 1);
    /* Half, then the rest, freed in the opposite order of allocation. */
    for (int i = N - 1; i >= 0; i -= 2)
        actor__msgmem_free(bt.p[i]);
    for (int i = N - 2; i >= 0; i -= 2)
        actor__msgmem_free(bt.p[i]);
    T_CHECK(heap_in_use() < before + 4096);
}

static void test_slabs(void)
{
    if (!recycles()) {
        T_SKIP("blocks are plain malloc in this build");
        return;
    }
    slabs(LINE, 64);
    slabs(SMALL, 128);
}

static void test_large(void)
{
    static struct batch bt = {.size = 5000};

    alloc_batch(&bt);
    for (int i = 0; i < N; i += 97) {
        T_ASSERT(bt.p[i] != NULL);
        T_EQ(((unsigned char *)bt.p[i])[4999], i & 0xff);
    }
    free_batch(&bt);
    actor__msgmem_free(NULL);
}

/* Threads hand blocks round a ring and exit at different times: every
 * block is freed by a thread other than its owner, some after the owner
 * exited. For ThreadSanitizer. */
#define RING 4
struct ring {
    pthread_mutex_t mu;
    void *slot[RING][256];
    int count[RING];
};
static struct ring g_ring = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *ring_worker(void *arg)
{
    int me = (int)(intptr_t)arg, next = (me + 1) % RING;
    int rounds = 200 * (me + 1);

    for (int r = 0; r < rounds; r++) {
        void *mine[16];
        for (int i = 0; i < 16; i++) {
            mine[i] = actor__msgmem_alloc(r % 3 == 0 ? 400 : r % 3 == 1 ? SMALL : LINE);
            memset(mine[i], me, 8);
        }
        pthread_mutex_lock(&g_ring.mu);
        /* Free what was handed to me, hand mine on. */
        for (int i = 0; i < g_ring.count[me]; i++)
            actor__msgmem_free(g_ring.slot[me][i]);
        g_ring.count[me] = 0;
        for (int i = 0; i < 16; i++) {
            if (g_ring.count[next] < 256)
                g_ring.slot[next][g_ring.count[next]++] = mine[i];
            else
                actor__msgmem_free(mine[i]);
        }
        pthread_mutex_unlock(&g_ring.mu);
    }
    return NULL;
}

static void test_ring(void)
{
    pthread_t t[RING];

    for (int i = 0; i < RING; i++)
        T_ASSERT(pthread_create(&t[i], NULL, ring_worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < RING; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < RING; i++) {
        for (int j = 0; j < g_ring.count[i]; j++)
            actor__msgmem_free(g_ring.slot[i][j]);
        g_ring.count[i] = 0;
    }
}

int main(void)
{
    T_RUN(test_own_thread);
    T_RUN(test_returned_by_others);
    T_RUN(test_outlive_their_thread);
    T_RUN(test_slabs);
    T_RUN(test_large);
    T_RUN(test_ring);
    return t_done();
}
