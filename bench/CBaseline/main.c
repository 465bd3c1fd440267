#include <stdio.h>
int main(void) { puts("baseline"); return 0; }
