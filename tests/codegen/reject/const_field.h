struct s {
    const char *name;
};
