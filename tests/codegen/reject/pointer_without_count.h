#include <stdint.h>

struct s {
    int32_t *values;
};
