#include <stdint.h>

struct s {
    int32_t *values;
    int values_count;
};
