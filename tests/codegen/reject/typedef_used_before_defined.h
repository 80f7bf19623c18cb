typedef struct outer {
    inner in;
} outer;

typedef struct inner {
    int a;
} inner;
