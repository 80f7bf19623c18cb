/*
 * msgmem.c: memory for messages. A message is allocated by the sending
 * thread and freed by the worker that turned it, so with plain malloc every
 * message is a free into another thread's arena: the arena's lock bounces
 * between the sender's malloc and the worker's free, and the sender's heap
 * keeps growing and shrinking. Here each thread keeps its own blocks: a
 * block of BLOCK bytes freed by its owner goes back on the owner's list; one
 * freed by any other thread is pushed on the owner's return stack (one
 * compare-and-swap), which the owner takes whole (one exchange) when its
 * list runs dry. Requests larger than a block use malloc.
 *
 * Bounded: a thread keeps at most KEEP blocks on its list and about as many
 * on its return stack; beyond that, blocks go back to malloc. A thread's
 * blocks may outlive it (a message it sent is still queued when it exits):
 * its home then refuses returns (DEAD) and is freed by whoever frees its
 * last block. Under AddressSanitizer blocks are plain malloc, so a message
 * used after it was freed is still caught.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

#define BLOCK 256  /* bytes per block, header included */
#define KEEP  1024 /* blocks a thread keeps for reuse */

#if defined(__SANITIZE_ADDRESS__)
#define MSGMEM_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSGMEM_PLAIN 1
#endif
#endif

typedef struct home home;

/* Header of every block; the caller's memory follows, max-aligned. */
typedef union header {
    struct {
        home *owner; /* NULL: plain malloc */
        union header *next;
    } h;
    max_align_t align;
} header;

struct home {
    header *list;     /* owner only */
    size_t nlist;     /* owner only */
    header *returned; /* atomic: pushed by others, taken whole by the owner */
    size_t nreturned; /* atomic, approximate: bounds the return stack */
    size_t live;      /* atomic: blocks not given back to malloc, +1 while the owner lives */
};

#define DEAD ((header *)1)

static pthread_key_t home_key;
static pthread_once_t home_once = PTHREAD_ONCE_INIT;
static _Thread_local home *tls_home;

static void home_release(home *hm, size_t n)
{
    if (__atomic_sub_fetch(&hm->live, n, __ATOMIC_ACQ_REL) == 0)
        free(hm);
}

/* Thread exit: give back every block at hand and refuse returns from now. */
static void home_exit(void *arg)
{
    home *hm = arg;
    header *b, *next;
    size_t n = 0;

    b = __atomic_exchange_n(&hm->returned, DEAD, __ATOMIC_ACQ_REL);
    for (; b; b = next, n++) {
        next = b->h.next;
        free(b);
    }
    for (b = hm->list; b; b = next, n++) {
        next = b->h.next;
        free(b);
    }
    hm->list = NULL;
    tls_home = NULL;
    home_release(hm, n + 1);
}

static void home_key_init(void)
{
    (void)pthread_key_create(&home_key, home_exit);
}

static home *home_get(void)
{
    home *hm = tls_home;

    if (hm != NULL)
        return hm;
    if (pthread_once(&home_once, home_key_init) != 0)
        return NULL;
    hm = calloc(1, sizeof(*hm));
    if (hm == NULL)
        return NULL;
    hm->live = 1;
    if (pthread_setspecific(home_key, hm) != 0) {
        free(hm);
        return NULL;
    }
    tls_home = hm;
    return hm;
}

void *actor__msgmem_alloc(size_t size)
{
    header *b;
    home *hm;

#ifndef MSGMEM_PLAIN
    if (size <= BLOCK - sizeof(header) && (hm = home_get()) != NULL) {
        if (hm->list == NULL) {
            hm->list = __atomic_exchange_n(&hm->returned, NULL, __ATOMIC_ACQUIRE);
            __atomic_store_n(&hm->nreturned, 0, __ATOMIC_RELAXED);
            for (header *r = hm->list; r; r = r->h.next)
                hm->nlist++;
        }
        if ((b = hm->list) != NULL) {
            hm->list = b->h.next;
            hm->nlist--;
            return b + 1;
        }
        if ((b = malloc(BLOCK)) == NULL)
            return NULL;
        __atomic_add_fetch(&hm->live, 1, __ATOMIC_RELAXED);
        b->h.owner = hm;
        return b + 1;
    }
#else
    (void)hm;
#endif
    if (size > SIZE_MAX - sizeof(header) || (b = malloc(sizeof(header) + size)) == NULL)
        return NULL;
    b->h.owner = NULL;
    return b + 1;
}

void actor__msgmem_free(void *p)
{
    header *b, *old;
    home *hm;

    if (p == NULL)
        return;
    b = (header *)p - 1;
    hm = b->h.owner;
    if (hm == NULL) {
        free(b);
        return;
    }
    if (hm == tls_home) {
        if (hm->nlist < KEEP) {
            b->h.next = hm->list;
            hm->list = b;
            hm->nlist++;
            return;
        }
    } else if (__atomic_load_n(&hm->nreturned, __ATOMIC_RELAXED) < KEEP) {
        old = __atomic_load_n(&hm->returned, __ATOMIC_RELAXED);
        while (old != DEAD) {
            b->h.next = old;
            if (__atomic_compare_exchange_n(&hm->returned, &old, b, 1, __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED)) {
                __atomic_add_fetch(&hm->nreturned, 1, __ATOMIC_RELAXED);
                return;
            }
        }
    }
    /* Too many kept, or the owner is gone: back to malloc. */
    free(b);
    home_release(hm, 1);
}
