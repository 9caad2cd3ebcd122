// restorer SECONDS write FILE VALUE | restorer SECONDS swapoff PATH
// Undoes a host-wide change when the harness is done or gone: it prints
// "ready", then on SIGTERM, SIGINT or SIGHUP, on end of standard input
// (the harness holding the pipe died) or after SECONDS, it writes VALUE to
// FILE (such as the old kernel.pid_max) or turns the swap file off, and exits.
// Start it before making the change, so that a crash restores it.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/swap.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int signo) {
  (void)signo;
  stop = 1;
}

static int restore(char **argv) {
  if (strcmp(argv[2], "swapoff") == 0) {
    if (swapoff(argv[3]) != 0 && errno != EINVAL) {
      fprintf(stderr, "restorer: swapoff %s failed: %s\n", argv[3], strerror(errno));
      return 1;
    }
    return 0;
  }
  int fd = open(argv[3], O_WRONLY);
  if (fd < 0 || write(fd, argv[4], strlen(argv[4])) < 0) {
    fprintf(stderr, "restorer: writing %s to %s failed: %s\n", argv[4], argv[3], strerror(errno));
    return 1;
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  int is_write = argc == 5 && strcmp(argv[2], "write") == 0;
  int is_swapoff = argc == 4 && strcmp(argv[2], "swapoff") == 0;
  if (!is_write && !is_swapoff) {
    fprintf(stderr, "usage: restorer SECONDS write FILE VALUE | restorer SECONDS swapoff PATH\n");
    return 2;
  }
  int seconds = atoi(argv[1]);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  printf("ready\n");
  fflush(stdout);
  struct pollfd in = {.fd = 0, .events = POLLIN};
  for (int waited = 0; !stop && waited < seconds * 10; waited++) {
    int n = poll(&in, 1, 100);
    if (n > 0) {
      char buf[64];
      ssize_t r = read(0, buf, sizeof(buf));
      if (r <= 0) break;
    }
  }
  return restore(argv);
}
