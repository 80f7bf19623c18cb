struct s {
    int *cells[4];
};
