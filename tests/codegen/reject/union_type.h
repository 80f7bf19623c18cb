union num {
    int i;
    double d;
};

struct s {
    union num n;
};
