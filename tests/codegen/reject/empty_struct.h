struct s {
    /* actor: skip */
};
