struct s {
    void *data;
};
