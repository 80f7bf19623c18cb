struct s {
    int a; /* actor: json=b */
    int b;
};
