/* cart_state.h: the state type used by the examples in docs/codegen.md. */
#include <stddef.h>
#include <stdint.h>

typedef struct cart_item {
    char name[64];
    uint32_t quantity;
    int64_t price_cents; /* actor: json=price */
} cart_item;

typedef struct cart_state {
    cart_item *items; /* dynamic array: pointer + items_count */
    size_t items_count;
    int64_t updated_ms;
} cart_state;
