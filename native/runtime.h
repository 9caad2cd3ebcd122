/* Shared declarations of isolab-runtime; PROTOCOL.md describes its contract. */
#ifndef ISOLAB_RUNTIME_H
#define ISOLAB_RUNTIME_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define RUNTIME_VERSION "0.1.0"

/* Node's fourth stdio entry: the stream socket that carries the protocol. */
#define CONTROL_FD 3

/* Maximum length of one protocol message, fd 3 or sync socket. */
#define LINE_MAX_BYTES 16384

/* Namespace kinds in the order the protocol joins them. */
enum ns_kind {
  NS_USER,
  NS_MNT,
  NS_PID,
  NS_UTS,
  NS_IPC,
  NS_NET,
  NS_CGROUP,
  NS_TIME,
  NS_COUNT,
};

extern const char *const ns_names[NS_COUNT];
extern const unsigned long ns_clone_flags[NS_COUNT];

enum rootfs_step_kind { STEP_MOUNT, STEP_MKDIR, STEP_SYMLINK, STEP_DEVICE };

/* One pre-pivot root filesystem step; fields unused by a kind are NULL or 0. */
struct rootfs_step {
  enum rootfs_step_kind kind;
  char *source;         /* mount source; symlink target */
  char *dest;           /* path in root: mountpoint, directory, linkpath, node */
  char *fstype;         /* mount */
  unsigned long flags;  /* mount: MS_* flags */
  unsigned long propagation; /* mount: MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, MS_REC */
  char *data;           /* mount */
  mode_t mode;          /* mkdir, device */
  char device_type;     /* device: 'c' or 'b' */
  unsigned major, minor;
  uid_t uid;
  gid_t gid;
};

struct time_offset {
  int clock_id;         /* CLOCK_MONOTONIC or CLOCK_BOOTTIME */
  long long secs;
  long nsecs;
};

struct rlimit_entry {
  int resource;
  struct rlimit limit;
};

/* One OCI device rule for the cgroup v2 device filter; -1 is any major or minor. */
struct device_rule {
  bool allow;
  char type;                       /* 'a', 'b' or 'c' */
  long long major, minor;
  unsigned access;                 /* BPF_DEVCG_ACC_* bits */
};

struct plan {
  bool exec_mode;
  char *state_dir;
  unsigned ns_new;                 /* bit (1 << enum ns_kind) per `ns` */
  char *ns_path[NS_COUNT];
  struct time_offset time_offsets[2];
  size_t time_offset_count;
  char *rootfs;
  char *overlay_lower, *overlay_upper, *overlay_work;
  unsigned long rootfs_propagation;
  struct rootfs_step *steps;
  size_t step_count;
  bool pivot;
  char **masks;
  size_t mask_count;
  char **readonly_paths;
  size_t readonly_count;
  bool root_readonly;
  char **sysctl_keys, **sysctl_values;
  size_t sysctl_count;
  char *hostname, *domainname;
  struct rlimit_entry *rlimits;
  size_t rlimit_count;
  bool has_oom_score_adj;
  int oom_score_adj;
  bool has_umask;
  mode_t umask;
  bool has_user;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t group_count;
  bool has_caps;
  uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  bool no_new_privs;
  int preserve_fds;
  char *cwd;
  char **env;                      /* NULL-terminated */
  size_t env_count;
  char **args;                     /* NULL-terminated */
  size_t arg_count;
  char *exec_fifo;
  char *oom_file;
  pid_t target_pid;
  unsigned join;                   /* bit (1 << enum ns_kind) per `join` */
  char *cgroup_dir;
  char *device_filter;             /* cgroup v2 directory to attach the device filter to */
  struct device_rule *device_rules;
  size_t device_rule_count;
};

/* The step that failed, reported as `error STEP VALUE ERRNO DETAIL`. */
struct failure {
  const char *step;
  char value[4096];
  int err;
  char detail[256];
};

extern struct failure failure;

/* Highest capability number of the running kernel. */
extern int last_cap;

/*
 * Set by ISOLAB_RUNTIME_FALLBACKS=1: skip clone3, pidfd setns, openat2,
 * close_range and mount_setattr to exercise the code for older kernels.
 */
extern bool force_fallbacks;

/*
 * O_PATH fd of the host's /proc, opened before any namespace change. Set-up
 * code reaches its own process through "self/..." under it, which works
 * after the pivot and without a /proc in the container.
 */
extern int host_proc_fd;

/* util.c */
int fail(const char *step, const char *value, int err, const char *detail);
int fail_errno(const char *step, const char *value, const char *detail);
void format_failure(char *buf, size_t size);
int report_failure(int fd);
int report_failure_packet(int fd);
void escape_field(const char *in, char *out, size_t size);
void unescape_field(char *field);
int split_fields(char *line, char **fields, int max_fields);
int write_all(int fd, const char *buf, size_t len);
int send_line(int fd, const char *line);
int read_line(int fd, char *buf, size_t size);
int sync_send(int fd, const char *message);
int relay_go(int sync_fd, const char *child, int accept_abort);
ssize_t sync_recv(int fd, char *buf, size_t size);
int move_fd_above(int fd, int min_fd);
int close_fds_except(int first, const int *keep, size_t keep_count);
void reset_signals(void);
int write_file(const char *path, const char *text);
int read_last_cap(void);

/* directives.c, plan.c */
int parse_plan_line(struct plan *plan, char *line);
int plan_load(const char *file, bool exec_mode, struct plan *plan);
bool plan_has_mount_steps(const struct plan *plan);

/* namespaces.c */
pid_t clone_process(uint64_t flags, int cgroup_fd);
int join_namespace_fds(int fds[NS_COUNT], char *labels[NS_COUNT]);
int join_ns_paths(const struct plan *plan);
int join_target(const struct plan *plan, int *cgroup_ns_fd);

/* resolve.c */
int open_in_root(int rootfd, const char *path, int flags);
int mkdir_in_root(int rootfd, const char *path, mode_t mode);
int open_parent_in_root(int rootfd, const char *path, char *base);
int create_empty_file(int parent_fd, const char *base);

/* rootfs.c */
int setup_rootfs(const struct plan *plan);
int finish_rootfs(const struct plan *plan);
int apply_sysctls(const struct plan *plan);

/* process.c */
int apply_oom_score_adj(const struct plan *plan);
int apply_process(const struct plan *plan, bool in_user_ns);
int make_undumpable(void);
int resolve_executable(const struct plan *plan, char *out, size_t size);
int prepare_fds(const struct plan *plan, const int *keep, size_t keep_count);

/* create.c, exec.c */
int run_create(const struct plan *plan);
int run_exec(const struct plan *plan);

/* devices.c: loads the plan's device rules as a BPF program and attaches it to its cgroup. */
int attach_device_filter(const struct plan *plan);

#endif
