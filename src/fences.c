/*
 * fences.c: a provider's memory of fences it saw hold. A fenced write
 * checks, in its transaction, that its actor's lease row still names its
 * host and epoch; in a batch of small writes that lookup is a large part
 * of the cost. A provider that can prove no lease row it saw hold has
 * changed since (each says how in docs/providers.md) keeps those fences
 * here and skips the lookup for them. Direct-mapped and bounded: a miss
 * only costs the lookup. Not locked: the provider serialises its calls.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FENCE_SLOTS 4096

struct actor__fence_slot {
    uint64_t hash;  /* of (type, id) */
    uint64_t epoch; /* the lease's epoch */
    char *key;      /* "type\0id\0host\0", owned; NULL when the slot is empty */
};

void actor__fences_forget_all(actor__fences *f)
{
    if (f->slots == NULL)
        return;
    for (size_t i = 0; i < FENCE_SLOTS; i++) {
        free(f->slots[i].key);
        f->slots[i].key = NULL;
    }
}

void actor__fences_dispose(actor__fences *f)
{
    actor__fences_forget_all(f);
    free(f->slots);
    f->slots = NULL;
}

static uint64_t fence_hash(const char *type, const char *id)
{
    uint64_t h = 14695981039346656037u;

    for (const unsigned char *p = (const unsigned char *)type; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    h = (h ^ 0xff) * 1099511628211u; /* no byte of a name: separates type from id */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return h ^ (h >> 29);
}

/* The slot of (type, id) when it holds that key, else NULL; *host_out then
 * points at the remembered host. */
static struct actor__fence_slot *find(const actor__fences *f, const char *type, const char *id,
                                      uint64_t h, const char **host_out)
{
    struct actor__fence_slot *s;
    const char *k;

    if (f->slots == NULL)
        return NULL;
    s = &f->slots[h & (FENCE_SLOTS - 1)];
    if ((k = s->key) == NULL || s->hash != h || strcmp(k, type) != 0)
        return NULL;
    k += strlen(k) + 1;
    if (strcmp(k, id) != 0)
        return NULL;
    *host_out = k + strlen(k) + 1;
    return s;
}

int actor__fences_known(const actor__fences *f, const actor_store_op *op)
{
    const char *host;
    struct actor__fence_slot *s;

    if (op->fence_host == NULL)
        return 0;
    s = find(f, op->type, op->id, fence_hash(op->type, op->id), &host);
    return s != NULL && s->epoch == op->fence_epoch && strcmp(host, op->fence_host) == 0;
}

void actor__fences_remember(actor__fences *f, const actor_store_op *op)
{
    size_t tl = strlen(op->type), il = strlen(op->id), hl = strlen(op->fence_host);
    uint64_t h = fence_hash(op->type, op->id);
    struct actor__fence_slot *s;
    char *k;

    if (f->slots == NULL && (f->slots = calloc(FENCE_SLOTS, sizeof(*f->slots))) == NULL)
        return;
    if ((k = malloc(tl + il + hl + 3)) == NULL)
        return;
    memcpy(k, op->type, tl + 1);
    memcpy(k + tl + 1, op->id, il + 1);
    memcpy(k + tl + il + 2, op->fence_host, hl + 1);
    s = &f->slots[h & (FENCE_SLOTS - 1)];
    free(s->key);
    s->key = k;
    s->hash = h;
    s->epoch = op->fence_epoch;
}

void actor__fences_forget(actor__fences *f, const char *type, const char *id)
{
    const char *host;
    struct actor__fence_slot *s = find(f, type, id, fence_hash(type, id), &host);

    if (s != NULL) {
        free(s->key);
        s->key = NULL;
    }
}
