struct s {
    struct {
        int a;
    } inner;
};
