// memhog MIB: allocates MIB mebibytes one at a time, touching every page so
// that it is charged to the memory cgroup, and prints the running total.
// Exits 0 when all of it is resident; the OOM killer ends it otherwise.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: memhog MIB\n");
    return 2;
  }
  long mib = strtol(argv[1], NULL, 10);
  long page = sysconf(_SC_PAGESIZE);
  for (long i = 0; i < mib; i++) {
    char *chunk = malloc(1 << 20);
    if (!chunk) {
      printf("malloc failed at %ld MiB\n", i);
      return 1;
    }
    for (long off = 0; off < (1 << 20); off += page) chunk[off] = (char)i;
    printf("%ld\n", i + 1);
    fflush(stdout);
  }
  printf("done\n");
  return 0;
}
