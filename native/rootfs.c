/*
 * Root filesystem set-up in init's new mount namespace: propagation, the
 * rootfs bind, overlay, plan-order steps with paths resolved inside the
 * root, pivot_root, then read-only paths, masks and a read-only root.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define MOUNT_ATTR_RDONLY_FLAG 0x01ULL
#define RAMFS_MAGIC_NUMBER 0x858458f6
#define TMPFS_MAGIC_NUMBER 0x01021994

/* Per-mount flags that a MS_REMOUNT|MS_BIND can set. */
#define BIND_REMOUNT_FLAGS                                                             \
  (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |      \
   MS_RELATIME | MS_STRICTATIME)

struct mount_attr_args {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

static void fd_path(int fd, char *buf, size_t size)
{
  snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static unsigned long flags_of_statvfs(unsigned long f_flag)
{
  static const struct { unsigned long st, ms; } pairs[] = {
    { ST_RDONLY, MS_RDONLY },     { ST_NOSUID, MS_NOSUID },         { ST_NODEV, MS_NODEV },
    { ST_NOEXEC, MS_NOEXEC },     { ST_NOATIME, MS_NOATIME },       { ST_NODIRATIME, MS_NODIRATIME },
    { ST_RELATIME, MS_RELATIME },
  };
  unsigned long flags = 0;

  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    if (f_flag & pairs[i].st)
      flags |= pairs[i].ms;
  }
  return flags;
}

/*
 * Sets the per-mount flags of the mount at target by a bind remount. With
 * keep_existing the mount's current flags stay set, so a request for
 * read-only does not clear nosuid. In a user namespace the flags inherited
 * from a more privileged mount are locked (MNT_LOCK_*), and a remount that
 * would clear one fails with EPERM, so that case retries with them kept.
 */
static int remount_bind(const char *target, unsigned long flags, bool keep_existing)
{
  struct statvfs st;

  if (!keep_existing && mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
    return 0;
  if (!keep_existing && errno != EPERM)
    return -1;
  if (statvfs(target, &st) < 0)
    return -1;
  flags |= flags_of_statvfs(st.f_flag);
  return mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
}

/*
 * Makes the mount at fd and every mount below it read-only with
 * mount_setattr (Linux 5.12). Older kernels fail with ENOSYS.
 */
static int make_tree_readonly(int fd)
{
  struct mount_attr_args attr = { .attr_set = MOUNT_ATTR_RDONLY_FLAG };

  if (force_fallbacks) {
    errno = ENOSYS;
    return -1;
  }
  return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
}

/* Read-only for the whole tree at fd, or for its top mount only on kernels before 5.12. */
static int make_readonly(int fd)
{
  char target[64];

  if (make_tree_readonly(fd) == 0)
    return 0;
  if (errno != ENOSYS)
    return -1;
  fd_path(fd, target, sizeof target);
  /* NOTE: mounts below the top one stay writable on kernels before 5.12. */
  return remount_bind(target, MS_RDONLY, true);
}

/* Opens the mountpoint of step in root, creating a directory or, for a file bind source, an empty file. */
static int open_mountpoint(int rootfd, const struct rootfs_step *step, bool file)
{
  char base[NAME_MAX + 1];
  int fd = open_in_root(rootfd, step->dest, O_PATH);
  int parent_fd;

  if (fd >= 0 || errno != ENOENT)
    return fd;
  if (!file)
    return mkdir_in_root(rootfd, step->dest, 0755);
  parent_fd = open_parent_in_root(rootfd, step->dest, base);
  if (parent_fd < 0)
    return -1;
  if (create_empty_file(parent_fd, base) < 0) {
    int saved = errno;

    close(parent_fd);
    errno = saved;
    return -1;
  }
  close(parent_fd);
  return open_in_root(rootfd, step->dest, O_PATH);
}

/* Reopens step's mountpoint so the fd refers to the mount just stacked on it, not the one below. */
static int reopen_mountpoint(int rootfd, const struct rootfs_step *step, int *fd, char *target)
{
  close(*fd);
  *fd = open_in_root(rootfd, step->dest, O_PATH);
  if (*fd < 0)
    return fail_errno("mount", step->dest, "reopen mountpoint");
  fd_path(*fd, target, 64);
  return 0;
}

/*
 * Mounts a sysfs, or in a user namespace that does not own the network
 * namespace, where the kernel refuses sysfs with EPERM, binds the host's
 * /sys read-only in its place.
 */
static int mount_sysfs(int rootfd, const struct rootfs_step *step, int *fd, char *target)
{
  if (mount(step->source, target, "sysfs", step->flags, step->data) == 0)
    return 0;
  if (errno != EPERM)
    return fail_errno("mount", step->dest, "mount sysfs");
  if (mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) < 0)
    return fail_errno("mount", step->dest, "bind host /sys in place of sysfs");
  if (reopen_mountpoint(rootfd, step, fd, target) < 0)
    return -1;
  if (remount_bind(target, (step->flags & BIND_REMOUNT_FLAGS) | MS_RDONLY, false) < 0 ||
      make_readonly(*fd) < 0)
    return fail_errno("mount", step->dest, "make host /sys read-only");
  return 0;
}

static int do_mount_step(int rootfd, const struct rootfs_step *step)
{
  bool bind = strcmp(step->fstype, "bind") == 0 || (step->flags & MS_BIND);
  bool file = false;
  unsigned long remount_flags = 0;
  char target[64];
  int fd, rc = -1;

  if (bind) {
    struct stat st;

    if (stat(step->source, &st) < 0)
      return fail_errno("mount", step->source, "stat bind source");
    file = !S_ISDIR(st.st_mode);
  }
  fd = open_mountpoint(rootfd, step, file);
  if (fd < 0)
    return fail_errno("mount", step->dest, "open or create mountpoint");
  fd_path(fd, target, sizeof target);

  if (bind) {
    if (mount(step->source, target, NULL, MS_BIND | (step->flags & MS_REC), NULL) < 0) {
      fail_errno("mount", step->dest, "bind");
      goto out;
    }
    remount_flags = step->flags & BIND_REMOUNT_FLAGS;
  } else if (strcmp(step->fstype, "sysfs") == 0) {
    if (mount_sysfs(rootfd, step, &fd, target) < 0)
      goto out;
  } else if (mount(step->source, target, step->fstype, step->flags, step->data) < 0) {
    fail_errno("mount", step->dest, step->fstype);
    goto out;
  }

  /* A bind mount ignores MS_RDONLY and friends; only a second, remounting call applies them. */
  if (remount_flags || step->propagation) {
    if (reopen_mountpoint(rootfd, step, &fd, target) < 0)
      goto out;
  }
  if (remount_flags && remount_bind(target, remount_flags, false) < 0) {
    fail_errno("mount", step->dest, "remount bind with flags");
    goto out;
  }
  if (step->propagation && mount(NULL, target, NULL, step->propagation, NULL) < 0) {
    fail_errno("mount", step->dest, "set propagation");
    goto out;
  }
  rc = 0;
out:
  if (fd >= 0)
    close(fd);
  return rc;
}

/* Binds the host's /dev/<name> onto an empty file: mknod fails with EPERM in a user namespace. */
static int bind_host_device(int parent_fd, const char *base, const struct rootfs_step *step)
{
  char host[PATH_MAX], target[64];
  const char *name = strrchr(step->dest, '/');
  int fd, rc;

  snprintf(host, sizeof host, "/dev/%s", name ? name + 1 : step->dest);
  if (create_empty_file(parent_fd, base) < 0)
    return fail_errno("device", step->dest, "create bind target");
  fd = openat(parent_fd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return fail_errno("device", step->dest, "open bind target");
  fd_path(fd, target, sizeof target);
  rc = mount(host, target, NULL, MS_BIND, NULL);
  if (rc < 0)
    fail_errno("device", host, "bind host device");
  close(fd);
  return rc;
}

static int do_device_step(int rootfd, const struct rootfs_step *step)
{
  char base[NAME_MAX + 1];
  mode_t type = step->device_type == 'b' ? S_IFBLK : S_IFCHR;
  int parent_fd = open_parent_in_root(rootfd, step->dest, base);
  int rc = 0;

  if (parent_fd < 0)
    return fail_errno("device", step->dest, "open or create parent");
  if (mknodat(parent_fd, base, type | step->mode, makedev(step->major, step->minor)) == 0) {
    if (fchownat(parent_fd, base, step->uid, step->gid, AT_SYMLINK_NOFOLLOW) < 0)
      rc = fail_errno("device", step->dest, "chown");
  } else if (errno == EPERM) {
    rc = bind_host_device(parent_fd, base, step);
  } else if (errno != EEXIST) {
    rc = fail_errno("device", step->dest, "mknod");
  }
  close(parent_fd);
  return rc;
}

static int do_symlink_step(int rootfd, const struct rootfs_step *step)
{
  char base[NAME_MAX + 1];
  int parent_fd = open_parent_in_root(rootfd, step->dest, base);
  int rc = 0;

  if (parent_fd < 0)
    return fail_errno("symlink", step->dest, "open or create parent");
  if (symlinkat(step->source, parent_fd, base) < 0 && errno != EEXIST)
    rc = fail_errno("symlink", step->dest, "symlink");
  close(parent_fd);
  return rc;
}

static int do_step(int rootfd, const struct rootfs_step *step)
{
  int fd;

  switch (step->kind) {
  case STEP_MOUNT:
    return do_mount_step(rootfd, step);
  case STEP_MKDIR:
    fd = mkdir_in_root(rootfd, step->dest, step->mode);
    if (fd < 0)
      return fail_errno("mkdir", step->dest, "mkdir");
    return close(fd);
  case STEP_SYMLINK:
    return do_symlink_step(rootfd, step);
  case STEP_DEVICE:
    return do_device_step(rootfd, step);
  }
  return fail("plan", "-", EINVAL, "unknown step");
}

/*
 * Keeps pivot_root possible under shared propagation: it fails with EINVAL
 * when the new root, the new root's parent mount or the current root mount
 * is shared (fs/namespace.c). A second bind of the rootfs onto the
 * now-private first one gives the new root a private parent.
 */
static int unshare_pivot_mounts(const char *rootfs)
{
  if (mount(NULL, rootfs, NULL, MS_PRIVATE, NULL) < 0 ||
      mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0 ||
      mount(NULL, rootfs, NULL, MS_PRIVATE, NULL) < 0 ||
      mount(NULL, "/", NULL, MS_PRIVATE, NULL) < 0)
    return fail_errno("rootfs_propagation", rootfs, "make the pivot mounts private");
  return 0;
}

/* Appends value to buf with ',' and '\' escaped by a backslash, as overlayfs parses options. */
static void append_overlay_option(char *buf, size_t size, const char *key, const char *value)
{
  size_t used = strlen(buf);

  used += (size_t)snprintf(buf + used, size - used, "%s%s=", used ? "," : "", key);
  for (; *value && used + 2 < size; value++) {
    if (*value == ',' || *value == '\\')
      buf[used++] = '\\';
    buf[used++] = *value;
  }
  buf[used] = '\0';
}

static int mount_overlay(const struct plan *plan)
{
  char data[3 * PATH_MAX + 64] = "";

  append_overlay_option(data, sizeof data, "lowerdir", plan->overlay_lower);
  append_overlay_option(data, sizeof data, "upperdir", plan->overlay_upper);
  append_overlay_option(data, sizeof data, "workdir", plan->overlay_work);
  if (mount("overlay", plan->rootfs, "overlay", 0, data) < 0)
    return fail_errno("overlay", plan->rootfs, "mount overlay");
  return 0;
}

/*
 * Switches the root to the rootfs (the cwd). A root on ramfs or tmpfs, the
 * initramfs case, cannot be pivoted (EINVAL), so there the rootfs is moved
 * onto "/" and chroot'ed into, as runc does for no-pivot roots.
 */
static int pivot_into(int rootfd, const char *rootfs)
{
  struct statfs root_fs;

  if (fchdir(rootfd) < 0)
    return fail_errno("pivot", rootfs, "chdir to rootfs");
  if (syscall(SYS_pivot_root, ".", ".") == 0) {
    /* The old root now lies on top of "."; as a slave its detach cannot reach the host's mounts. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
      return fail_errno("pivot", rootfs, "make the old root a slave");
    if (umount2(".", MNT_DETACH) < 0)
      return fail_errno("pivot", rootfs, "detach the old root");
  } else if (errno == EINVAL && statfs("/", &root_fs) == 0 &&
             (root_fs.f_type == RAMFS_MAGIC_NUMBER || root_fs.f_type == TMPFS_MAGIC_NUMBER)) {
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
      return fail_errno("pivot", rootfs, "move rootfs onto / and chroot");
  } else {
    return fail_errno("pivot", rootfs, "pivot_root");
  }
  if (chdir("/") < 0)
    return fail_errno("pivot", "/", "chdir");
  return 0;
}

/* Binds the rootfs onto itself, since pivot_root needs a mount point, and stacks the overlay on it. */
static int prepare_root_mount(const struct plan *plan)
{
  if (mount(plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return fail_errno("rootfs", plan->rootfs, "bind onto itself");
  if ((plan->rootfs_propagation & MS_SHARED) && unshare_pivot_mounts(plan->rootfs) < 0)
    return -1;
  if (plan->overlay_lower && mount_overlay(plan) < 0)
    return -1;
  return 0;
}

/* Carries out the rootfs directives up to and including pivot. */
int setup_rootfs(const struct plan *plan)
{
  const char *root = plan->rootfs ? plan->rootfs : "/";
  int rootfd, rc = 0;

  if (mount(NULL, "/", NULL, plan->rootfs_propagation, NULL) < 0)
    return fail_errno("rootfs_propagation", "/", "set propagation");
  if (plan->rootfs && prepare_root_mount(plan) < 0)
    return -1;
  rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return fail_errno("rootfs", root, "open rootfs");
  for (size_t i = 0; i < plan->step_count && rc == 0; i++)
    rc = do_step(rootfd, &plan->steps[i]);
  if (rc == 0 && plan->pivot)
    rc = pivot_into(rootfd, root);
  close(rootfd);
  /*
   * The pivot needed private mounts, so shared and slave propagation is
   * applied to the new root afterwards, as runc does. Before the pivot it
   * would have reached the host's mounts through the old root.
   */
  if (rc == 0 && plan->pivot && !(plan->rootfs_propagation & MS_PRIVATE) &&
      mount(NULL, "/", NULL, plan->rootfs_propagation, NULL) < 0)
    rc = fail_errno("rootfs_propagation", "/", "set propagation of the new root");
  return rc;
}

static int make_path_readonly(const char *path)
{
  int fd, rc;

  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
    return errno == ENOENT ? 0 : fail_errno("readonly", path, "bind onto itself");
  fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return fail_errno("readonly", path, "open");
  rc = make_readonly(fd);
  if (rc < 0)
    fail_errno("readonly", path, "make read-only");
  close(fd);
  return rc;
}

static int mask_path(const char *path)
{
  struct stat st;
  int rc;

  if (stat(path, &st) < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0 : fail_errno("mask", path, "stat");
  if (S_ISDIR(st.st_mode))
    rc = mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL);
  else
    rc = mount("/dev/null", path, NULL, MS_BIND, NULL);
  return rc < 0 ? fail_errno("mask", path, S_ISDIR(st.st_mode) ? "mount tmpfs" : "bind /dev/null") : 0;
}

/* Carries out readonly, mask and root_readonly after the pivot, sysctls and hostname. */
int finish_rootfs(const struct plan *plan)
{
  for (size_t i = 0; i < plan->readonly_count; i++) {
    if (make_path_readonly(plan->readonly_paths[i]) < 0)
      return -1;
  }
  for (size_t i = 0; i < plan->mask_count; i++) {
    if (mask_path(plan->masks[i]) < 0)
      return -1;
  }
  if (plan->root_readonly && remount_bind("/", MS_RDONLY, true) < 0)
    return fail_errno("root_readonly", "/", "remount read-only");
  return 0;
}

int apply_sysctls(const struct plan *plan)
{
  for (size_t i = 0; i < plan->sysctl_count; i++) {
    char path[PATH_MAX];
    char *key;

    snprintf(path, sizeof path, "/proc/sys/%s", plan->sysctl_keys[i]);
    for (key = path + strlen("/proc/sys/"); *key; key++) {
      if (*key == '.')
        *key = '/';
    }
    if (write_file(path, plan->sysctl_values[i]) < 0)
      return fail_errno("sysctl", plan->sysctl_keys[i], "write /proc/sys");
  }
  return 0;
}
