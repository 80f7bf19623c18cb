struct s {
    int a; /* actor: json=a/b */
};
