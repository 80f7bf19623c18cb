#include <stddef.h>

struct s {
    size_t n;
    int values[];
};
