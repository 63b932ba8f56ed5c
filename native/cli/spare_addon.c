/*
 * berth_cli_spare: what a warm CLI spare (src/cli/spare/spare.ts) needs that Node lacks:
 * a blocking accept of one request with the client's fds (SCM_RIGHTS), and dup2.
 * Protocol: protocol.h.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "protocol.h"

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static napi_value fail(napi_env env, const char *what, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static int read_full(int fd, void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, (char *)buf + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

static void set_int(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

/* Strings at *p (NUL-terminated), count of them, into a JS array; NULL when the body is short. */
static napi_value strings(napi_env env, const char **p, const char *end, uint32_t count) {
  napi_value arr;
  napi_create_array_with_length(env, count, &arr);
  for (uint32_t i = 0; i < count; i++) {
    const char *nul = memchr(*p, '\0', (size_t)(end - *p));
    if (!nul) return NULL;
    napi_value s;
    napi_create_string_utf8(env, *p, (size_t)(nul - *p), &s);
    napi_set_element(env, arr, i, s);
    *p = nul + 1;
  }
  return arr;
}

/*
 * acceptRequest(listenFd, uid, idleMs): blocks until a client of user `uid` connects and
 * sends a well-formed request; returns { conn, pid, stdin, stdout, stderr, cwd, umask, argv,
 * env }, or null when nobody came for idleMs.
 * Clients of another user and malformed requests are closed and skipped.
 */
static napi_value js_accept_request(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  int32_t listen_fd, uid, idle_ms;
  if (argc < 3 || napi_get_value_int32(env, args[0], &listen_fd) != napi_ok || napi_get_value_int32(env, args[1], &uid) != napi_ok || napi_get_value_int32(env, args[2], &idle_ms) != napi_ok) {
    napi_throw_type_error(env, NULL, "acceptRequest(listenFd, uid, idleMs)");
    return NULL;
  }
  /* Non-blocking accepts: another spare on the same socket may take the connection poll saw. */
  int listen_flags = fcntl(listen_fd, F_GETFL);
  if (listen_flags < 0 || (!(listen_flags & O_NONBLOCK) && fcntl(listen_fd, F_SETFL, listen_flags | O_NONBLOCK) != 0)) return fail(env, "fcntl", errno);
  /* Only a successor gets the socket (spawn maps it to its fd 3), never what the command starts. */
  if (fcntl(listen_fd, F_SETFD, FD_CLOEXEC) != 0) return fail(env, "fcntl", errno);
  /* One deadline for the whole wait: a signal (EINTR), a connection another spare took or a
     client skipped must not start idleMs again, or a spare that gets signals often (a
     profiler's SIGPROF) never returns to see that its socket file is gone. */
  const int64_t deadline = monotonic_ms() + idle_ms;
  for (;;) {
    int64_t left = deadline - monotonic_ms();
    struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
    int ready = poll(&pfd, 1, left > 0 ? (int)left : 0);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail(env, "poll", errno);
    if (ready == 0) {
      napi_value null_value;
      napi_get_null(env, &null_value);
      return null_value;
    }
    int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      return fail(env, "accept", errno);
    }
    int flags = fcntl(conn, F_GETFL);
    fcntl(conn, F_SETFL, flags & ~O_NONBLOCK);
    struct ucred cred;
    socklen_t cred_len = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 || (int32_t)cred.uid != uid) {
      close(conn);
      continue;
    }
    /* a client that connects and says nothing must not hold the spare */
    struct timeval limit = {.tv_sec = 5};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    uint32_t head[2];
    int fds[3] = {-1, -1, -1};
    char control[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {.iov_base = head, .iov_len = sizeof head};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n;
    do n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL); while (n < 0 && errno == EINTR);
    int got = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
        size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int f;
          memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof f);
          if (got < 3) fds[got++] = f;
          else close(f);
        }
      }
    }
    /* the kernel ends a read after the segment that carried fds: read the rest of the header */
    if (n > 0 && n < (ssize_t)sizeof head && read_full(conn, (char *)head + n, sizeof head - (size_t)n) == 0) n = sizeof head;
    char *body = NULL;
    if (n == (ssize_t)sizeof head && got == 3 && head[0] == BERTH_SPARE_MAGIC && head[1] >= 12 && head[1] <= BERTH_SPARE_MAX_BODY && (body = malloc(head[1])) && read_full(conn, body, head[1]) == 0) {
      uint32_t counts[3];
      memcpy(counts, body, sizeof counts);
      const char *p = body + 12, *end = body + head[1];
      napi_value result, cwd, argv_arr, env_arr;
      napi_create_object(env, &result);
      if ((cwd = strings(env, &p, end, 1)) && (argv_arr = strings(env, &p, end, counts[0])) && (env_arr = strings(env, &p, end, counts[1]))) {
        napi_value cwd_str;
        napi_get_element(env, cwd, 0, &cwd_str);
        napi_set_named_property(env, result, "cwd", cwd_str);
        napi_set_named_property(env, result, "argv", argv_arr);
        napi_set_named_property(env, result, "env", env_arr);
        set_int(env, result, "umask", counts[2]);
        set_int(env, result, "conn", conn);
        set_int(env, result, "stdin", fds[0]);
        set_int(env, result, "stdout", fds[1]);
        set_int(env, result, "stderr", fds[2]);
        set_int(env, result, "pid", cred.pid);
        struct timeval none = {0};
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        free(body);
        return result;
      }
    }
    free(body);
    for (int i = 0; i < got; i++) close(fds[i]);
    close(conn);
  }
}

/* dup2(from, to): to becomes from (without O_CLOEXEC, as stdio must be). */
static napi_value js_dup2(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  int32_t from, to;
  if (argc < 2 || napi_get_value_int32(env, args[0], &from) != napi_ok || napi_get_value_int32(env, args[1], &to) != napi_ok) {
    napi_throw_type_error(env, NULL, "dup2(from, to)");
    return NULL;
  }
  int r;
  do r = dup2(from, to); while (r < 0 && errno == EINTR);
  if (r < 0) return fail(env, "dup2", errno);
  return NULL;
}

/*
 * listenUnix(path): a listening SOCK_STREAM socket at `path` (a stale socket file there is
 * replaced), mode 0600; returns its fd (close-on-exec: successors get it as their fd 3).
 */
static napi_value js_listen_unix(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, args[0], addr.sun_path, sizeof addr.sun_path, &len) != napi_ok || len == 0 || len >= sizeof addr.sun_path - 1) {
    napi_throw_type_error(env, NULL, "listenUnix(path): a socket path");
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(env, "socket", errno);
  unlink(addr.sun_path);
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  int err = errno;
  umask(old);
  if (r != 0 || listen(fd, 64) != 0) {
    if (r == 0) err = errno;
    close(fd);
    return fail(env, "bind/listen", err);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "listenUnix", NAPI_AUTO_LENGTH, js_listen_unix, NULL, &fn);
  napi_set_named_property(env, exports, "listenUnix", fn);
  napi_create_function(env, "acceptRequest", NAPI_AUTO_LENGTH, js_accept_request, NULL, &fn);
  napi_set_named_property(env, exports, "acceptRequest", fn);
  napi_create_function(env, "dup2", NAPI_AUTO_LENGTH, js_dup2, NULL, &fn);
  napi_set_named_property(env, exports, "dup2", fn);
  return exports;
}
