/* sealed_copy: a sealed memfd copy of an executable; see sealed_copy.h. */
#define _GNU_SOURCE
#include "sealed_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
/* runc's is_self_cloned() wants exactly these, no more (F_SEAL_FUTURE_WRITE, F_SEAL_EXEC). */
#define RUNTIME_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static int fail(struct sealed_copy *out, int err, const char *step) {
  out->err = err;
  snprintf(out->step, sizeof out->step, "%s", step);
  return -1;
}

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Checks the source: a root-owned regular file nobody else may write, starting with ELF's magic. */
static int check_source(int fd, struct sealed_copy *out) {
  if (fstat(fd, &out->st) != 0) return fail(out, errno, "fstat");
  if (!S_ISREG(out->st.st_mode)) return fail(out, EINVAL, "not a regular file");
  if (out->st.st_uid != 0) return fail(out, EPERM, "not owned by root");
  if ((out->st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return fail(out, EPERM, "writable by group or others");
  unsigned char magic[4];
  if (pread(fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic) return fail(out, ENOEXEC, "read ELF header");
  if (memcmp(magic, "\x7f" "ELF", 4) != 0) return fail(out, ENOEXEC, "not an ELF executable");
  return 0;
}

/* Named after the file ("memfd:runc"): the name is the comm of the processes exec'd from it. */
static int make_memfd(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *name = slash != NULL ? slash + 1 : path;
  /* MFD_EXEC: executable even where vm.memfd_noexec makes memfds non-executable by default (6.3+). */
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  return fd;
}

static int copy_and_seal(int src, int mem, const struct stat *st, struct sealed_copy *out) {
  off_t offset = 0;
  while (offset < st->st_size) {
    ssize_t n = sendfile(mem, src, &offset, (size_t)(st->st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(out, errno, "sendfile");
    if (n == 0) return fail(out, EAGAIN, "copy (the file shrank while copied)");
  }
  struct stat after;
  if (fstat(src, &after) != 0) return fail(out, errno, "fstat");
  if (!same_file(st, &after)) return fail(out, EAGAIN, "copy (the file changed while copied)");
  if (fcntl(mem, F_ADD_SEALS, RUNTIME_SEALS) != 0) return fail(out, errno, "F_ADD_SEALS");
  int seals = fcntl(mem, F_GET_SEALS);
  if (seals < 0) return fail(out, errno, "F_GET_SEALS");
  if (seals != RUNTIME_SEALS) return fail(out, ENOTSUP, "seals (more than asked for)");
  return 0;
}

int sealed_copy_make(const char *path, struct sealed_copy *out) {
  memset(out, 0, sizeof *out);
  out->fd = -1;
  int src = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (src < 0) return fail(out, errno, "open");
  int mem = -1, rc = -1;
  if (check_source(src, out) != 0) goto done;
  if ((mem = make_memfd(path)) < 0) {
    fail(out, errno, "memfd_create");
    goto done;
  }
  if (copy_and_seal(src, mem, &out->st, out) != 0) goto done;
  out->fd = fcntl(mem, F_DUPFD_CLOEXEC, SEALED_COPY_MIN_FD);
  if (out->fd < 0) {
    fail(out, errno, "F_DUPFD_CLOEXEC");
    goto done;
  }
  rc = 0;
done:
  if (mem >= 0) close(mem);
  close(src);
  return rc;
}
