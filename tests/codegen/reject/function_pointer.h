struct s {
    int (*callback)(void *);
};
