// deltree DIR: removes DIR (a path without a trailing slash) and everything
// below it at any depth. It walks with chdir and names relative to the
// current directory, so no path ever grows past PATH_MAX, as `rm -r` paths
// do in a tree made by `mkdir x; cd x`. The names of the directories it
// entered are kept on a stack, so that it can remove each one on the way
// back up.
// Prints {"removed":N,"maxDepth":D,"errno":"","ms":T}; exit 1 on a failure.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long removed, max_depth;
static char **stack;
static long depth, capacity;

static int push(const char *name) {
  if (depth == capacity) {
    long grown = capacity ? capacity * 2 : 1024;
    char **bigger = realloc(stack, (size_t)grown * sizeof(*stack));
    if (!bigger) return -1;
    stack = bigger;
    capacity = grown;
  }
  stack[depth] = strdup(name);
  if (!stack[depth]) return -1;
  depth++;
  if (depth > max_depth) max_depth = depth;
  return 0;
}

// Removes the files of the current directory and enters its first
// subdirectory: returns 1 after entering one, 0 when the directory is
// empty, and -1 with errno set on a failure.
static int clear_or_descend(void) {
  DIR *d = opendir(".");
  if (!d) return -1;
  struct dirent *e;
  int result = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    int is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      // Some filesystems do not fill d_type, so a failed unlink with EISDIR marks a directory.
      if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
        removed++;
        continue;
      }
      is_dir = errno == EISDIR;
    }
    if (!is_dir) {
      if (unlinkat(dirfd(d), e->d_name, 0) != 0) result = -1;
      else removed++;
      if (result < 0) break;
      continue;
    }
    result = push(e->d_name) == 0 && chdir(e->d_name) == 0 ? 1 : -1;
    break;
  }
  int saved = errno;
  closedir(d);
  errno = saved;
  return result;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: deltree DIR\n");
    return 2;
  }
  double start = now_ms();
  int err = 0;
  if (chdir(argv[1]) != 0) err = errno;
  while (!err) {
    int r = clear_or_descend();
    if (r < 0) {
      err = errno;
    } else if (r == 0) {
      if (depth == 0) break;
      depth--;
      if (chdir("..") != 0 || rmdir(stack[depth]) != 0) err = errno;
      else removed++;
      free(stack[depth]);
    }
  }
  // Back in the parent of DIR, which is then removed by its last path component.
  const char *slash = strrchr(argv[1], '/');
  const char *base = slash && slash[1] ? slash + 1 : argv[1];
  if (!err && (chdir("..") != 0 || rmdir(base) != 0)) err = errno;
  if (!err) removed++;
  printf("{\"removed\":%ld,\"maxDepth\":%ld,\"errno\":\"%s\",\"ms\":%.0f}\n",
         removed, max_depth, err ? strerrorname_np(err) : "", now_ms() - start);
  return err ? 1 : 0;
}
