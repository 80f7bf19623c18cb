enum color {
    RED, /* actor: json=red */
    CRIMSON /* actor: json=red */
};

struct s {
    enum color c;
};
