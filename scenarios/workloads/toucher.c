// toucher FILE FILE_MIB ANON_MIB SECONDS [PAUSE_MS]: keeps a working set
// hot. It writes FILE_MIB MiB to FILE (fsync'd, so that its page cache
// pages are clean and reclaim could drop them) and maps it, allocates
// ANON_MIB MiB of anonymous memory, touches every page once, prints
// {"ready":true} and then touches every page over and over, timing each
// pass over the whole working set and pausing PAUSE_MS (default 2) between
// passes, until SIGUSR1 or SECONDS. A pass that needs major faults
// (refaults from disk or swap) takes far longer than one that hits memory,
// so the tail of the pass times shows whether the working set stayed
// resident. Prints
//   {"passes":P,"p50Us":A,"p99Us":B,"maxUs":M,"majorFaults":F,"ms":T}
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

// Pass times go into a histogram with 20 buckets per decade from 0.1 us
// to 10 s, so memory use does not grow with the run. Quantiles are read as
// a bucket's upper edge, which is within 12% of the true value.
#define BUCKETS_PER_DECADE 20
#define BUCKETS (8 * BUCKETS_PER_DECADE)
// 10^(1/20): the ratio of neighbouring bucket edges, so libm is not needed.
#define BUCKET_RATIO 1.1220184543019633
static long histogram[BUCKETS];
static double upper_edge[BUCKETS];
static long passes;

static volatile sig_atomic_t stop;
static void on_signal(int signo) { (void)signo; stop = 1; }

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double max_us;

static void record(double us) {
  if (us > max_us) max_us = us;
  int lo = 0, hi = BUCKETS - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (us <= upper_edge[mid]) hi = mid;
    else lo = mid + 1;
  }
  histogram[lo]++;
  passes++;
}

// Returns the upper edge of the bucket with quantile q in it, in us.
static double quantile(double q) {
  long rank = (long)(q * (double)(passes - 1)), seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    seen += histogram[b];
    if (seen > rank) return upper_edge[b];
  }
  return 0;
}

static char *map_file(const char *path, size_t bytes) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return NULL;
  char block[1 << 16];
  memset(block, 0x5a, sizeof(block));
  for (size_t done = 0; done < bytes; done += sizeof(block)) {
    if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) return NULL;
  }
  fsync(fd);
  char *p = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? NULL : p;
}

static long major_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_majflt;
}

// Touches every page of one region once: reads for the file, writes for
// the anonymous memory, which keeps those pages dirty.
static unsigned touch(char *p, size_t bytes, int write, long page) {
  unsigned sum = 0;
  for (size_t off = 0; off < bytes && !stop; off += (size_t)page) {
    if (write) p[off]++;
    else sum += (unsigned char)((volatile char *)p)[off];
  }
  return sum;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: toucher FILE FILE_MIB ANON_MIB SECONDS [PAUSE_MS]\n");
    return 2;
  }
  size_t file_bytes = strtoul(argv[2], NULL, 10) << 20;
  size_t anon_bytes = strtoul(argv[3], NULL, 10) << 20;
  double seconds = strtod(argv[4], NULL);
  useconds_t pause_us = (useconds_t)(argc == 6 ? strtol(argv[5], NULL, 10) * 1000 : 2000);
  long page = sysconf(_SC_PAGESIZE);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGUSR1, &sa, NULL);
  upper_edge[0] = 0.1 * BUCKET_RATIO;
  for (int b = 1; b < BUCKETS; b++) upper_edge[b] = upper_edge[b - 1] * BUCKET_RATIO;

  char *file = file_bytes ? map_file(argv[1], file_bytes) : NULL;
  char *anon = mmap(NULL, anon_bytes ? anon_bytes : 1, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if ((file_bytes && !file) || anon == MAP_FAILED) {
    fprintf(stderr, "toucher: setting up the working set failed: %s\n", strerror(errno));
    return 1;
  }
  unsigned sum = touch(file, file_bytes, 0, page) + touch(anon, anon_bytes, 1, page);
  printf("{\"ready\":true}\n");
  fflush(stdout);

  long faults0 = major_faults();
  double start = now_us();
  while (!stop && now_us() - start < seconds * 1e6) {
    double t0 = now_us();
    sum += touch(file, file_bytes, 0, page);
    sum += touch(anon, anon_bytes, 1, page);
    if (!stop) record(now_us() - t0);
    usleep(pause_us);
  }
  double elapsed = now_us() - start;
  long faults = major_faults() - faults0;
  printf("{\"passes\":%ld,\"p50Us\":%.1f,\"p99Us\":%.1f,\"maxUs\":%.1f,"
         "\"majorFaults\":%ld,\"ms\":%.0f,\"checksum\":%u}\n",
         passes, quantile(0.5), quantile(0.99), max_us, faults, elapsed / 1e3, sum & 0xff);
  return 0;
}
