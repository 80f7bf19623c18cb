struct s {
    struct inner {
        int a;
    } in;
};
