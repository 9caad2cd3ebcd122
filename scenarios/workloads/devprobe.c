// devprobe NODE MAJOR MINOR BOUND: tries to read a block device two ways.
// It makes NODE as block device MAJOR:MINOR with mknod and reads 512 bytes
// from it, then reads 512 bytes from BOUND, a node of the same device that
// the caller bind-mounted. It prints one JSON line with the errno of mknod
// and of each read (open included), 0 when it succeeded, and exits 0.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int read_block(const char *path) {
  char buffer[512];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int result = read(fd, buffer, sizeof buffer) < 0 ? errno : 0;
  close(fd);
  return result;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: devprobe NODE MAJOR MINOR BOUND\n");
    return 2;
  }
  dev_t device = makedev((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
  int mknod_errno = mknod(argv[1], S_IFBLK | 0600, device) < 0 ? errno : 0;
  int read_made = mknod_errno == 0 ? read_block(argv[1]) : mknod_errno;
  int read_bound = read_block(argv[4]);
  printf("{\"mknod\": %d, \"read_made\": %d, \"read_bound\": %d}\n", mknod_errno, read_made, read_bound);
  return 0;
}
