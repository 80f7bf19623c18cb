struct s {
    long double x;
};
