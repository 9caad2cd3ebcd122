// forkbomb MAX_TASKS SECONDS: a fork bomb bounded in count and time. Every
// process forks in a tight loop and every child does the same, retrying at
// once when fork fails, until MAX_TASKS forks have succeeded in total. After
// SECONDS the supervisor prints one JSON line and kills the whole process
// group, itself included, so nothing outlives it.
//   {"forks":N,"failures":F,"firstErrno":"EAGAIN","ms":T}
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

struct shared {
  atomic_long forks;
  atomic_long failures;
  atomic_int first_errno;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void bomb(struct shared *s, long max_tasks, double deadline) {
  pid_t parent = getpid();
  for (;;) {
    if (now_ms() > deadline) _exit(0);
    if (atomic_load(&s->forks) >= max_tasks) {
      pause();
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      // A child ends with its parent; the supervisor's group kill is the main path.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      parent = getpid();
      atomic_fetch_add(&s->forks, 1);
      continue;
    }
    if (pid < 0) {
      int expected = 0;
      atomic_compare_exchange_strong(&s->first_errno, &expected, errno);
      atomic_fetch_add(&s->failures, 1);
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: forkbomb MAX_TASKS SECONDS\n");
    return 2;
  }
  long max_tasks = strtol(argv[1], NULL, 10);
  double seconds = strtod(argv[2], NULL);
  struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  setpgid(0, 0);
  double start = now_ms();
  double deadline = start + seconds * 1e3;
  pid_t first = fork();
  if (first == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    bomb(s, max_tasks, deadline);
  }
  if (first < 0) {
    printf("{\"forks\":0,\"failures\":1,\"firstErrno\":\"%s\",\"ms\":0}\n", strerrorname_np(errno));
    return 1;
  }
  atomic_fetch_add(&s->forks, 1);
  while (now_ms() < deadline) usleep(20000);
  int err = atomic_load(&s->first_errno);
  printf("{\"forks\":%ld,\"failures\":%ld,\"firstErrno\":\"%s\",\"ms\":%.0f}\n",
         atomic_load(&s->forks), atomic_load(&s->failures), err ? strerrorname_np(err) : "",
         now_ms() - start);
  fflush(stdout);
  kill(0, SIGKILL);
  return 0;
}
