struct s {
    volatile int ticks;
};
