struct s {
    int a, b; /* actor: json=x */
};
