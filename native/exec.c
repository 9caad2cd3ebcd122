/*
 * exec: the helper (E) joins a running container's namespaces, clones the
 * child (C) into its cgroup, relays the protocol and signals, and exits
 * with C's status.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
  if (child_pid > 0)
    kill(child_pid, sig);
}

static void install_forwarding(void)
{
  static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
  struct sigaction action = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };

  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    sigaction(forwarded[i], &action, NULL);
}

/*
 * The child: waits for `go`, joins the cgroup namespace, applies the
 * process settings and execs. The sync socket is close-on-exec, so E reads
 * end of file after the `exec` marker exactly when execve succeeded.
 */
static void run_exec_child(const struct plan *plan, int sync_fd, int cgroup_ns_fd, bool in_user_ns)
{
  char message[64], exe[PATH_MAX];
  int keep[] = { sync_fd };
  ssize_t n;

  if (make_undumpable() < 0)
    _exit(1);
  n = sync_recv(sync_fd, message, sizeof message);
  if (n <= 0 || strcmp(message, "go") != 0)
    _exit(1);
  if (cgroup_ns_fd >= 0 && setns(cgroup_ns_fd, CLONE_NEWCGROUP) < 0) {
    fail_errno("setns", "cgroup", "join namespace");
    goto failed;
  }
  if (cgroup_ns_fd >= 0)
    close(cgroup_ns_fd);
  if (apply_process(plan, in_user_ns) < 0 || resolve_executable(plan, exe, sizeof exe) < 0)
    goto failed;
  close(host_proc_fd);
  if (prepare_fds(plan, keep, 1) < 0)
    goto failed;
  reset_signals();
  if (sync_send(sync_fd, "exec") < 0)
    _exit(1);
  execve(exe, plan->args, plan->env);
  fail_errno("execve", exe, "execve");
  report_failure_packet(sync_fd);
  _exit(127);

failed:
  report_failure_packet(sync_fd);
  _exit(1);
}


/*
 * Relays the child's messages until its sync socket closes. Returns 0 when
 * execve succeeded (an `exec` marker, then end of file), -1 after relaying
 * or recording a failure.
 */
static int relay_exec(int sync_fd, pid_t pid)
{
  char packet[LINE_MAX_BYTES], line[64];
  bool marked = false;
  ssize_t n;

  while ((n = sync_recv(sync_fd, packet, sizeof packet)) > 0) {
    if (strcmp(packet, "exec") == 0) {
      marked = true;
    } else if (strncmp(packet, "error\t", 6) == 0) {
      send_line(CONTROL_FD, packet);
      return -1;
    }
  }
  if (!marked) {
    fail("sync", "-", EPIPE, "process exited before execve");
    report_failure(CONTROL_FD);
    return -1;
  }
  snprintf(line, sizeof line, "exec\t%d", (int)pid);
  send_line(CONTROL_FD, line);
  return 0;
}

/* Moves pid into the cgroup v2 directory by hand, for kernels without CLONE_INTO_CGROUP (5.7). */
static int enter_cgroup(int cgroup_fd, const char *cgroup_dir, pid_t pid)
{
  char text[24];
  int fd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  int rc;

  if (fd < 0)
    return fail_errno("cgroup_dir", cgroup_dir, "open cgroup.procs");
  snprintf(text, sizeof text, "%d", (int)pid);
  rc = write_all(fd, text, strlen(text));
  if (rc < 0)
    fail_errno("cgroup_dir", cgroup_dir, "write cgroup.procs");
  close(fd);
  return rc;
}

/* Uses the host's /proc: after joining the container's mount namespace, /proc has no entry for this process. */
static bool user_ns_changed(const struct stat *before)
{
  struct stat after;

  return fstatat(host_proc_fd, "self/ns/user", &after, 0) == 0 &&
         (after.st_ino != before->st_ino || after.st_dev != before->st_dev);
}

/* Clones the child, into cgroup_fd's cgroup when given; sets *by_hand when the kernel could not. */
static pid_t clone_child(int cgroup_fd, bool *by_hand)
{
  pid_t pid = clone_process(0, cgroup_fd);

  *by_hand = false;
  if (pid < 0 && errno == ENOSYS && cgroup_fd >= 0) {
    *by_hand = true;
    pid = clone_process(0, -1);
  }
  return pid;
}

static int wait_exit_code(pid_t pid)
{
  int status;

  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return 1;
  }
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

int run_exec(const struct plan *plan)
{
  int min_fd = 4 + plan->preserve_fds;
  int cgroup_fd = -1, cgroup_ns_fd = -1, sync[2];
  struct stat own_user_ns;
  bool in_user_ns, by_hand;
  char line[64];
  pid_t pid;

  if (plan->cgroup_dir &&
      (cgroup_fd = open(plan->cgroup_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
    fail_errno("cgroup_dir", plan->cgroup_dir, "open");
    goto failed_early;
  }
  if (fstatat(host_proc_fd, "self/ns/user", &own_user_ns, 0) < 0) {
    fail_errno("setns", "/proc/self/ns/user", "stat");
    goto failed_early;
  }
  /* Before joining a user namespace, while the helper still has the host's capabilities. */
  if (apply_oom_score_adj(plan) < 0 || join_target(plan, &cgroup_ns_fd) < 0)
    goto failed_early;
  in_user_ns = user_ns_changed(&own_user_ns);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
    fail_errno("sync", "-", "socketpair");
    goto failed_early;
  }
  sync[0] = move_fd_above(sync[0], min_fd);
  sync[1] = move_fd_above(sync[1], min_fd);
  cgroup_fd = move_fd_above(cgroup_fd, min_fd);
  cgroup_ns_fd = move_fd_above(cgroup_ns_fd, min_fd);

  pid = clone_child(cgroup_fd, &by_hand);
  if (pid < 0) {
    fail_errno("clone", "-", cgroup_fd >= 0 ? "clone3 into cgroup" : "fork");
    goto failed_early;
  }
  if (pid == 0) {
    close(sync[0]);
    if (cgroup_fd >= 0)
      close(cgroup_fd);
    run_exec_child(plan, sync[1], cgroup_ns_fd, in_user_ns);
  }
  child_pid = pid;
  install_forwarding();
  close(sync[1]);
  if (cgroup_ns_fd >= 0)
    close(cgroup_ns_fd);
  if (by_hand && enter_cgroup(cgroup_fd, plan->cgroup_dir, pid) < 0)
    goto failed;
  if (cgroup_fd >= 0)
    close(cgroup_fd);

  snprintf(line, sizeof line, "pid\t%d", (int)pid);
  if (send_line(CONTROL_FD, line) < 0) {
    fail_errno("sync", "-", "write control socket");
    goto failed;
  }
  if (relay_go(sync[0], "the process", 1) < 0)
    goto failed;
  if (relay_exec(sync[0], pid) < 0) {
    wait_exit_code(pid);
    return 1;
  }
  return wait_exit_code(pid);

failed:
  report_failure(CONTROL_FD);
  kill(pid, SIGKILL);
  wait_exit_code(pid);
  return 1;

failed_early:
  report_failure(CONTROL_FD);
  return 1;
}
