// rootprobe OWN_FILE FOREIGN_FILE SYSCTL_FILE VALUE HOSTNAME: tries four
// privileged writes. It appends a line to OWN_FILE and to FOREIGN_FILE,
// writes VALUE to SYSCTL_FILE (a /proc/sys path) and sets the hostname to
// HOSTNAME. It prints one JSON line with the errno of each write, 0 when it
// succeeded, and exits 0. The caller also checks the results on the host.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_text(const char *path, const char *text, int flags) {
  int fd = open(path, O_WRONLY | flags);
  if (fd < 0) return errno;
  int result = 0;
  if (write(fd, text, strlen(text)) < 0) result = errno;
  if (close(fd) < 0 && result == 0) result = errno;
  return result;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: rootprobe OWN_FILE FOREIGN_FILE SYSCTL_FILE VALUE HOSTNAME\n");
    return 2;
  }
  int own = write_text(argv[1], "rootprobe\n", O_APPEND);
  int foreign = write_text(argv[2], "rootprobe\n", O_APPEND);
  int sysctl = write_text(argv[3], argv[4], 0);
  int hostname = sethostname(argv[5], strlen(argv[5])) < 0 ? errno : 0;
  printf("{\"own_file\": %d, \"foreign_file\": %d, \"sysctl\": %d, \"hostname\": %d}\n",
         own, foreign, sysctl, hostname);
  return 0;
}
