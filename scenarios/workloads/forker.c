// forker N: forks N children that each sleep until the parent exits, then
// prints "forked K of N" and the errno of the first failed fork, if any.
// Exit status 0 if all N forks succeeded, 1 otherwise. Bounded by N, so it is
// safe as a control run without a pids limit.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: forker N [HOLD_SECONDS]\n");
    return 2;
  }
  long n = strtol(argv[1], NULL, 10);
  long hold = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
  long forked = 0;
  int first_errno = 0;
  pid_t parent = getpid();
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      // Children end with the parent, so nothing outlives the workload.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // The parent may have died before prctl took effect. It may be PID 1 of
      // a pid namespace, so compare with its pid rather than with 1.
      if (getppid() != parent) _exit(0);
      pause();
      _exit(0);
    }
    if (pid < 0) {
      if (!first_errno) first_errno = errno;
      continue;
    }
    forked++;
  }
  printf("forked %ld of %ld", forked, n);
  if (first_errno) printf(" first error %s", strerror(first_errno));
  printf("\n");
  fflush(stdout);
  if (hold > 0) sleep((unsigned)hold);
  return forked == n ? 0 : 1;
}
