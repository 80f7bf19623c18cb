struct s {
    char initial;
};
