struct s {
    int a; /* actor: skip json=b */
};
