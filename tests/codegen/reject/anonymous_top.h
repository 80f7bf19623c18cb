struct {
    int a;
} global;
