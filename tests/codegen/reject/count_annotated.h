#include <stddef.h>
#include <stdint.h>

struct s {
    int32_t *v;
    size_t v_count; /* actor: json=n */
};
