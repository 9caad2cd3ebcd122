// spawner K [wait]: forks K children one after another. Each child execs
// this program with the argument "child", which exits 0 at once, and the
// parent waits for it. A failed fork is counted and the next one is tried.
// With "wait", it prints {"ready":true} and starts on SIGUSR1 (or gives up
// after 120 s), so that the run can begin when no new process can be made.
// Prints one JSON line:
//   {"attempts":K,"ok":N,"eagain":E,"otherErrors":O,"firstErrno":"EAGAIN","ms":T}
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_signal(int signo) {
  (void)signo;
  go = 1;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void wait_for_start(void) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
  alarm(120);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  while (!go) sigsuspend(&old);
  alarm(0);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "child") == 0) return 0;
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: spawner K [wait]\n");
    return 2;
  }
  long k = strtol(argv[1], NULL, 10);
  if (argc == 3) wait_for_start();
  long ok = 0, eagain = 0, other = 0;
  int first_errno = 0;
  double start = now_ms();
  for (long i = 0; i < k; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", argv[0], "child", (char *)NULL);
      _exit(127);
    }
    if (pid < 0) {
      if (!first_errno) first_errno = errno;
      if (errno == EAGAIN) eagain++;
      else other++;
      continue;
    }
    int status;
    if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      ok++;
    } else {
      other++;
    }
  }
  printf("{\"attempts\":%ld,\"ok\":%ld,\"eagain\":%ld,\"otherErrors\":%ld,"
         "\"firstErrno\":\"%s\",\"ms\":%.3f}\n",
         k, ok, eagain, other, first_errno ? strerrorname_np(first_errno) : "",
         now_ms() - start);
  return ok == k ? 0 : 1;
}
