// holdmem MIB SECONDS: allocates MIB mebibytes, touching every page so that
// it is charged to the memory cgroup, and prints {"held_mib": MIB} once all of
// it is resident. It then keeps the memory for SECONDS and exits 0. If an
// allocation fails, it prints {"held_mib": K, "error": "malloc failed"} and exits 1.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: holdmem MIB SECONDS\n");
    return 2;
  }
  long mib = strtol(argv[1], NULL, 10);
  long seconds = strtol(argv[2], NULL, 10);
  long page = sysconf(_SC_PAGESIZE);
  for (long i = 0; i < mib; i++) {
    char *chunk = malloc(1 << 20);
    if (!chunk) {
      printf("{\"held_mib\": %ld, \"error\": \"malloc failed\"}\n", i);
      return 1;
    }
    for (long off = 0; off < (1 << 20); off += page) chunk[off] = (char)(i + 1);
  }
  printf("{\"held_mib\": %ld}\n", mib);
  fflush(stdout);
  if (seconds > 0) sleep((unsigned)seconds);
  return 0;
}
