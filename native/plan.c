/* Plan file loading and validation. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define PLAN_MAX_BYTES (4 << 20)

static int invalid(const char *name, const char *detail)
{
  return fail("plan", name, EINVAL, detail);
}

bool plan_has_mount_steps(const struct plan *plan)
{
  return plan->rootfs || plan->step_count || plan->pivot || plan->mask_count ||
         plan->readonly_count || plan->root_readonly;
}

static bool has_ns(const struct plan *plan, enum ns_kind kind)
{
  return (plan->ns_new & (1u << kind)) || plan->ns_path[kind];
}

/*
 * Returns the namespace a sysctl belongs to, or -1 for a host-wide one.
 * The set follows the namespaced sysctls the kernel documents for ipc, net
 * and uts namespaces (Documentation/admin-guide/sysctl).
 */
static int sysctl_namespace(const char *key)
{
  static const char *const ipc_keys[] = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.msg_next_id",
    "kernel.sem_next_id", "kernel.shm_next_id",
  };

  if (strncmp(key, "net.", 4) == 0)
    return NS_NET;
  if (strncmp(key, "fs.mqueue.", 10) == 0)
    return NS_IPC;
  if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
    return NS_UTS;
  for (size_t i = 0; i < sizeof ipc_keys / sizeof ipc_keys[0]; i++) {
    if (strcmp(key, ipc_keys[i]) == 0)
      return NS_IPC;
  }
  return -1;
}

/* Rejects plans that would change the host: set-up steps outside the namespaces that scope them. */
static int validate(const struct plan *plan)
{
  if (plan->arg_count == 0)
    return invalid("arg", "missing");
  if (plan->exec_mode) {
    if (plan->target_pid == 0)
      return invalid("target_pid", "missing");
    return 0;
  }
  if (!plan->state_dir)
    return invalid("state_dir", "missing");
  if (plan->device_rule_count > 0 && !plan->device_filter)
    return invalid("device_rule", "needs device_filter");
  if (plan_has_mount_steps(plan) && !(plan->ns_new & (1u << NS_MNT)))
    return invalid("rootfs", "mount steps need ns mnt");
  if (plan->overlay_lower && !plan->rootfs)
    return invalid("overlay", "needs rootfs");
  if (plan->pivot && !plan->rootfs)
    return invalid("pivot", "needs rootfs");
  if ((plan->hostname || plan->domainname) && !has_ns(plan, NS_UTS))
    return invalid(plan->hostname ? "hostname" : "domainname", "needs ns uts");
  if (plan->time_offset_count && !(plan->ns_new & (1u << NS_TIME)))
    return invalid("time_offset", "needs ns time");
  for (int kind = 0; kind < NS_COUNT; kind++) {
    if ((plan->ns_new & (1u << kind)) && plan->ns_path[kind])
      return invalid("ns_path", "namespace is both new and joined");
  }
  for (size_t i = 0; i < plan->sysctl_count; i++) {
    int kind = sysctl_namespace(plan->sysctl_keys[i]);
    char detail[32];

    if (kind < 0)
      return fail("plan", plan->sysctl_keys[i], EINVAL, "sysctl is not namespaced");
    snprintf(detail, sizeof detail, "needs ns %s", ns_names[kind]);
    if (!has_ns(plan, kind))
      return fail("plan", plan->sysctl_keys[i], EINVAL, detail);
  }
  return 0;
}

static int read_plan_file(const char *file, char **text)
{
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  size_t used = 0, size = 8192;
  char *buf = malloc(size);

  if (fd < 0 || !buf) {
    int saved = errno;

    free(buf);
    if (fd >= 0)
      close(fd);
    return fail("plan", file, saved, "open plan file");
  }
  for (;;) {
    ssize_t n;

    if (used + 1 == size) {
      char *grown = size < PLAN_MAX_BYTES ? realloc(buf, size * 2) : NULL;

      if (!grown) {
        free(buf);
        close(fd);
        return fail("plan", file, EFBIG, "plan file too large");
      }
      buf = grown;
      size *= 2;
    }
    n = read(fd, buf + used, size - used - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;

      free(buf);
      close(fd);
      return fail("plan", file, saved, "read plan file");
    }
    if (n == 0)
      break;
    used += (size_t)n;
  }
  close(fd);
  buf[used] = '\0';
  *text = buf;
  return 0;
}

/* Appends the NULL that execve expects after the last entry. */
static int null_terminate(char ***array, size_t count)
{
  char **grown = realloc(*array, (count + 1) * sizeof **array);

  if (!grown)
    return -1;
  grown[count] = NULL;
  *array = grown;
  return 0;
}

int plan_load(const char *file, bool exec_mode, struct plan *plan)
{
  char *text = NULL, *line, *next;

  memset(plan, 0, sizeof *plan);
  plan->exec_mode = exec_mode;
  plan->rootfs_propagation = MS_PRIVATE | MS_REC;
  if (read_plan_file(file, &text) < 0)
    return -1;
  for (line = text; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    if (*line == '\0')
      continue;
    if (parse_plan_line(plan, line) < 0) {
      free(text);
      return -1;
    }
  }
  free(text);
  if (null_terminate(&plan->env, plan->env_count) < 0 ||
      null_terminate(&plan->args, plan->arg_count) < 0)
    return fail("plan", "-", ENOMEM, "out of memory");
  return validate(plan);
}
