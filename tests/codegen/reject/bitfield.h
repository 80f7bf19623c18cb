struct s {
    unsigned flags : 3;
};
