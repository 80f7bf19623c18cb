typedef union num {
    int i;
} num;

struct s {
    num n;
};
