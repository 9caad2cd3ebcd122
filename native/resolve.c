/*
 * Path resolution inside the container's root before the pivot: openat2
 * with RESOLVE_IN_ROOT, so no symlink or ".." in the rootfs can point a
 * mount outside it, with a userspace walk for kernels before 5.6.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define RESOLVE_NO_MAGICLINKS_FLAG 0x02
#define RESOLVE_IN_ROOT_FLAG 0x10

/* struct open_how of <linux/openat2.h>. */
struct open_how_args {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};

/*
 * Resolves path inside rootfd without openat2: symlinks with absolute
 * targets restart at rootfd and ".." stops at it. Only O_PATH opens.
 * NOTE: each step re-walks the resolved prefix from rootfd, so a rename
 * racing the walk can swap a component; openat2 has no such window.
 */
static int open_in_root_fallback(int rootfd, const char *path, int flags)
{
  char resolved[PATH_MAX] = ".";
  char pending[PATH_MAX];
  char *rest = pending;
  int links = 0;

  if (snprintf(pending, sizeof pending, "%s", path) >= (int)sizeof pending) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (;;) {
    char candidate[PATH_MAX], target[PATH_MAX], joined[PATH_MAX];
    char *component;
    struct stat st;
    ssize_t length;

    while (*rest == '/')
      rest++;
    if (*rest == '\0')
      break;
    component = rest;
    rest += strcspn(rest, "/");
    if (*rest)
      *rest++ = '\0';
    if (strcmp(component, ".") == 0)
      continue;
    if (strcmp(component, "..") == 0) {
      char *slash = strrchr(resolved, '/');

      if (slash)
        *slash = '\0';
      continue;
    }
    if (snprintf(candidate, sizeof candidate, "%s/%s", resolved, component) >= PATH_MAX) {
      errno = ENAMETOOLONG;
      return -1;
    }
    if (fstatat(rootfd, candidate, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return -1;
    if (!S_ISLNK(st.st_mode)) {
      memcpy(resolved, candidate, sizeof resolved);
      continue;
    }
    if (++links > 40) {
      errno = ELOOP;
      return -1;
    }
    length = readlinkat(rootfd, candidate, target, sizeof target - 1);
    if (length < 0)
      return -1;
    target[length] = '\0';
    if (snprintf(joined, sizeof joined, "%s/%s", target, rest) >= (int)sizeof joined) {
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(pending, joined, sizeof pending);
    rest = pending;
    if (target[0] == '/')
      strcpy(resolved, ".");
  }
  return openat(rootfd, resolved, flags | O_NOFOLLOW | O_CLOEXEC);
}

/* Opens path (O_PATH) as if rootfd were "/", so no symlink or ".." leaves the root. */
int open_in_root(int rootfd, const char *path, int flags)
{
  static bool unsupported;
  struct open_how_args how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT_FLAG | RESOLVE_NO_MAGICLINKS_FLAG,
  };

  if (!unsupported && !force_fallbacks) {
    long fd = -1;

    /* RESOLVE_IN_ROOT returns EAGAIN when a rename or mount raced the lookup. */
    for (int attempt = 0; attempt < 16; attempt++) {
      fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
      if (fd >= 0 || errno != EAGAIN)
        break;
    }
    if (fd >= 0 || errno != ENOSYS)
      return (int)fd;
    /* openat2 arrived in Linux 5.6. */
    unsupported = true;
  }
  return open_in_root_fallback(rootfd, path, flags);
}

/* Splits path into its parent and last component; rejects "", "." and ".." as the last one. */
static int split_path(const char *path, char *parent, char *base)
{
  char copy[PATH_MAX];
  size_t length;
  char *slash;

  if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) {
    errno = ENAMETOOLONG;
    return -1;
  }
  length = strlen(copy);
  while (length > 1 && copy[length - 1] == '/')
    copy[--length] = '\0';
  slash = strrchr(copy, '/');
  snprintf(base, NAME_MAX + 1, "%s", slash ? slash + 1 : copy);
  if (!slash)
    strcpy(parent, "/");
  else if (slash == copy)
    strcpy(parent, "/");
  else {
    *slash = '\0';
    strcpy(parent, copy);
  }
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

/* Opens directory path in root (O_PATH), creating it with mode and missing parents with 0755. */
int mkdir_in_root(int rootfd, const char *path, mode_t mode)
{
  char parent[PATH_MAX], base[NAME_MAX + 1];
  int fd = open_in_root(rootfd, path, O_PATH | O_DIRECTORY);
  int parent_fd;

  if (fd >= 0 || errno != ENOENT)
    return fd;
  if (split_path(path, parent, base) < 0)
    return -1;
  parent_fd = mkdir_in_root(rootfd, parent, 0755);
  if (parent_fd < 0)
    return -1;
  if (mkdirat(parent_fd, base, mode) < 0 && errno != EEXIST) {
    int saved = errno;

    close(parent_fd);
    errno = saved;
    return -1;
  }
  close(parent_fd);
  return open_in_root(rootfd, path, O_PATH | O_DIRECTORY);
}

/* Opens the parent directory of path in root, creating it, and stores the last component in base. */
int open_parent_in_root(int rootfd, const char *path, char *base)
{
  char parent[PATH_MAX];

  if (split_path(path, parent, base) < 0)
    return -1;
  return mkdir_in_root(rootfd, parent, 0755);
}

/* Creates an empty file at base in parent_fd unless something exists there. */
int create_empty_file(int parent_fd, const char *base)
{
  int fd = openat(parent_fd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);

  if (fd < 0)
    return errno == EEXIST ? 0 : -1;
  return close(fd);
}
