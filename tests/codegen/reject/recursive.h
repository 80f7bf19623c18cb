#include <stddef.h>

struct node {
    int value;
    struct node *children;
    size_t children_count;
};
