#ifndef BERTH_SEALED_COPY_H
#define BERTH_SEALED_COPY_H

#include <sys/stat.h>

/* The lowest fd a sealed copy gets: spawn_ready dup2s onto 0-4, so a copy never sits there. */
#define SEALED_COPY_MIN_FD 10

/*
 * A sealed in-memory copy of an executable (berthd's runc), made once and exec'd for every
 * container start: runc 1.1's `runc init` re-execs itself from a read-only bind mount of
 * /proc/self/exe, or from a memfd copy of it, unless /proc/self/exe already is a memfd with
 * exactly F_SEAL_SEAL|SHRINK|GROW|WRITE (CVE-2019-5736: a container must not be able to
 * write to the runtime's binary). Such a copy can never be written or resized by anyone.
 */
struct sealed_copy {
  int fd;           /* the memfd (close-on-exec, >= SEALED_COPY_MIN_FD), or -1 */
  struct stat st;   /* the source as it was copied */
  int err;          /* errno of the failed step, 0 on success */
  char step[64];    /* the failed step (a syscall, or a check such as "owner") */
};

/*
 * Copies the regular file at `path` into a new sealed memfd, after checking that it is an
 * ELF executable (a script cannot be exec'd from a close-on-exec fd) owned by root and not
 * writable by group or others. The source must not change while it is copied. Blocking (a
 * few ms for 9 MB): run it off the JS thread. Returns 0, or -1 with `err`/`step` set.
 */
int sealed_copy_make(const char *path, struct sealed_copy *out);

#endif
