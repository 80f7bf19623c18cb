#include <stddef.h>

struct s {
    int **grid;
    size_t grid_count;
};
