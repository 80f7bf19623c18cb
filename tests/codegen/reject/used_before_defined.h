struct outer {
    struct inner in;
};

struct inner {
    int a;
};
