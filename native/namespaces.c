/* clone3 with fallbacks, and joining namespaces by path, by pidfd or by /proc/PID/ns. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Since Linux 5.1 new system calls share one number on every architecture. */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL

/* struct clone_args of <linux/sched.h> up to the cgroup field (CLONE_ARGS_SIZE_VER2, Linux 5.7). */
struct clone3_args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

/*
 * Forks with namespace flags, like fork(2) when flags is 0. With cgroup_fd
 * >= 0 the child starts in that cgroup v2 directory (CLONE_INTO_CGROUP);
 * kernels without it fail with ENOSYS so the caller can move the child
 * itself. The raw system call leaves glibc's cached thread id stale in the
 * child, so children must not call raise(), abort() or pthread_kill().
 */
pid_t clone_process(uint64_t flags, int cgroup_fd)
{
  static bool clone3_unsupported;
  struct clone3_args args = { .flags = flags };
  long pid;

  /* clone3 rejects an exit signal with CLONE_PARENT: the child takes the caller's. */
  if (!(flags & CLONE_PARENT))
    args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP_FLAG;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  if (!clone3_unsupported && !force_fallbacks) {
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0)
      return (pid_t)pid;
    /* clone3 arrived in Linux 5.3; 5.3 to 5.6 reject the cgroup field with E2BIG. */
    if (errno != ENOSYS && errno != E2BIG)
      return -1;
    if (errno == ENOSYS)
      clone3_unsupported = true;
  }
  if (cgroup_fd >= 0) {
    errno = ENOSYS;
    return -1;
  }
  /* Every argument but the flags is zero, so the per-architecture argument order does not matter. */
  return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

/* Returns whether fd is the caller's own namespace of that kind. */
static bool is_own_namespace(int fd, enum ns_kind kind)
{
  char path[64];
  struct stat own, target;

  snprintf(path, sizeof path, "self/ns/%s", ns_names[kind]);
  if (fstatat(host_proc_fd, path, &own, 0) < 0 || fstat(fd, &target) < 0)
    return false;
  return same_inode(&own, &target);
}

/*
 * Returns whether the user namespace user_ns owns the namespace behind fd.
 * Without NS_GET_USERNS (Linux 4.9) it assumes so, which keeps the
 * protocol's order user first.
 */
static bool owned_by(int fd, const struct stat *user_ns)
{
  int owner = ioctl(fd, NS_GET_USERNS);
  struct stat st;
  bool owned;

  if (owner < 0)
    return true;
  owned = fstat(owner, &st) == 0 && same_inode(&st, user_ns);
  close(owner);
  return owned;
}

/*
 * Joins the namespaces open in fds (-1 for none) and closes the fds. The
 * caller's own namespaces are skipped because setns into one's own user
 * namespace fails with EINVAL. The order is user mnt pid uts ipc net cgroup
 * time, except that a namespace owned by an ancestor of the target user
 * namespace (a time namespace made before the user namespace, a host net
 * namespace) is joined first: after joining the user namespace the caller
 * has no capabilities over it.
 */
int join_namespace_fds(int fds[NS_COUNT], char *labels[NS_COUNT])
{
  int order[NS_COUNT], count = 0, rc = 0;
  bool early[NS_COUNT] = { false };
  struct stat user_ns;

  for (int kind = 0; kind < NS_COUNT; kind++) {
    if (fds[kind] >= 0 && is_own_namespace(fds[kind], kind)) {
      close(fds[kind]);
      fds[kind] = -1;
    }
  }
  if (fds[NS_USER] >= 0 && fstat(fds[NS_USER], &user_ns) == 0) {
    for (int kind = NS_USER + 1; kind < NS_COUNT; kind++)
      early[kind] = fds[kind] >= 0 && !owned_by(fds[kind], &user_ns);
  }
  for (int kind = 0; kind < NS_COUNT; kind++) {
    if (early[kind])
      order[count++] = kind;
  }
  for (int kind = 0; kind < NS_COUNT; kind++) {
    if (fds[kind] >= 0 && !early[kind])
      order[count++] = kind;
  }
  for (int i = 0; i < count && rc == 0; i++) {
    int kind = order[i];

    if (setns(fds[kind], (int)ns_clone_flags[kind]) < 0)
      rc = fail_errno("setns", labels[kind], "join namespace");
  }
  for (int kind = 0; kind < NS_COUNT; kind++) {
    if (fds[kind] >= 0)
      close(fds[kind]);
    fds[kind] = -1;
  }
  return rc;
}

/* Joins every `ns_path` namespace; the intermediate process calls this before cloning init. */
int join_ns_paths(const struct plan *plan)
{
  int fds[NS_COUNT];
  char *labels[NS_COUNT];

  for (int kind = 0; kind < NS_COUNT; kind++) {
    fds[kind] = -1;
    labels[kind] = plan->ns_path[kind];
    if (!plan->ns_path[kind])
      continue;
    fds[kind] = open(plan->ns_path[kind], O_RDONLY | O_CLOEXEC);
    if (fds[kind] < 0) {
      int saved = errno;

      for (int open_kind = 0; open_kind < kind; open_kind++) {
        if (fds[open_kind] >= 0)
          close(fds[open_kind]);
      }
      return fail("ns_path", plan->ns_path[kind], saved, "open namespace");
    }
  }
  return join_namespace_fds(fds, labels);
}

static int pidfd_open(pid_t pid)
{
  if (force_fallbacks) {
    errno = ENOSYS;
    return -1;
  }
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Joins the `join` namespaces of target_pid except cgroup, whose fd goes
 * to *cgroup_ns_fd (-1 when not joined) for the child to join after its
 * clone: CLONE_INTO_CGROUP checks that the caller's own cgroup lies inside
 * the caller's cgroup namespace, which fails once the container's is joined.
 * pid and time namespaces apply to children only.
 */
int join_target(const struct plan *plan, int *cgroup_ns_fd)
{
  static char paths[NS_COUNT][64];
  char *labels[NS_COUNT];
  char pid_text[24];
  int fds[NS_COUNT];
  int pidfd = pidfd_open(plan->target_pid);
  unsigned long flags = 0;

  snprintf(pid_text, sizeof pid_text, "%d", (int)plan->target_pid);
  if (pidfd < 0 && errno != ENOSYS)
    return fail_errno("pidfd_open", pid_text, "open target pid");
  *cgroup_ns_fd = -1;
  for (int kind = 0; kind < NS_COUNT; kind++) {
    fds[kind] = -1;
    snprintf(paths[kind], sizeof paths[kind], "/proc/%d/ns/%s", (int)plan->target_pid,
             ns_names[kind]);
    labels[kind] = paths[kind];
    if (!(plan->join & (1u << kind)))
      continue;
    fds[kind] = open(paths[kind], O_RDONLY | O_CLOEXEC);
    if (fds[kind] < 0) {
      fail_errno("setns", paths[kind], "open namespace");
      goto out_error;
    }
  }
  /* The pidfd pins the process: if it is still alive, the fds above belong to it, not to a reused pid. */
  if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) {
    fail_errno("pidfd_open", pid_text, "target exited");
    goto out_error;
  }
  if (fds[NS_CGROUP] >= 0 && !is_own_namespace(fds[NS_CGROUP], NS_CGROUP))
    *cgroup_ns_fd = fds[NS_CGROUP];
  else if (fds[NS_CGROUP] >= 0)
    close(fds[NS_CGROUP]);
  fds[NS_CGROUP] = -1;

  if (pidfd >= 0) {
    for (int kind = 0; kind < NS_COUNT; kind++) {
      if (fds[kind] >= 0 && !is_own_namespace(fds[kind], kind))
        flags |= ns_clone_flags[kind];
    }
    /* One setns call joins all of them atomically since Linux 5.8; older kernels return EINVAL. */
    if (flags == 0 || setns(pidfd, (int)flags) == 0) {
      for (int kind = 0; kind < NS_COUNT; kind++) {
        if (fds[kind] >= 0)
          close(fds[kind]);
      }
      close(pidfd);
      return 0;
    }
    if (errno != EINVAL) {
      fail_errno("setns", pid_text, "join namespaces through a pidfd");
      goto out_error;
    }
    close(pidfd);
  }
  return join_namespace_fds(fds, labels);

out_error:
  for (int kind = 0; kind < NS_COUNT; kind++) {
    if (fds[kind] >= 0)
      close(fds[kind]);
  }
  if (*cgroup_ns_fd >= 0)
    close(*cgroup_ns_fd);
  *cgroup_ns_fd = -1;
  if (pidfd >= 0)
    close(pidfd);
  return -1;
}
