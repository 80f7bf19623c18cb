struct s {
    int a;
