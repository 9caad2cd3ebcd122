/*
 * isolab-runtime: the native helper that creates containers and runs
 * processes in them. Node cannot enter namespaces itself (setns and
 * unshare act on one thread of a multithreaded process, and CLONE_NEWUSER
 * fails there), so the engine plans and this single-threaded program
 * carries the plan out. PROTOCOL.md is the contract.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_usage(void)
{
  fputs("usage: isolab-runtime create PLAN_FILE\n"
        "       isolab-runtime exec PLAN_FILE\n"
        "       isolab-runtime version\n"
        "fd 3 must be the control socket; native/PROTOCOL.md describes the protocol.\n",
        stderr);
}

int main(int argc, char **argv)
{
  const char *fallbacks = getenv("ISOLAB_RUNTIME_FALLBACKS");
  struct plan plan;
  bool exec_mode;

  if (argc == 2 && strcmp(argv[1], "version") == 0) {
    printf("isolab-runtime %s\n", RUNTIME_VERSION);
    return 0;
  }
  if (argc != 3 || (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "exec") != 0)) {
    print_usage();
    return 2;
  }
  if (fcntl(CONTROL_FD, F_SETFD, FD_CLOEXEC) < 0) {
    fputs("isolab-runtime: fd 3 is not open; start the helper with the control socket as fd 3\n",
          stderr);
    return 2;
  }
  exec_mode = strcmp(argv[1], "exec") == 0;
  /* A write to a closed control socket must fail with EPIPE, not kill the helper. */
  signal(SIGPIPE, SIG_IGN);
  force_fallbacks = fallbacks && strcmp(fallbacks, "1") == 0;
  last_cap = read_last_cap();

  if (plan_load(argv[2], exec_mode, &plan) < 0) {
    report_failure(CONTROL_FD);
    return 1;
  }
  host_proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (host_proc_fd < 0) {
    fail_errno("sync", "/proc", "open");
    report_failure(CONTROL_FD);
    return 1;
  }
  host_proc_fd = move_fd_above(host_proc_fd, 4 + plan.preserve_fds);
  return exec_mode ? run_exec(&plan) : run_create(&plan);
}
