// httpid PORT BODY: a tiny HTTP server that answers every request on PORT
// (all IPv4 addresses) with BODY. Prints "listening on PORT" once bound, or
// "bind failed: <reason>" and exits 1, so a test can tell EADDRINUSE apart.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void answer(int client, const char *body) {
  char request[2048];
  // Read the request head; its content does not matter.
  ssize_t n = read(client, request, sizeof(request));
  (void)n;
  char head[256];
  int len = snprintf(head, sizeof(head),
                     "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     strlen(body));
  if (write(client, head, (size_t)len) < 0 || write(client, body, strlen(body)) < 0) {
    perror("write");
  }
  close(client);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: httpid PORT BODY\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int port = atoi(argv[1]);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
    printf("bind failed: %s\n", strerror(errno));
    fflush(stdout);
    return 1;
  }
  printf("listening on %d\n", port);
  fflush(stdout);
  for (;;) {
    int client = accept(fd, NULL, NULL);
    if (client >= 0) answer(client, argv[2]);
  }
}
