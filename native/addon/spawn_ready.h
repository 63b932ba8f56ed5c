#ifndef BERTH_SPAWN_READY_H
#define BERTH_SPAWN_READY_H

#include <stddef.h>

/* What a daemonizing program said while it started: its sync pipe (fd 3) and its stderr. */
struct spawn_ready_result {
  int err;               /* errno of a failed posix_spawn or pipe set-up; 0 otherwise */
  char step[32];         /* the call that failed, with err */
  int timed_out;         /* the pipes stayed open past the timeout: the child was SIGKILLed */
  char sync[1024];
  size_t sync_length;
  char stderr_text[2048];
  size_t stderr_length;
};

/*
 * Starts `argv[0]` (an absolute path) with posix_spawn (vfork-like: no copy of the caller's
 * page tables, unlike fork) in `cwd` (NULL: the caller's), stdin and stdout on /dev/null,
 * stderr on a pipe and fd 3 on a second pipe, `extra_fd` (>= 10; -1: none) as fd 4 (the
 * sealed runtime copy for berth-monitor), every signal at its default and none blocked.
 * Then reads both pipes until they close (a program that detaches closes them once it is
 * ready) or `timeout_ms` passes, and reaps the direct child. Blocking: run it off the JS
 * thread. Returns 0, or -1 with `err`/`step` set.
 */
int spawn_ready(char *const argv[], const char *cwd, int timeout_ms, int extra_fd, struct spawn_ready_result *result);

#endif
