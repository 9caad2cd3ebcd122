// dirnest MAX_DEPTH NEGATIVE_PER_LEVEL SECONDS GIVE_UP_MS: the classic
// `mkdir x; cd x` loop in the current directory, plus NEGATIVE_PER_LEVEL
// lookups of missing long names per level, which leave negative dentries
// behind. A step that fails with ENOMEM is retried every 100 ms, because
// reclaim frees page cache only after writeback, until GIVE_UP_MS pass
// without a new level. Any other error, MAX_DEPTH or giving up ends the
// loop, and it prints
//   {"event":"stopped","depth":D,"errno":"ENOMEM","retries":R,"negatives":N,"ms":T}
// It then keeps its working directory, so that the whole chain of dentries
// stays pinned, and makes negative dentries at a bounded rate until SECONDS
// have passed. Progress lines {"event":"progress",...} come every 1000
// levels, so the depth is known also after an OOM kill.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// Names longer than the dentry's inline name (32 bytes on 64-bit) also
// allocate an external name, which is charged to the memory cgroup too.
#define NAME_LEN 200

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long negatives;

static void lookup_missing(long count) {
  char name[NAME_LEN + 1];
  struct stat st;
  memset(name, 'n', NAME_LEN);
  name[NAME_LEN] = '\0';
  for (long i = 0; i < count; i++) {
    snprintf(name, sizeof(name), "%020ld", negatives);
    name[20] = 'n';
    stat(name, &st);
    negatives++;
  }
}

// Makes and enters one level; returns 0, or an errno. After a failed chdir
// the next call finds "x" there already (EEXIST) and only enters it.
static int step(void) {
  if (mkdir("x", 0755) != 0 && errno != EEXIST) return errno;
  return chdir("x") == 0 ? 0 : errno;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: dirnest MAX_DEPTH NEGATIVE_PER_LEVEL SECONDS GIVE_UP_MS\n");
    return 2;
  }
  long max_depth = strtol(argv[1], NULL, 10);
  long per_level = strtol(argv[2], NULL, 10);
  double seconds = strtod(argv[3], NULL);
  double give_up_ms = strtod(argv[4], NULL);
  double start = now_ms();
  double progress_at = start;
  long depth = 0, retries = 0;
  int err = 0;
  while (depth < max_depth) {
    err = step();
    if (err == ENOMEM && now_ms() - progress_at < give_up_ms) {
      retries++;
      usleep(100000);
      continue;
    }
    if (err) break;
    depth++;
    progress_at = now_ms();
    lookup_missing(per_level);
    if (depth % 1000 == 0) {
      printf("{\"event\":\"progress\",\"depth\":%ld,\"negatives\":%ld,\"ms\":%.0f}\n",
             depth, negatives, now_ms() - start);
      fflush(stdout);
    }
  }
  printf("{\"event\":\"stopped\",\"depth\":%ld,\"errno\":\"%s\",\"retries\":%ld,"
         "\"negatives\":%ld,\"ms\":%.0f}\n",
         depth, err ? strerrorname_np(err) : "", retries, negatives, now_ms() - start);
  fflush(stdout);

  // Holding: 1000 more negative dentries every 50 ms keep the cgroup at its limit.
  while (now_ms() - start < seconds * 1e3) {
    lookup_missing(1000);
    usleep(50000);
  }
  return err ? 1 : 0;
}
