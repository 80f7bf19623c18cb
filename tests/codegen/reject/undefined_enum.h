struct s {
    enum color c;
};
