/*
 * spawn_ready: posix_spawn of a program that detaches (berth-monitor), waiting for its word
 * on a sync pipe. Node's child_process.spawn forks the whole daemon (page tables of a
 * ~70 MB heap) and blocks the JS thread until the child has exec'd: 15-40 ms per container
 * start here under load. posix_spawn uses CLONE_VM|CLONE_VFORK, and this runs on a pool
 * thread, so the JS thread goes on meanwhile.
 */
#define _GNU_SOURCE
#include "spawn_ready.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Write ends are moved to fd >= 10, so dup2 onto 2 and 3 always makes a new (inheritable) fd. */
#define HIGH_FD 10

static int fail(struct spawn_ready_result *r, int err, const char *step) {
  r->err = err;
  snprintf(r->step, sizeof r->step, "%s", step);
  return -1;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends what `fd` has to `buffer` (the excess is read and dropped); 1 at EOF or error. */
static int drain(int fd, char *buffer, size_t capacity, size_t *length) {
  char chunk[1024];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) return 1;
  size_t room = capacity - 1 - *length;
  size_t take = (size_t)n < room ? (size_t)n : room;
  memcpy(buffer + *length, chunk, take);
  *length += take;
  buffer[*length] = '\0';
  return 0;
}

static void close_pair(int pair[2]) {
  if (pair[0] >= 0) close(pair[0]);
  if (pair[1] >= 0) close(pair[1]);
}

/* pipe2 with the write end moved to fd >= HIGH_FD; both ends close-on-exec. */
static int make_pipe(int pair[2]) {
  if (pipe2(pair, O_CLOEXEC) != 0) return -1;
  int high = fcntl(pair[1], F_DUPFD_CLOEXEC, HIGH_FD);
  if (high < 0) {
    int saved = errno;
    close_pair(pair);
    errno = saved;
    return -1;
  }
  close(pair[1]);
  pair[1] = high;
  return 0;
}

int spawn_ready(char *const argv[], const char *cwd, int timeout_ms, int extra_fd, struct spawn_ready_result *r) {
  memset(r, 0, sizeof *r);
  int sync_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (make_pipe(sync_pipe) != 0) return fail(r, errno, "pipe2");
  if (make_pipe(err_pipe) != 0) {
    int saved = errno;
    close_pair(sync_pipe);
    return fail(r, saved, "pipe2");
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_adddup2(&actions, sync_pipe[1], 3);
  if (extra_fd >= 0) posix_spawn_file_actions_adddup2(&actions, extra_fd, 4);
  if (cwd != NULL) posix_spawn_file_actions_addchdir_np(&actions, cwd);
  /* As libuv does for child_process: Node ignores SIGPIPE and may block signals in this thread. */
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(sync_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(sync_pipe[0]);
    close(err_pipe[0]);
    return fail(r, rc, "posix_spawn");
  }

  struct pollfd fds[2] = {{.fd = sync_pipe[0], .events = POLLIN}, {.fd = err_pipe[0], .events = POLLIN}};
  long long deadline = now_ms() + timeout_ms;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    long long left = deadline - now_ms();
    if (left <= 0) {
      r->timed_out = 1;
      break;
    }
    int n = poll(fds, 2, (int)left);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (fds[0].fd >= 0 && fds[0].revents != 0 && drain(fds[0].fd, r->sync, sizeof r->sync, &r->sync_length)) {
      close(fds[0].fd);
      fds[0].fd = -1;
    }
    if (fds[1].fd >= 0 && fds[1].revents != 0 && drain(fds[1].fd, r->stderr_text, sizeof r->stderr_text, &r->stderr_length)) {
      close(fds[1].fd);
      fds[1].fd = -1;
    }
  }
  if (fds[0].fd >= 0) close(fds[0].fd);
  if (fds[1].fd >= 0) close(fds[1].fd);
  /* The direct child exits as soon as it has detached; one that hangs is killed (as before). */
  if (r->timed_out) kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  return 0;
}
