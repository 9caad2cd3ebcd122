/*
 * create: the helper becomes the monitor (M), forks an intermediate (I)
 * that joins or makes namespaces and clones init with CLONE_PARENT, relays
 * the protocol for init, and records init's exit in exit.json.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool has_new_ns(const struct plan *plan, enum ns_kind kind)
{
  return plan->ns_new & (1u << kind);
}

/* Becomes uid and gid 0 of a new user namespace: the clone kept the host's uid 0, unmapped there. */
static int become_namespace_root(void)
{
  if (setgroups(0, NULL) < 0 && errno != EPERM)
    return fail_errno("ns", "user", "setgroups");
  if (setresgid(0, 0, 0) < 0)
    return fail_errno("ns", "user", "setresgid 0");
  if (setresuid(0, 0, 0) < 0)
    return fail_errno("ns", "user", "setresuid 0");
  return 0;
}

/* Brings up lo in a new network namespace, where it starts down; an ioctl costs less than spawning ip. */
static int loopback_up(void)
{
  struct ifreq ifr = { .ifr_name = "lo" };
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return fail_errno("loopback", "lo", "socket");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
    close(fd);
    return fail_errno("loopback", "lo", "SIOCGIFFLAGS");
  }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
    close(fd);
    return fail_errno("loopback", "lo", "SIOCSIFFLAGS");
  }
  return close(fd);
}

static int set_names(const struct plan *plan)
{
  if (plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0)
    return fail_errno("hostname", plan->hostname, "sethostname");
  if (plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
    return fail_errno("domainname", plan->domainname, "setdomainname");
  return 0;
}

/*
 * Checks before `ready` that init can reopen the fifo for writing. Without
 * a reader the non-blocking open fails with ENXIO, which proves the path
 * and permission checks passed; returns -2 then. If a reader already waits,
 * returns the open write end (moved to min_fd or above) for init to use.
 */
static int check_exec_fifo(const struct plan *plan, const char *fifo_path, int min_fd)
{
  int fd = openat(host_proc_fd, fifo_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

  if (fd >= 0) {
    int moved = move_fd_above(fd, min_fd);

    return moved >= 0 ? moved : fail_errno("exec_fifo", plan->exec_fifo, "move fd");
  }
  if (errno == ENXIO)
    return -2;
  return fail_errno("exec_fifo", plan->exec_fifo, "reopen for writing");
}

/* Blocks until `start` opens the fifo for reading, then writes the byte that lets start return. */
static int signal_start(const char *fifo_path, int early_fd)
{
  int fd = early_fd;

  if (fd >= 0 && fcntl(fd, F_SETFL, 0) < 0)
    return -1;
  while (fd < 0) {
    fd = openat(host_proc_fd, fifo_path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno != EINTR)
      return -1;
  }
  if (write_all(fd, "0", 1) < 0)
    return -1;
  return close(fd);
}

/* Init's set-up after `go`, in the order of PROTOCOL.md; returns only on failure. */
static int set_up_init(const struct plan *plan, int sync_fd, int fifo_fd)
{
  bool user_ns = has_new_ns(plan, NS_USER) || plan->ns_path[NS_USER];
  mode_t process_umask = umask(0);
  char fifo_path[32], exe[PATH_MAX];
  int early_fd = -2;
  int keep[4];

  /* Unshared now, after Node placed init in its cgroups, so the namespace's root is the container's cgroup. */
  if (has_new_ns(plan, NS_CGROUP) && unshare(CLONE_NEWCGROUP) < 0)
    return fail_errno("ns", "cgroup", "unshare");
  if (user_ns && (become_namespace_root() < 0 || make_undumpable() < 0))
    return -1;
  if (has_new_ns(plan, NS_NET) && loopback_up() < 0)
    return -1;
  /* Runs for every new mount namespace: its copies of shared host mounts would otherwise stay peers of them. */
  if (has_new_ns(plan, NS_MNT) && setup_rootfs(plan) < 0)
    return -1;
  if (set_names(plan) < 0 || apply_sysctls(plan) < 0)
    return -1;
  if (has_new_ns(plan, NS_MNT) && finish_rootfs(plan) < 0)
    return -1;
  umask(process_umask);
  if (apply_process(plan, false) < 0 || resolve_executable(plan, exe, sizeof exe) < 0)
    return -1;
  snprintf(fifo_path, sizeof fifo_path, "self/fd/%d", fifo_fd);
  if (fifo_fd >= 0 && (early_fd = check_exec_fifo(plan, fifo_path, 4 + plan->preserve_fds)) == -1)
    return -1;

  keep[0] = sync_fd;
  keep[1] = fifo_fd;
  keep[2] = host_proc_fd;
  keep[3] = early_fd;
  if (prepare_fds(plan, keep, sizeof keep / sizeof keep[0]) < 0)
    return -1;
  if (sync_send(sync_fd, "ready") < 0)
    _exit(1);
  close(sync_fd);
  /* From here on nothing listens on the protocol; a failure shows only as init's exit status. */
  if (fifo_fd >= 0 && signal_start(fifo_path, early_fd) < 0)
    _exit(1);
  if (fifo_fd >= 0)
    close(fifo_fd);
  close(host_proc_fd);
  reset_signals();
  execve(exe, plan->args, plan->env);
  _exit(127);
}

/* Init: blocks until `go` before anything of its own runs. */
static void run_init(const struct plan *plan, int sync_fd, int fifo_fd)
{
  char message[64];
  ssize_t n;

  if (make_undumpable() < 0)
    _exit(1);
  n = sync_recv(sync_fd, message, sizeof message);
  if (n <= 0 || strcmp(message, "go") != 0)
    _exit(1);
  set_up_init(plan, sync_fd, fifo_fd);
  report_failure_packet(sync_fd);
  _exit(1);
}

/* Writes /proc/self/timens_offsets; the kernel takes it only before a process enters the namespace. */
static int write_time_offsets(const struct plan *plan)
{
  char text[128] = "";
  size_t used = 0;

  for (size_t i = 0; i < plan->time_offset_count; i++) {
    const struct time_offset *offset = &plan->time_offsets[i];

    used += (size_t)snprintf(text + used, sizeof text - used, "%d %lld %ld\n", offset->clock_id,
                             offset->secs, offset->nsecs);
  }
  if (used && write_file("/proc/self/timens_offsets", text) < 0)
    return fail_errno("time_offset", text, "write /proc/self/timens_offsets");
  return 0;
}

/*
 * The intermediate: joins the ns_path namespaces, makes the time namespace
 * (unshare affects only children, as does a joined pid namespace) and
 * clones init with CLONE_PARENT so init's parent is the monitor.
 */
static void run_intermediate(const struct plan *plan, int sync_fd, int fifo_fd)
{
  unsigned long flags = CLONE_PARENT;
  char message[32];
  pid_t pid;

  if (apply_oom_score_adj(plan) < 0 || join_ns_paths(plan) < 0)
    goto failed;
  if (has_new_ns(plan, NS_TIME)) {
    if (unshare((int)ns_clone_flags[NS_TIME]) < 0) {
      fail_errno("ns", "time", "unshare");
      goto failed;
    }
    if (write_time_offsets(plan) < 0)
      goto failed;
  }
  for (int kind = 0; kind < NS_COUNT; kind++) {
    if (kind != NS_CGROUP && kind != NS_TIME && has_new_ns(plan, kind))
      flags |= ns_clone_flags[kind];
  }
  pid = clone_process(flags, -1);
  if (pid < 0) {
    fail_errno("clone", "-", "clone init");
    goto failed;
  }
  if (pid == 0)
    run_init(plan, sync_fd, fifo_fd);
  snprintf(message, sizeof message, "pid\t%d", (int)pid);
  _exit(sync_send(sync_fd, message) < 0 ? 1 : 0);

failed:
  report_failure_packet(sync_fd);
  _exit(1);
}

/*
 * Opens the exec fifo O_PATH, creating it if missing. Init reopens it
 * through /proc/self/fd as the container's user, which may be an unmapped
 * host uid, so the fifo gets mode 0622; the mode of the state directory is
 * what keeps other host users away from it.
 */
static int open_exec_fifo(const char *path)
{
  char fd_link[32];
  struct stat st;
  int fd;

  if (mkfifo(path, 0622) < 0 && errno != EEXIST)
    return fail_errno("exec_fifo", path, "mkfifo");
  fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return fail_errno("exec_fifo", path, "open");
  if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
    close(fd);
    return fail("exec_fifo", path, EINVAL, "not a fifo");
  }
  /* fchmod rejects O_PATH fds; chmod through the magic link reaches the same inode. */
  snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", fd);
  if (chmod(fd_link, 0622) < 0) {
    fail_errno("exec_fifo", path, "chmod");
    close(fd);
    return -1;
  }
  return fd;
}

static void kill_and_reap(pid_t pid)
{
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}


/* Returns the `oom_kill` count of a `key value` file, or -1 when the file or key is missing. */
static long long read_oom_kills(const char *path)
{
  char text[4096];
  ssize_t n;
  int fd;

  if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    return -1;
  n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0)
    return -1;
  text[n] = '\0';
  for (char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, "oom_kill ", 9) == 0)
      return strtoll(line + 9, NULL, 10);
  }
  return -1;
}

/* Writes exit.json.tmp and renames it over exit.json, so readers see the old file or the whole new one. */
static int write_exit_json(int state_fd, pid_t pid, int status, long long oom_kills)
{
  char exit_code[16] = "null", signal_number[16] = "null", ooms[24] = "null";
  char when[32], json[256];
  struct timespec now;
  struct tm tm;
  int fd, length;

  if (WIFEXITED(status))
    snprintf(exit_code, sizeof exit_code, "%d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(signal_number, sizeof signal_number, "%d", WTERMSIG(status));
  if (oom_kills >= 0)
    snprintf(ooms, sizeof ooms, "%lld", oom_kills);
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  length = snprintf(json, sizeof json,
                    "{\"pid\":%d,\"exitCode\":%s,\"signal\":%s,\"oomKills\":%s,"
                    "\"finishedAt\":\"%s.%03ldZ\"}\n",
                    (int)pid, exit_code, signal_number, ooms, when, now.tv_nsec / 1000000);
  fd = openat(state_fd, "exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  if (write_all(fd, json, (size_t)length) < 0 || fsync(fd) < 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return renameat(state_fd, "exit.json.tmp", state_fd, "exit.json");
}

/*
 * The monitor after `ready`: lets go of fd 3 and the container's stdio,
 * ignores the signals a terminal or the engine might send (the engine ends
 * containers through the cgroup), and records how init ended.
 */
static int monitor(const struct plan *plan, pid_t init_pid, int state_fd)
{
  static const int ignored[] = { SIGINT, SIGHUP, SIGTERM, SIGPIPE };
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int status = 0;
  pid_t pid;

  close(CONTROL_FD);
  for (int fd = 0; fd <= 2 && null_fd >= 0; fd++)
    dup2(null_fd, fd);
  if (null_fd > 2)
    close(null_fd);
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
    signal(ignored[i], SIG_IGN);
  if (chdir("/") < 0)
    return 1;

  /* As a subreaper the monitor also inherits init's orphans; reap them while waiting. */
  for (;;) {
    pid = waitpid(-1, &status, 0);
    if (pid == init_pid)
      break;
    if (pid < 0 && errno != EINTR)
      return 1;
  }
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
  return write_exit_json(state_fd, init_pid, status, read_oom_kills(plan->oom_file)) < 0 ? 1 : 0;
}

/* Relays init's `ready` or `error`; returns 0 after `ready`. */
static int relay_ready(int sync_fd, pid_t init_pid)
{
  char packet[LINE_MAX_BYTES], line[64];
  ssize_t n = sync_recv(sync_fd, packet, sizeof packet);

  if (n <= 0)
    return fail("sync", "-", EPIPE, "init exited before ready");
  if (strncmp(packet, "error\t", 6) == 0) {
    send_line(CONTROL_FD, packet);
    return 1;
  }
  if (strcmp(packet, "ready") != 0)
    return fail("sync", packet, EPROTO, "expected ready");
  snprintf(line, sizeof line, "ready\t%d", (int)init_pid);
  if (send_line(CONTROL_FD, line) < 0)
    return fail_errno("sync", "-", "write control socket");
  return 0;
}

/* Receives init's pid from the intermediate, which has exited by then. */
static pid_t receive_init_pid(int sync_fd, pid_t intermediate)
{
  char packet[LINE_MAX_BYTES];
  ssize_t n = sync_recv(sync_fd, packet, sizeof packet);
  int status;
  long pid;

  while (waitpid(intermediate, &status, 0) < 0 && errno == EINTR)
    ;
  if (n <= 0)
    return fail("clone", "-", EPIPE, "intermediate process exited without init's pid");
  if (strncmp(packet, "error\t", 6) == 0) {
    send_line(CONTROL_FD, packet);
    return 0;
  }
  if (strncmp(packet, "pid\t", 4) != 0 || (pid = strtol(packet + 4, NULL, 10)) <= 0)
    return fail("sync", packet, EPROTO, "expected pid");
  return (pid_t)pid;
}

int run_create(const struct plan *plan)
{
  int min_fd = 4 + plan->preserve_fds;
  int sync[2], fifo_fd = -1, state_fd, rc;
  pid_t intermediate, init_pid;
  char line[64];

  /* Node's detached spawn already made the helper a group leader; setsid then fails harmlessly. */
  setsid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
    fail_errno("sync", "-", "set child subreaper");
    goto failed_early;
  }
  /* The filter is on the cgroup, which Node made before the helper started, so init never runs without it. */
  if (attach_device_filter(plan) < 0)
    goto failed_early;
  if (plan->exec_fifo && (fifo_fd = open_exec_fifo(plan->exec_fifo)) < 0)
    goto failed_early;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
    fail_errno("sync", "-", "socketpair");
    goto failed_early;
  }
  sync[0] = move_fd_above(sync[0], min_fd);
  sync[1] = move_fd_above(sync[1], min_fd);
  fifo_fd = move_fd_above(fifo_fd, min_fd);

  intermediate = fork();
  if (intermediate < 0) {
    fail_errno("clone", "-", "fork");
    goto failed_early;
  }
  if (intermediate == 0) {
    close(sync[0]);
    run_intermediate(plan, sync[1], fifo_fd);
  }
  close(sync[1]);
  /* Opened only now, after the fork, so init never has an fd of the state directory. */
  state_fd = open(plan->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

  init_pid = receive_init_pid(sync[0], intermediate);
  if (init_pid == 0)
    return 1;
  if (init_pid < 0)
    goto failed_early;
  if (state_fd < 0) {
    fail_errno("state_dir", plan->state_dir, "open");
    goto failed;
  }
  snprintf(line, sizeof line, "pid\t%d", (int)init_pid);
  if (send_line(CONTROL_FD, line) < 0 || relay_go(sync[0], "init", 0) < 0)
    goto failed;
  rc = relay_ready(sync[0], init_pid);
  if (rc > 0) {
    kill_and_reap(init_pid);
    return 1;
  }
  if (rc < 0)
    goto failed;
  close(sync[0]);
  if (fifo_fd >= 0)
    close(fifo_fd);
  return monitor(plan, init_pid, state_fd);

failed:
  report_failure(CONTROL_FD);
  kill_and_reap(init_pid);
  return 1;

failed_early:
  report_failure(CONTROL_FD);
  return 1;
}
