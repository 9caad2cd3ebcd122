// memthrash MIB SECONDS: allocates MIB mebibytes one at a time, touching
// every page, then writes to every page over and over until SECONDS have
// passed (counted from the start, so a throttled allocation ends in time
// too). Beyond the memory it may use, the pages it touches must come back
// from swap, so it keeps reclaim busy for the whole run. Prints a progress
// line per 16 MiB and {"mib":M,"passes":P,"ms":T} with the MiB it
// allocated at the end. The OOM killer may end it first.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: memthrash MIB SECONDS\n");
    return 2;
  }
  long mib = strtol(argv[1], NULL, 10);
  double seconds = strtod(argv[2], NULL);
  long page = sysconf(_SC_PAGESIZE);
  size_t bytes = (size_t)mib << 20;
  double start = now_ms();
  char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    perror("memthrash: mmap");
    return 1;
  }
  long allocated = 0;
  for (long i = 0; i < mib && now_ms() - start < seconds * 1e3; i++) {
    for (long off = 0; off < (1 << 20); off += page) mem[(i << 20) + off] = (char)i;
    allocated = i + 1;
    if ((i + 1) % 16 == 0) {
      printf("{\"allocatedMib\":%ld,\"ms\":%.0f}\n", i + 1, now_ms() - start);
      fflush(stdout);
    }
  }
  long passes = 0;
  size_t touched = (size_t)allocated << 20;
  while (now_ms() - start < seconds * 1e3) {
    for (size_t off = 0; off < touched; off += (size_t)page) mem[off]++;
    passes++;
  }
  printf("{\"mib\":%ld,\"passes\":%ld,\"ms\":%.0f}\n", allocated, passes, now_ms() - start);
  return 0;
}
