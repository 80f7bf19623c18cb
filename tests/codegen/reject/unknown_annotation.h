struct s {
    int a; /* actor: rename=b */
};
