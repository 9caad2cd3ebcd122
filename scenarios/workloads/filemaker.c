// filemaker DIR N MIB: creates N empty files in the new directory DIR,
// then allocates MIB mebibytes and touches every page, then removes what
// it made. Prints one JSON line; the times cover creating and allocating:
//   {"files":N,"filesErrno":"","mib":M,"allocFailed":false,"filesMs":A,"allocMs":B,"ms":T}
// An OOM kill ends it without output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: filemaker DIR N MIB\n");
    return 2;
  }
  const char *dir = argv[1];
  long n = strtol(argv[2], NULL, 10);
  long mib = strtol(argv[3], NULL, 10);
  double start = now_ms();
  int err = 0;
  long files = 0;
  if (mkdir(dir, 0755) != 0 || chdir(dir) != 0) {
    err = errno;
  }
  char name[32];
  for (; !err && files < n; files++) {
    snprintf(name, sizeof(name), "f%ld", files);
    int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) {
      err = errno;
      break;
    }
    close(fd);
  }
  double files_done = now_ms();

  long page = sysconf(_SC_PAGESIZE);
  size_t bytes = (size_t)mib << 20;
  int alloc_failed = 0;
  char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    alloc_failed = 1;
  } else {
    for (size_t off = 0; off < bytes; off += (size_t)page) mem[off] = 1;
  }
  double end = now_ms();
  printf("{\"files\":%ld,\"filesErrno\":\"%s\",\"mib\":%ld,\"allocFailed\":%s,"
         "\"filesMs\":%.3f,\"allocMs\":%.3f,\"ms\":%.3f}\n",
         files, err ? strerrorname_np(err) : "", alloc_failed ? 0 : mib,
         alloc_failed ? "true" : "false", files_done - start, end - files_done, end - start);
  fflush(stdout);

  for (long i = 0; i < files; i++) {
    snprintf(name, sizeof(name), "f%ld", i);
    unlink(name);
  }
  if (chdir("..") == 0) rmdir(dir);
  return err || alloc_failed ? 1 : 0;
}
