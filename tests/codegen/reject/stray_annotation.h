/* actor: skip */
int counter;

struct s {
    int a;
};
