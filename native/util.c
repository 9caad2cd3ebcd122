/* Failure records, protocol field escaping, message I/O and fd helpers. */
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct failure failure;
int last_cap = 40;
bool force_fallbacks;
int host_proc_fd = -1;

int fail(const char *step, const char *value, int err, const char *detail)
{
  failure.step = step;
  /* Long values (a protocol line of up to 16 KiB) are cut to the field on purpose. */
  snprintf(failure.value, sizeof failure.value, "%.*s", (int)sizeof failure.value - 1, value ? value : "-");
  failure.err = err;
  snprintf(failure.detail, sizeof failure.detail, "%.*s", (int)sizeof failure.detail - 1, detail ? detail : "");
  return -1;
}

int fail_errno(const char *step, const char *value, const char *detail)
{
  return fail(step, value, errno, detail);
}

/* Formats the failure as an `error` message without the trailing newline. */
void format_failure(char *buf, size_t size)
{
  char value[sizeof failure.value * 2];

  escape_field(failure.value, value, sizeof value);
  snprintf(buf, size, "error\t%s\t%s\t%d\t%s", failure.step ? failure.step : "sync",
           value, failure.err, failure.detail);
}

/* Sends the failure as a line on a stream socket (fd 3). */
int report_failure(int fd)
{
  char line[LINE_MAX_BYTES];

  format_failure(line, sizeof line);
  return send_line(fd, line);
}

/* Sends the failure as one packet to the monitor or the exec helper. */
int report_failure_packet(int fd)
{
  char line[LINE_MAX_BYTES];

  format_failure(line, sizeof line);
  return sync_send(fd, line);
}

void escape_field(const char *in, char *out, size_t size)
{
  size_t used = 0;

  for (; *in && used + 3 < size; in++) {
    char escaped;

    if (*in == '\t')
      escaped = 't';
    else if (*in == '\n')
      escaped = 'n';
    else if (*in == '\\')
      escaped = '\\';
    else {
      out[used++] = *in;
      continue;
    }
    out[used++] = '\\';
    out[used++] = escaped;
  }
  out[used] = '\0';
}

/* Decodes `\\`, `\t` and `\n` in place; any other backslash stays as it is. */
void unescape_field(char *field)
{
  char *out = field;

  for (char *in = field; *in; in++) {
    if (in[0] != '\\' || (in[1] != '\\' && in[1] != 't' && in[1] != 'n')) {
      *out++ = *in;
      continue;
    }
    in++;
    if (*in == 't')
      *out++ = '\t';
    else if (*in == 'n')
      *out++ = '\n';
    else
      *out++ = '\\';
  }
  *out = '\0';
}

/* Splits a line on TABs in place and unescapes each field; returns the field count. */
int split_fields(char *line, char **fields, int max_fields)
{
  int count = 0;
  char *start = line;

  for (;;) {
    char *tab = strchr(start, '\t');

    if (count == max_fields)
      return max_fields + 1;
    fields[count++] = start;
    if (!tab)
      break;
    *tab = '\0';
    start = tab + 1;
  }
  for (int i = 0; i < count; i++)
    unescape_field(fields[i]);
  return count;
}

int write_all(int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, buf, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Writes one protocol line and its newline with a single write. */
int send_line(int fd, const char *line)
{
  char buf[LINE_MAX_BYTES + 2];
  int len = snprintf(buf, sizeof buf, "%s\n", line);

  if (len < 0 || (size_t)len >= sizeof buf) {
    errno = EMSGSIZE;
    return -1;
  }
  return write_all(fd, buf, (size_t)len);
}

/*
 * Reads one line without its newline, a byte at a time so nothing past the
 * newline is consumed. Returns 1 for a line, 0 at end of file before any
 * byte, or -1 with errno set.
 */
int read_line(int fd, char *buf, size_t size)
{
  size_t used = 0;

  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0) {
      if (used == 0)
        return 0;
      errno = EPIPE;
      return -1;
    }
    if (c == '\n')
      break;
    if (used + 1 >= size) {
      errno = EMSGSIZE;
      return -1;
    }
    buf[used++] = c;
  }
  buf[used] = '\0';
  return 1;
}

/* Sends one message as one SOCK_SEQPACKET packet to the other helper process. */
int sync_send(int fd, const char *message)
{
  ssize_t n;

  do {
    n = send(fd, message, strlen(message), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -1 : 0;
}

/* Receives one packet as a string; returns its length, 0 at end of file, -1 on error. */
ssize_t sync_recv(int fd, char *buf, size_t size)
{
  ssize_t n;

  do {
    n = recv(fd, buf, size - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n >= 0)
    buf[n] = '\0';
  return n;
}

/* Moves fd to the lowest free number >= min_fd (close-on-exec) unless it already is there. */
int move_fd_above(int fd, int min_fd)
{
  int moved;

  if (fd < 0 || fd >= min_fd)
    return fd;
  moved = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
  if (moved < 0)
    return -1;
  close(fd);
  return moved;
}

static int compare_ints(const void *a, const void *b)
{
  return *(const int *)a - *(const int *)b;
}

static int close_range_fallback(unsigned first, unsigned last)
{
  struct rlimit limit;
  unsigned end = last;

  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur - 1 < end)
    end = (unsigned)limit.rlim_cur - 1;
  for (unsigned fd = first; fd <= end && fd >= first; fd++)
    close((int)fd);
  return 0;
}

static int close_fd_range(unsigned first, unsigned last)
{
  static bool unsupported;

  if (first > last)
    return 0;
  if (!unsupported && !force_fallbacks) {
    /* close_range(2) arrived in Linux 5.9. */
    if (syscall(SYS_close_range, first, last, 0) == 0)
      return 0;
    if (errno != ENOSYS)
      return -1;
    unsupported = true;
  }
  return close_range_fallback(first, last);
}

/* Closes every fd >= first except those listed in keep (which it sorts). */
int close_fds_except(int first, const int *keep, size_t keep_count)
{
  int sorted[16];
  unsigned next = (unsigned)first;

  if (keep_count > sizeof sorted / sizeof sorted[0]) {
    errno = EINVAL;
    return -1;
  }
  memcpy(sorted, keep, keep_count * sizeof *keep);
  qsort(sorted, keep_count, sizeof *sorted, compare_ints);
  for (size_t i = 0; i < keep_count; i++) {
    if (sorted[i] < (int)next)
      continue;
    if (close_fd_range(next, (unsigned)sorted[i] - 1) < 0)
      return -1;
    next = (unsigned)sorted[i] + 1;
  }
  return close_fd_range(next, ~0U);
}

/*
 * Restores default dispositions and an empty signal mask. Ignored signals
 * and the mask survive execve, so the helper's SIG_IGN for SIGPIPE would
 * otherwise leak into the container's process.
 */
void reset_signals(void)
{
  struct sigaction action = { .sa_handler = SIG_DFL };
  sigset_t none;

  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction(sig, &action, NULL);
  }
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

int write_file(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
  int rc;

  if (fd < 0)
    return -1;
  rc = write_all(fd, text, strlen(text));
  if (rc < 0) {
    int saved = errno;

    close(fd);
    errno = saved;
    return -1;
  }
  return close(fd);
}

/* Reads /proc/sys/kernel/cap_last_cap (Linux 3.2+); probes PR_CAPBSET_READ without it. */
int read_last_cap(void)
{
  char buf[16] = "";
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);

  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);

    close(fd);
    if (n > 0)
      return atoi(buf);
  }
  for (int cap = 0; cap < 64; cap++) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
      return cap - 1;
  }
  return 63;
}

/*
 * Waits for `go` on fd 3 and passes it to the child; a closed sync socket
 * means the child died. With accept_abort (exec), `abort ERRNO` ends the
 * wait with that errno instead.
 */
int relay_go(int sync_fd, const char *child, int accept_abort)
{
  struct pollfd fds[2] = { { .fd = CONTROL_FD, .events = POLLIN }, { .fd = sync_fd, .events = POLLIN } };
  char line[LINE_MAX_BYTES];
  char detail[64];
  int rc;

  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return fail_errno("sync", "-", "poll");
    }
    if (fds[1].revents) {
      snprintf(detail, sizeof detail, "%s exited before go", child);
      return fail("sync", "-", EPIPE, detail);
    }
    if (fds[0].revents)
      break;
  }
  rc = read_line(CONTROL_FD, line, sizeof line);
  if (rc == 0)
    return fail("sync", "-", EPIPE, "control socket closed before go");
  if (rc < 0)
    return fail_errno("sync", "-", "read control socket");
  if (accept_abort && strncmp(line, "abort\t", 6) == 0)
    return fail("cgroup", "-", atoi(line + 6), "aborted");
  if (strcmp(line, "go") != 0)
    return fail("sync", line, EPROTO, accept_abort ? "expected go or abort" : "expected go");
  if (sync_send(sync_fd, "go") < 0) {
    snprintf(detail, sizeof detail, "pass go to %s", child);
    return fail_errno("sync", "-", detail);
  }
  return 0;
}
