#include <stdint.h>

struct s {
    union {
        int32_t a;
        float b;
    } u;
};
