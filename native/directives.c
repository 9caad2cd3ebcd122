/* Parsers for each plan directive; PROTOCOL.md lists them. */
#include "runtime.h"
#include <linux/bpf.h>
#include <stdint.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIELDS 8

const char *const ns_names[NS_COUNT] = {
  "user", "mnt", "pid", "uts", "ipc", "net", "cgroup", "time",
};

const unsigned long ns_clone_flags[NS_COUNT] = {
  CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS,
  CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */,
};

enum scope { SCOPE_BOTH, SCOPE_CREATE, SCOPE_EXEC };

struct directive {
  const char *name;
  int field_count;
  enum scope scope;
  int (*parse)(struct plan *plan, const char *name, char **fields);
};

static int invalid(const char *name, const char *detail)
{
  return fail("plan", name, EINVAL, detail);
}

/* Appends one zeroed element to a growable array and returns it, or NULL. */
static void *append(void *array_ptr, size_t *count, size_t size)
{
  void **array = array_ptr;
  char *grown = realloc(*array, (*count + 1) * size);

  if (!grown)
    return NULL;
  *array = grown;
  memset(grown + *count * size, 0, size);
  return grown + (*count)++ * size;
}

static int append_string(char ***array, size_t *count, const char *value)
{
  char **slot = append(array, count, sizeof **array);

  if (!slot || !(*slot = strdup(value)))
    return fail("plan", value, ENOMEM, "out of memory");
  return 0;
}

static bool parse_u64(const char *text, int base, uint64_t *out)
{
  char *end;

  if (!*text || *text == '-')
    return false;
  errno = 0;
  *out = strtoull(text, &end, base);
  return errno == 0 && *end == '\0';
}

static bool parse_i64(const char *text, long long *out)
{
  char *end;

  if (!*text)
    return false;
  errno = 0;
  *out = strtoll(text, &end, 10);
  return errno == 0 && *end == '\0';
}

static bool parse_id(const char *text, unsigned *out)
{
  uint64_t value;

  if (!parse_u64(text, 10, &value) || value > UINT32_MAX - 1)
    return false;
  *out = (unsigned)value;
  return true;
}

static int ns_kind_of(const char *name)
{
  for (int kind = 0; kind < NS_COUNT; kind++) {
    if (strcmp(ns_names[kind], name) == 0)
      return kind;
  }
  return -1;
}

static int set_string(char **slot, const char *name, const char *value)
{
  if (*slot)
    return invalid(name, "directive given twice");
  if (!(*slot = strdup(value)))
    return fail("plan", name, ENOMEM, "out of memory");
  return 0;
}

static int parse_state_dir(struct plan *p, const char *n, char **f) { return set_string(&p->state_dir, n, f[0]); }
static int parse_rootfs(struct plan *p, const char *n, char **f) { return set_string(&p->rootfs, n, f[0]); }
static int parse_hostname(struct plan *p, const char *n, char **f) { return set_string(&p->hostname, n, f[0]); }
static int parse_domainname(struct plan *p, const char *n, char **f) { return set_string(&p->domainname, n, f[0]); }
static int parse_cwd(struct plan *p, const char *n, char **f) { return set_string(&p->cwd, n, f[0]); }
static int parse_exec_fifo(struct plan *p, const char *n, char **f) { return set_string(&p->exec_fifo, n, f[0]); }
static int parse_oom_file(struct plan *p, const char *n, char **f) { return set_string(&p->oom_file, n, f[0]); }
static int parse_cgroup_dir(struct plan *p, const char *n, char **f) { return set_string(&p->cgroup_dir, n, f[0]); }

static int parse_device_filter(struct plan *p, const char *n, char **f)
{
  return set_string(&p->device_filter, n, f[0]);
}

/* device_rule allow|deny a|b|c MAJOR MINOR ACCESS, with -1 for any major or minor. */
static int parse_device_rule(struct plan *p, const char *n, char **f)
{
  struct device_rule *rule;
  long long major, minor;
  unsigned access = 0;
  const char *c;

  if (strcmp(f[0], "allow") != 0 && strcmp(f[0], "deny") != 0)
    return invalid(n, "expected allow or deny");
  if (strlen(f[1]) != 1 || !strchr("abc", f[1][0]))
    return invalid(n, "type must be a, b or c");
  if (!parse_i64(f[2], &major) || major < -1 || major > INT32_MAX)
    return invalid(n, "major must be -1 or from 0 to 2147483647");
  if (!parse_i64(f[3], &minor) || minor < -1 || minor > INT32_MAX)
    return invalid(n, "minor must be -1 or from 0 to 2147483647");
  /* Type a means every device, as in cgroup v1, so it takes no major or minor. */
  if (f[1][0] == 'a' && (major != -1 || minor != -1))
    return invalid(n, "type a covers every device, so major and minor must be -1");
  for (c = f[4]; *c; c++) {
    if (*c == 'r') access |= BPF_DEVCG_ACC_READ;
    else if (*c == 'w') access |= BPF_DEVCG_ACC_WRITE;
    else if (*c == 'm') access |= BPF_DEVCG_ACC_MKNOD;
    else return invalid(n, "access must be made of r, w and m");
  }
  if (!access)
    return invalid(n, "access must not be empty");
  if (!(rule = append(&p->device_rules, &p->device_rule_count, sizeof *rule)))
    return fail("plan", n, ENOMEM, "out of memory");
  rule->allow = f[0][0] == 'a';
  rule->type = f[1][0];
  rule->major = major;
  rule->minor = minor;
  rule->access = access;
  return 0;
}

static int parse_ns(struct plan *p, const char *n, char **f)
{
  int kind = ns_kind_of(f[0]);

  if (kind < 0)
    return invalid(n, "unknown namespace kind");
  p->ns_new |= 1u << kind;
  return 0;
}

static int parse_ns_path(struct plan *p, const char *n, char **f)
{
  int kind = ns_kind_of(f[0]);

  if (kind < 0)
    return invalid(n, "unknown namespace kind");
  return set_string(&p->ns_path[kind], n, f[1]);
}

static int parse_join(struct plan *p, const char *n, char **f)
{
  int kind = ns_kind_of(f[0]);

  if (kind < 0)
    return invalid(n, "unknown namespace kind");
  p->join |= 1u << kind;
  return 0;
}

static int parse_time_offset(struct plan *p, const char *n, char **f)
{
  struct time_offset *offset;
  long long secs, nsecs;

  if (p->time_offset_count == 2)
    return invalid(n, "more than two clocks");
  offset = &p->time_offsets[p->time_offset_count];
  if (strcmp(f[0], "monotonic") == 0)
    offset->clock_id = CLOCK_MONOTONIC;
  else if (strcmp(f[0], "boottime") == 0)
    offset->clock_id = CLOCK_BOOTTIME;
  else
    return invalid(n, "unknown clock");
  if (!parse_i64(f[1], &secs) || !parse_i64(f[2], &nsecs) || nsecs < 0 || nsecs > 999999999)
    return invalid(n, "invalid seconds or nanoseconds");
  offset->secs = secs;
  offset->nsecs = (long)nsecs;
  p->time_offset_count++;
  return 0;
}

static int parse_overlay(struct plan *p, const char *n, char **f)
{
  if (set_string(&p->overlay_lower, n, f[0]) < 0 || set_string(&p->overlay_upper, n, f[1]) < 0)
    return -1;
  return set_string(&p->overlay_work, n, f[2]);
}

static int parse_rootfs_propagation(struct plan *p, const char *n, char **f)
{
  static const struct { const char *name; unsigned long flags; } modes[] = {
    { "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC },
    { "slave", MS_SLAVE },     { "rslave", MS_SLAVE | MS_REC },
    { "shared", MS_SHARED },   { "rshared", MS_SHARED | MS_REC },
  };

  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(modes[i].name, f[0]) == 0) {
      p->rootfs_propagation = modes[i].flags;
      return 0;
    }
  }
  return invalid(n, "unknown propagation");
}

static struct rootfs_step *append_step(struct plan *p, enum rootfs_step_kind kind)
{
  struct rootfs_step *step = append(&p->steps, &p->step_count, sizeof *step);

  if (step)
    step->kind = kind;
  else
    fail("plan", "-", ENOMEM, "out of memory");
  return step;
}

static int parse_mount(struct plan *p, const char *n, char **f)
{
  uint64_t flags, propagation;
  struct rootfs_step *step;

  if (!parse_u64(f[3], 16, &flags) || !parse_u64(f[4], 16, &propagation))
    return invalid(n, "invalid hex flags");
  if (f[1][0] == '\0' || f[2][0] == '\0')
    return invalid(n, "empty destination or fstype");
  if (!(step = append_step(p, STEP_MOUNT)))
    return -1;
  step->source = strdup(f[0]);
  step->dest = strdup(f[1]);
  step->fstype = strdup(f[2]);
  step->data = strdup(f[5]);
  step->flags = (unsigned long)flags;
  step->propagation = (unsigned long)propagation;
  if (!step->source || !step->dest || !step->fstype || !step->data)
    return fail("plan", n, ENOMEM, "out of memory");
  return 0;
}

static int parse_mkdir(struct plan *p, const char *n, char **f)
{
  uint64_t mode;
  struct rootfs_step *step;

  if (!parse_u64(f[1], 8, &mode) || mode > 07777)
    return invalid(n, "invalid octal mode");
  if (!(step = append_step(p, STEP_MKDIR)))
    return -1;
  step->mode = (mode_t)mode;
  if (!(step->dest = strdup(f[0])))
    return fail("plan", n, ENOMEM, "out of memory");
  return 0;
}

static int parse_symlink(struct plan *p, const char *n, char **f)
{
  struct rootfs_step *step = append_step(p, STEP_SYMLINK);

  if (!step)
    return -1;
  step->source = strdup(f[0]);
  step->dest = strdup(f[1]);
  if (!step->source || !step->dest)
    return fail("plan", n, ENOMEM, "out of memory");
  return 0;
}

static int parse_device(struct plan *p, const char *n, char **f)
{
  unsigned major, minor, uid, gid;
  uint64_t mode;
  struct rootfs_step *step;

  if (strcmp(f[1], "c") != 0 && strcmp(f[1], "b") != 0)
    return invalid(n, "device type must be c or b");
  if (!parse_id(f[2], &major) || !parse_id(f[3], &minor))
    return invalid(n, "invalid major or minor");
  if (!parse_u64(f[4], 8, &mode) || mode > 07777)
    return invalid(n, "invalid octal mode");
  if (!parse_id(f[5], &uid) || !parse_id(f[6], &gid))
    return invalid(n, "invalid uid or gid");
  if (!(step = append_step(p, STEP_DEVICE)))
    return -1;
  if (!(step->dest = strdup(f[0])))
    return fail("plan", n, ENOMEM, "out of memory");
  step->device_type = f[1][0];
  step->major = major;
  step->minor = minor;
  step->mode = (mode_t)mode;
  step->uid = uid;
  step->gid = gid;
  return 0;
}

static int parse_pivot(struct plan *p, const char *n, char **f)
{
  (void)n, (void)f;
  p->pivot = true;
  return 0;
}

static int parse_root_readonly(struct plan *p, const char *n, char **f)
{
  (void)n, (void)f;
  p->root_readonly = true;
  return 0;
}

static int parse_no_new_privs(struct plan *p, const char *n, char **f)
{
  (void)n, (void)f;
  p->no_new_privs = true;
  return 0;
}

static int parse_mask(struct plan *p, const char *n, char **f)
{
  (void)n;
  return append_string(&p->masks, &p->mask_count, f[0]);
}

static int parse_readonly(struct plan *p, const char *n, char **f)
{
  (void)n;
  return append_string(&p->readonly_paths, &p->readonly_count, f[0]);
}

static int parse_sysctl(struct plan *p, const char *n, char **f)
{
  size_t count = p->sysctl_count;

  if (!*f[0] || strchr(f[0], '/') || strstr(f[0], ".."))
    return invalid(n, "invalid key");
  if (append_string(&p->sysctl_keys, &count, f[0]) < 0)
    return -1;
  return append_string(&p->sysctl_values, &p->sysctl_count, f[1]);
}

static int parse_rlimit(struct plan *p, const char *n, char **f)
{
  long long resource, soft, hard;
  struct rlimit_entry *entry;

  if (!parse_i64(f[0], &resource) || resource < 0 || resource >= RLIM_NLIMITS)
    return invalid(n, "invalid resource number");
  if (!parse_i64(f[1], &soft) || !parse_i64(f[2], &hard) || soft < -1 || hard < -1)
    return invalid(n, "invalid soft or hard limit");
  if (!(entry = append(&p->rlimits, &p->rlimit_count, sizeof *entry)))
    return fail("plan", n, ENOMEM, "out of memory");
  entry->resource = (int)resource;
  entry->limit.rlim_cur = soft == -1 ? RLIM_INFINITY : (rlim_t)soft;
  entry->limit.rlim_max = hard == -1 ? RLIM_INFINITY : (rlim_t)hard;
  return 0;
}

static int parse_oom_score_adj(struct plan *p, const char *n, char **f)
{
  long long value;

  if (!parse_i64(f[0], &value) || value < -1000 || value > 1000)
    return invalid(n, "must be an integer from -1000 to 1000");
  p->has_oom_score_adj = true;
  p->oom_score_adj = (int)value;
  return 0;
}

static int parse_umask(struct plan *p, const char *n, char **f)
{
  uint64_t value;

  if (!parse_u64(f[0], 8, &value) || value > 0777)
    return invalid(n, "invalid octal umask");
  p->has_umask = true;
  p->umask = (mode_t)value;
  return 0;
}

static int parse_user(struct plan *p, const char *n, char **f)
{
  unsigned uid, gid;

  if (!parse_id(f[0], &uid) || !parse_id(f[1], &gid))
    return invalid(n, "invalid uid or gid");
  p->has_user = true;
  p->uid = uid;
  p->gid = gid;
  for (char *item = strtok(f[2], ","); item; item = strtok(NULL, ",")) {
    unsigned group;
    gid_t *slot;

    if (!parse_id(item, &group))
      return invalid(n, "invalid additional gid");
    if (!(slot = append(&p->groups, &p->group_count, sizeof *slot)))
      return fail("plan", n, ENOMEM, "out of memory");
    *slot = group;
  }
  return 0;
}

static int parse_caps(struct plan *p, const char *n, char **f)
{
  uint64_t *sets[] = {
    &p->cap_bounding, &p->cap_effective, &p->cap_permitted, &p->cap_inheritable, &p->cap_ambient,
  };

  for (int i = 0; i < 5; i++) {
    if (!parse_u64(f[i], 16, sets[i]))
      return invalid(n, "invalid hex capability mask");
  }
  p->has_caps = true;
  return 0;
}

static int parse_preserve_fds(struct plan *p, const char *n, char **f)
{
  uint64_t value;

  if (!parse_u64(f[0], 10, &value) || value > 1024)
    return invalid(n, "must be an integer from 0 to 1024");
  p->preserve_fds = (int)value;
  return 0;
}

static int parse_env(struct plan *p, const char *n, char **f)
{
  if (!strchr(f[0], '='))
    return invalid(n, "expected KEY=VALUE");
  return append_string(&p->env, &p->env_count, f[0]);
}

static int parse_arg(struct plan *p, const char *n, char **f)
{
  (void)n;
  return append_string(&p->args, &p->arg_count, f[0]);
}

static int parse_target_pid(struct plan *p, const char *n, char **f)
{
  unsigned pid;

  if (!parse_id(f[0], &pid) || pid == 0)
    return invalid(n, "invalid pid");
  p->target_pid = (pid_t)pid;
  return 0;
}

static const struct directive directives[] = {
  { "state_dir", 1, SCOPE_BOTH, parse_state_dir },
  { "ns", 1, SCOPE_CREATE, parse_ns },
  { "ns_path", 2, SCOPE_CREATE, parse_ns_path },
  { "time_offset", 3, SCOPE_CREATE, parse_time_offset },
  { "rootfs", 1, SCOPE_CREATE, parse_rootfs },
  { "overlay", 3, SCOPE_CREATE, parse_overlay },
  { "rootfs_propagation", 1, SCOPE_CREATE, parse_rootfs_propagation },
  { "mount", 6, SCOPE_CREATE, parse_mount },
  { "mkdir", 2, SCOPE_CREATE, parse_mkdir },
  { "symlink", 2, SCOPE_CREATE, parse_symlink },
  { "device", 7, SCOPE_CREATE, parse_device },
  { "pivot", 0, SCOPE_CREATE, parse_pivot },
  { "mask", 1, SCOPE_CREATE, parse_mask },
  { "readonly", 1, SCOPE_CREATE, parse_readonly },
  { "root_readonly", 0, SCOPE_CREATE, parse_root_readonly },
  { "sysctl", 2, SCOPE_CREATE, parse_sysctl },
  { "hostname", 1, SCOPE_CREATE, parse_hostname },
  { "device_filter", 1, SCOPE_CREATE, parse_device_filter },
  { "device_rule", 5, SCOPE_CREATE, parse_device_rule },
  { "domainname", 1, SCOPE_CREATE, parse_domainname },
  { "rlimit", 3, SCOPE_BOTH, parse_rlimit },
  { "oom_score_adj", 1, SCOPE_BOTH, parse_oom_score_adj },
  { "umask", 1, SCOPE_BOTH, parse_umask },
  { "user", 3, SCOPE_BOTH, parse_user },
  { "caps", 5, SCOPE_BOTH, parse_caps },
  { "no_new_privs", 0, SCOPE_BOTH, parse_no_new_privs },
  { "preserve_fds", 1, SCOPE_BOTH, parse_preserve_fds },
  { "cwd", 1, SCOPE_BOTH, parse_cwd },
  { "env", 1, SCOPE_BOTH, parse_env },
  { "arg", 1, SCOPE_BOTH, parse_arg },
  { "exec_fifo", 1, SCOPE_CREATE, parse_exec_fifo },
  { "oom_file", 1, SCOPE_CREATE, parse_oom_file },
  { "target_pid", 1, SCOPE_EXEC, parse_target_pid },
  { "join", 1, SCOPE_EXEC, parse_join },
  { "cgroup_dir", 1, SCOPE_EXEC, parse_cgroup_dir },
};

/* Parses one plan line into plan; returns -1 with the failure set. */
int parse_plan_line(struct plan *plan, char *line)
{
  char *fields[MAX_FIELDS + 1];
  int count = split_fields(line, fields, MAX_FIELDS);

  for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++) {
    const struct directive *d = &directives[i];

    if (strcmp(d->name, fields[0]) != 0)
      continue;
    if (count - 1 != d->field_count)
      return invalid(d->name, "wrong number of fields");
    if (d->scope == SCOPE_CREATE && plan->exec_mode)
      return invalid(d->name, "create only");
    if (d->scope == SCOPE_EXEC && !plan->exec_mode)
      return invalid(d->name, "exec only");
    return d->parse(plan, d->name, fields + 1);
  }
  return invalid(fields[0], "unknown directive");
}
