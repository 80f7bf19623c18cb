/*
 * cart_state.h: the state of a shopping cart actor, as ordinary C structs.
 * actorgen turns this header into cart_state.gen.h/.gen.c: JSON codecs and
 * the typed state client (cart_state_get/set/delete...). Prices are in
 * cents so totals are exact.
 */
#ifndef CART_STATE_H
#define CART_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cart_item {
    char name[64];
    uint32_t quantity;
    int64_t price_cents; /* actor: json=price */
} cart_item;

typedef struct cart_state {
    cart_item *items; /* a dynamic array: pointer + items_count */
    size_t items_count;
    int64_t updated_ms;
} cart_state;

/* The request of the add method. */
typedef struct cart_add {
    char name[64];
    uint32_t quantity;
    int64_t price_cents; /* actor: json=price */
} cart_add;

/* The response of checkout. */
typedef struct cart_receipt {
    uint32_t items;
    int64_t total_cents; /* actor: json=total */
} cart_receipt;

#endif
