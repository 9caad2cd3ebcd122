/*
 * Process settings shared by init and exec'd processes: oom_score_adj,
 * rlimits, umask, user, capabilities, no_new_privs, cwd, the executable's
 * PATH lookup and the fds that survive execve.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* Search path of execvpe when PATH is unset (glibc's confstr _CS_PATH). */
#define DEFAULT_PATH "/bin:/usr/bin"

/*
 * Writes the plan's oom_score_adj for the caller, which children inherit.
 * The intermediate and the exec helper call it while still host root:
 * lowering the value needs CAP_SYS_RESOURCE in the initial user namespace,
 * and a non-dumpable process cannot write its own file from a user
 * namespace because the file then belongs to host root.
 */
int apply_oom_score_adj(const struct plan *plan)
{
  char text[16];
  int value = plan->oom_score_adj;
  int fd, rc;

  if (!plan->has_oom_score_adj)
    return 0;
  snprintf(text, sizeof text, "%d", value);
  fd = openat(host_proc_fd, "self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return fail_errno("oom_score_adj", text, "open /proc/self/oom_score_adj");
  rc = write_all(fd, text, strlen(text));
  if (rc < 0)
    fail_errno("oom_score_adj", text, "write /proc/self/oom_score_adj");
  close(fd);
  return rc;
}

static int apply_rlimits(const struct plan *plan)
{
  for (size_t i = 0; i < plan->rlimit_count; i++) {
    const struct rlimit_entry *entry = &plan->rlimits[i];

    if (setrlimit((__rlimit_resource_t)entry->resource, &entry->limit) < 0) {
      char text[16];

      snprintf(text, sizeof text, "%d", entry->resource);
      return fail_errno("rlimit", text, "setrlimit");
    }
  }
  return 0;
}

/* Drops every capability up to the kernel's last one that the bounding mask lacks; needs CAP_SETPCAP. */
static int drop_bounding_set(uint64_t bounding)
{
  for (int cap = 0; cap <= last_cap && cap < 64; cap++) {
    if (bounding & (1ULL << cap))
      continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
      char text[8];

      snprintf(text, sizeof text, "%d", cap);
      return fail_errno("caps", text, "drop from bounding set");
    }
  }
  return 0;
}

static int set_capabilities(const struct plan *plan)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[2] = {
    {
      .effective = (uint32_t)plan->cap_effective,
      .permitted = (uint32_t)plan->cap_permitted,
      .inheritable = (uint32_t)plan->cap_inheritable,
    },
    {
      .effective = (uint32_t)(plan->cap_effective >> 32),
      .permitted = (uint32_t)(plan->cap_permitted >> 32),
      .inheritable = (uint32_t)(plan->cap_inheritable >> 32),
    },
  };

  if (syscall(SYS_capset, &header, data) < 0)
    return fail_errno("caps", "-", "capset");
  /* Ambient capabilities arrived in Linux 4.3; each needs the bit in permitted and inheritable. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && plan->cap_ambient)
    return fail_errno("caps", "-", "clear ambient set");
  for (int cap = 0; cap <= last_cap && cap < 64; cap++) {
    if (!(plan->cap_ambient & (1ULL << cap)))
      continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
      char text[8];

      snprintf(text, sizeof text, "%d", cap);
      return fail_errno("caps", text, "raise ambient");
    }
  }
  return 0;
}

/*
 * Switches to the plan's user, or to uid and gid 0 of a joined user
 * namespace: the creator's host uid 0 is not mapped there.
 */
static int switch_user(const struct plan *plan, bool in_user_ns)
{
  uid_t uid = plan->has_user ? plan->uid : 0;
  gid_t gid = plan->has_user ? plan->gid : 0;
  char text[24];

  if (!plan->has_user && !in_user_ns)
    return 0;
  snprintf(text, sizeof text, "%u", (unsigned)uid);
  /* setgroups fails with EPERM once /proc/PID/setgroups contains deny, which matters only with groups to set. */
  if (setgroups(plan->group_count, plan->groups) < 0 && (errno != EPERM || plan->group_count))
    return fail_errno("user", text, "setgroups");
  if (setresgid(gid, gid, gid) < 0)
    return fail_errno("user", text, "setresgid");
  if (setresuid(uid, uid, uid) < 0)
    return fail_errno("user", text, "setresuid");
  return 0;
}

/*
 * Applies the process directives except oom_score_adj, in the order runc
 * uses: privileged steps first, then the user switch, then cwd as that
 * user, then the final capability sets. in_user_ns means a user namespace
 * was joined and the caller is still the host's unmapped uid 0.
 */
int apply_process(const struct plan *plan, bool in_user_ns)
{
  if (apply_rlimits(plan) < 0)
    return -1;
  if (plan->has_umask)
    umask(plan->umask);
  if (plan->has_caps && drop_bounding_set(plan->cap_bounding) < 0)
    return -1;

  /* Without PR_SET_KEEPCAPS a switch from uid 0 to another uid clears the permitted set. */
  if (plan->has_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return fail_errno("caps", "-", "set keepcaps");
  if (switch_user(plan, in_user_ns) < 0)
    return -1;
  if (plan->has_caps && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return fail_errno("caps", "-", "clear keepcaps");

  if (plan->cwd && chdir(plan->cwd) < 0)
    return fail_errno("cwd", plan->cwd, "chdir");
  if (plan->has_caps && set_capabilities(plan) < 0)
    return -1;
  if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return fail_errno("no_new_privs", "-", "prctl");
  return make_undumpable();
}

/*
 * Keeps the container's other processes from ptracing this one, from
 * taking its fds with pidfd_getfd and from opening /proc/PID/exe (the
 * helper binary) until execve, which makes the new program dumpable again.
 * Non-dumpable access checks use the mm's user namespace, the host's, since
 * the helper was exec'd there. A credential change resets the flag to
 * fs.suid_dumpable, so callers repeat this after each one.
 */
int make_undumpable(void)
{
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return fail_errno("sync", "-", "clear dumpable");
  return 0;
}

static bool is_executable(const char *path, int *err)
{
  struct stat st;

  if (stat(path, &st) < 0) {
    *err = errno;
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = EACCES;
    return false;
  }
  if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0) {
    *err = errno;
    return false;
  }
  return true;
}

/*
 * Finds args[0] on the PATH of the plan's environment, as execvpe would
 * with that environment (glibc's execvpe reads the caller's PATH instead).
 * Runs after the user switch so the check uses the process's own rights.
 */
int resolve_executable(const struct plan *plan, char *out, size_t size)
{
  const char *name = plan->args[0];
  const char *path = DEFAULT_PATH;
  int err = ENOENT, found_err = 0;

  if (!name || !*name)
    return fail("arg", "", ENOENT, "empty command");
  if (strchr(name, '/')) {
    if (!is_executable(name, &err))
      return fail("execve", name, err, "not executable");
    snprintf(out, size, "%s", name);
    return 0;
  }
  for (size_t i = 0; i < plan->env_count; i++) {
    if (strncmp(plan->env[i], "PATH=", 5) == 0)
      path = plan->env[i] + 5;
  }
  while (path) {
    const char *end = strchr(path, ':');
    size_t length = end ? (size_t)(end - path) : strlen(path);

    int written;

    /* An empty PATH entry means the current directory. */
    if (length == 0)
      written = snprintf(out, size, "./%s", name);
    else
      written = snprintf(out, size, "%.*s/%s", (int)length, path, name);
    if (written < (int)size && is_executable(out, &err))
      return 0;
    if (err != ENOENT && err != ENOTDIR && !found_err)
      found_err = err;
    path = end ? end + 1 : NULL;
  }
  return fail("execve", name, found_err ? found_err : ENOENT, "not found on PATH");
}

/*
 * Leaves the fds the process keeps: 0-2, the preserve_fds fds and keep.
 * fd 3 is the control socket, so the caller passes preserved fds at 4 ..
 * 4+n-1 and they move down to 3 .. 3+n-1. keep must lie at or above 4+n.
 */
int prepare_fds(const struct plan *plan, const int *keep, size_t keep_count)
{
  int first_closed = 3 + plan->preserve_fds;

  for (int i = 0; i < plan->preserve_fds; i++) {
    if (dup2(4 + i, 3 + i) < 0) {
      char text[16];

      snprintf(text, sizeof text, "%d", 4 + i);
      return fail_errno("preserve_fds", text, "dup2");
    }
  }
  if (close_fds_except(first_closed, keep, keep_count) < 0)
    return fail_errno("preserve_fds", "-", "close fds");
  return 0;
}
