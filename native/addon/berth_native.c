/*
 * berth_native: the few syscalls Node lacks (mount, umount2, mknod, xattrs, openat2, two
 * rtnetlink requests for container networking, posix_spawn, and a sealed memfd copy of runc).
 * Plain C over N-API. Every function is synchronous and throws an Error shaped like
 * Node's fs errors: message "ENOENT: no such file or directory, mount '/x'", with
 * code, errno (negative, as in Node), syscall and path set.
 * The TypeScript interface is src/native/types.ts.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include "sandbox.h"
#include "spawn_ready.h"
#include "remove_tree.h"
#include "sealed_copy.h"
#include "blob_hash.h"
#include "send_file.h"
#include "napi_errors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <linux/openat2.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define MAX_SYMLINK_HOPS 40

/* ---------- errors ---------- */

static void throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
}

/* ---------- argument helpers ---------- */

/* Reads argument `index` as a string into a malloc'd buffer; NULL (with a pending exception) on failure. */
static char *arg_string(napi_env env, napi_value value, const char *what) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "The \"%s\" argument must be of type string", what);
    throw_type(env, message);
    return NULL;
  }
  char *buffer = malloc(length + 1);
  if (buffer == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, buffer, length + 1, &length);
  if (strlen(buffer) != length) {
    free(buffer);
    char message[128];
    snprintf(message, sizeof message, "The \"%s\" argument must not contain null bytes", what);
    throw_type(env, message);
    return NULL;
  }
  return buffer;
}

static int arg_int64(napi_env env, napi_value value, const char *what, int64_t *out) {
  if (napi_get_value_int64(env, value, out) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "The \"%s\" argument must be of type number", what);
    throw_type(env, message);
    return -1;
  }
  return 0;
}

static napi_value undefined_value(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

/* ---------- mount, umount, mknod ---------- */

static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv) != 0) return NULL;
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  int64_t flags = 0;
  if ((source = arg_string(env, argv[0], "source")) == NULL) goto out;
  if ((target = arg_string(env, argv[1], "target")) == NULL) goto out;
  if ((fstype = arg_string(env, argv[2], "fstype")) == NULL) goto out;
  if (arg_int64(env, argv[3], "flags", &flags) != 0) goto out;
  if ((data = arg_string(env, argv[4], "data")) == NULL) goto out;
  /* Empty strings mean "none": bind mounts and remounts take no fstype or data. */
  if (mount(source[0] ? source : NULL, target, fstype[0] ? fstype : NULL, (unsigned long)flags,
            data[0] ? data : NULL) != 0) {
    throw_errno(env, errno, "mount", target);
  }
out:
  free(source);
  free(target);
  free(fstype);
  free(data);
  return undefined_value(env);
}

static napi_value js_umount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int64_t flags = 0;
  char *target = arg_string(env, argv[0], "target");
  if (target == NULL) return NULL;
  if (arg_int64(env, argv[1], "flags", &flags) == 0 && umount2(target, (int)flags) != 0) {
    throw_errno(env, errno, "umount", target);
  }
  free(target);
  return undefined_value(env);
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv) != 0) return NULL;
  int64_t mode = 0, major_number = 0, minor_number = 0;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  if (arg_int64(env, argv[1], "mode", &mode) == 0 && arg_int64(env, argv[2], "major", &major_number) == 0 &&
      arg_int64(env, argv[3], "minor", &minor_number) == 0) {
    dev_t dev = makedev((unsigned int)major_number, (unsigned int)minor_number);
    if (mknod(path, (mode_t)mode, dev) != 0) throw_errno(env, errno, "mknod", path);
  }
  free(path);
  return undefined_value(env);
}

/* ---------- xattrs ---------- */

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  char *path = NULL, *name = NULL;
  void *data = NULL;
  size_t length = 0;
  if ((path = arg_string(env, argv[0], "path")) == NULL) goto out;
  if ((name = arg_string(env, argv[1], "name")) == NULL) goto out;
  if (napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok) {
    throw_type(env, "The \"value\" argument must be a Buffer");
    goto out;
  }
  if (lsetxattr(path, name, data, length, 0) != 0) throw_errno(env, errno, "lsetxattr", path);
out:
  free(path);
  free(name);
  return undefined_value(env);
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  napi_value result = NULL;
  char *path = NULL, *name = NULL, *buffer = NULL;
  if ((path = arg_string(env, argv[0], "path")) == NULL) goto out;
  if ((name = arg_string(env, argv[1], "name")) == NULL) goto out;
  /* The value may grow between the size query and the read: retry on ERANGE. */
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) break;
    free(buffer);
    buffer = malloc(size > 0 ? (size_t)size : 1);
    if (buffer == NULL) {
      errno = ENOMEM;
      break;
    }
    ssize_t got = lgetxattr(path, name, buffer, (size_t)size);
    if (got >= 0) {
      void *copy = NULL;
      napi_create_buffer_copy(env, (size_t)got, buffer, &copy, &result);
      goto out;
    }
    if (errno != ERANGE) break;
  }
  if (errno == ENODATA) {
    result = undefined_value(env);
  } else {
    throw_errno(env, errno, "lgetxattr", path);
  }
out:
  free(path);
  free(name);
  free(buffer);
  return result;
}

static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  napi_value result = NULL;
  char *buffer = NULL;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  ssize_t got = -1;
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) break;
    free(buffer);
    buffer = malloc(size > 0 ? (size_t)size : 1);
    if (buffer == NULL) {
      errno = ENOMEM;
      break;
    }
    got = llistxattr(path, buffer, (size_t)size);
    if (got >= 0 || errno != ERANGE) break;
  }
  if (got < 0) {
    throw_errno(env, errno, "llistxattr", path);
    goto out;
  }
  napi_create_array(env, &result);
  uint32_t index = 0;
  for (ssize_t offset = 0; offset < got;) {
    size_t length = strnlen(buffer + offset, (size_t)(got - offset));
    if (length > 0) {
      napi_value name;
      napi_create_string_utf8(env, buffer + offset, length, &name);
      napi_set_element(env, result, index++, name);
    }
    offset += (ssize_t)length + 1;
  }
out:
  free(path);
  free(buffer);
  return result;
}

/* ---------- resolveInRoot ---------- */

/*
 * Semantics (both implementations): `path` is looked up as if `root` were `/`, so `..`
 * and symlinks (absolute or relative) never leave root. Components that do not exist are
 * joined by name (a dangling symlink is followed to its in-root target); a `.` or `..`
 * after a missing component is refused with ENOENT because its meaning is unknowable.
 * The result is a host path: root's canonical path followed by plain names.
 */

struct resolver {
  int root_fd;
  char root_real[PATH_MAX]; /* canonical host path of root, "" when root is "/" */
  int hops;
  int force_userspace;
};

static int append_name(char *out, size_t size, const char *name) {
  size_t used = strlen(out);
  int written = snprintf(out + used, size - used, "/%s", name);
  if (written < 0 || (size_t)written >= size - used) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

static int fd_host_path(int fd, char *out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t length = readlink(link, out, size - 1);
  if (length < 0) return -1;
  if ((size_t)length >= size - 1) {
    errno = ENAMETOOLONG;
    return -1;
  }
  out[length] = '\0';
  return 0;
}

/* The in-root form ("/a/b") of a host path produced by this resolver. */
static const char *inner_of(const struct resolver *r, const char *host) {
  size_t prefix = strlen(r->root_real);
  return host[prefix] == '\0' ? "/" : host + prefix;
}

static int openat2_in_root(const struct resolver *r, const char *path, int flags) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)(flags | O_PATH | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char *relative = path;
  while (*relative == '/') relative++;
  return (int)syscall(SYS_openat2, r->root_fd, relative[0] ? relative : ".", &how, sizeof how);
}

static int resolve_userspace(struct resolver *r, const char *path, char *out, size_t size);

/* Splits off the last component of `path` (trailing slashes ignored). */
static void split_last(const char *path, char *parent, size_t parent_size, char *name, size_t name_size) {
  size_t end = strlen(path);
  while (end > 0 && path[end - 1] == '/') end--;
  size_t start = end;
  while (start > 0 && path[start - 1] != '/') start--;
  snprintf(name, name_size, "%.*s", (int)(end - start), path + start);
  snprintf(parent, parent_size, "%.*s", (int)start, path);
}

/* What a missing or dangling final `name` inside resolved directory `parent_host` means. */
static int resolve_missing_child(struct resolver *r, const char *parent_host, const char *name, char *out,
                                 size_t size, int (*resolve)(struct resolver *, const char *, char *, size_t)) {
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    errno = ENOENT;
    return -1;
  }
  char candidate[PATH_MAX];
  snprintf(candidate, sizeof candidate, "%s", parent_host);
  if (append_name(candidate, sizeof candidate, name) != 0) return -1;
  /* lstat by host path is only informative: a dangling symlink's target is then resolved in root again. */
  struct stat st;
  if (lstat(candidate, &st) == 0 && S_ISLNK(st.st_mode)) {
    if (++r->hops > MAX_SYMLINK_HOPS) {
      errno = ELOOP;
      return -1;
    }
    char target[PATH_MAX];
    ssize_t length = readlink(candidate, target, sizeof target - 1);
    if (length < 0) return -1;
    target[length] = '\0';
    char next[PATH_MAX * 2];
    if (target[0] == '/') {
      snprintf(next, sizeof next, "%s", target);
    } else {
      snprintf(next, sizeof next, "%s/%s", inner_of(r, parent_host), target);
    }
    if (strlen(next) >= PATH_MAX) {
      errno = ENAMETOOLONG;
      return -1;
    }
    return resolve(r, next, out, size);
  }
  snprintf(out, size, "%s", candidate);
  return 0;
}

static int resolve_openat2(struct resolver *r, const char *path, char *out, size_t size) {
  int fd = openat2_in_root(r, path, 0);
  if (fd >= 0) {
    int rc = fd_host_path(fd, out, size);
    close(fd);
    return rc;
  }
  if (errno == ENOSYS || r->force_userspace) return resolve_userspace(r, path, out, size);
  if (errno != ENOENT) return -1;
  char parent[PATH_MAX], name[NAME_MAX + 1], parent_host[PATH_MAX];
  split_last(path, parent, sizeof parent, name, sizeof name);
  if (name[0] == '\0') {
    errno = ENOENT;
    return -1;
  }
  if (resolve_openat2(r, parent, parent_host, sizeof parent_host) != 0) return -1;
  return resolve_missing_child(r, parent_host, name, out, size, resolve_openat2);
}

/*
 * Fallback for kernels without openat2 (< 5.6): walk the components one at a time with
 * lstat, expanding symlinks in place and clamping `..` at root.
 */
static int resolve_userspace(struct resolver *r, const char *path, char *out, size_t size) {
  /* `pending` holds what is left to walk; symlink targets are spliced in front of it. */
  char *pending = malloc(PATH_MAX * 2);
  if (pending == NULL) {
    errno = ENOMEM;
    return -1;
  }
  snprintf(pending, PATH_MAX * 2, "%s", path);
  snprintf(out, size, "%s", r->root_real);
  size_t root_length = strlen(r->root_real);
  int missing = 0;
  int rc = 0;
  char *cursor = pending;
  while (*cursor) {
    while (*cursor == '/') cursor++;
    if (*cursor == '\0') break;
    char *end = strchr(cursor, '/');
    size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
    char name[NAME_MAX + 1];
    if (length > NAME_MAX) {
      errno = ENAMETOOLONG;
      rc = -1;
      break;
    }
    memcpy(name, cursor, length);
    name[length] = '\0';
    cursor += length;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
      if (missing) {
        errno = ENOENT;
        rc = -1;
        break;
      }
      if (name[1] == '.') {
        char *slash = strrchr(out, '/');
        if (slash != NULL && (size_t)(slash - out) >= root_length) *slash = '\0';
      }
      continue;
    }
    size_t before = strlen(out);
    if (append_name(out, size, name) != 0) {
      rc = -1;
      break;
    }
    if (missing) continue;
    struct stat st;
    if (lstat(out, &st) != 0) {
      if (errno != ENOENT) {
        rc = -1;
        break;
      }
      missing = 1;
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++r->hops > MAX_SYMLINK_HOPS) {
        errno = ELOOP;
        rc = -1;
        break;
      }
      char target[PATH_MAX];
      ssize_t target_length = readlink(out, target, sizeof target - 1);
      if (target_length < 0) {
        rc = -1;
        break;
      }
      target[target_length] = '\0';
      out[before] = '\0';
      if (target[0] == '/') out[root_length] = '\0';
      char *rest = malloc(PATH_MAX * 2);
      if (rest == NULL) {
        errno = ENOMEM;
        rc = -1;
        break;
      }
      int written = snprintf(rest, PATH_MAX * 2, "%s/%s", target, cursor);
      if (written < 0 || written >= PATH_MAX * 2) {
        free(rest);
        errno = ENAMETOOLONG;
        rc = -1;
        break;
      }
      free(pending);
      pending = rest;
      cursor = pending;
      continue;
    }
    if (!S_ISDIR(st.st_mode) && *cursor != '\0') {
      /* More components follow a non-directory, unless only slashes remain. */
      const char *rest = cursor;
      while (*rest == '/') rest++;
      if (*rest != '\0') {
        errno = ENOTDIR;
        rc = -1;
        break;
      }
    }
  }
  if (rc == 0 && out[0] == '\0') snprintf(out, size, "/");
  free(pending);
  return rc;
}

static napi_value resolve_in_root(napi_env env, napi_callback_info info, int force_userspace) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  napi_value result = NULL;
  char *root = NULL, *path = NULL;
  struct resolver r;
  r.root_fd = -1;
  r.hops = 0;
  r.force_userspace = force_userspace;
  if ((root = arg_string(env, argv[0], "root")) == NULL) goto out;
  if ((path = arg_string(env, argv[1], "path")) == NULL) goto out;
  r.root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (r.root_fd < 0) {
    throw_errno(env, errno, "open", root);
    goto out;
  }
  if (fd_host_path(r.root_fd, r.root_real, sizeof r.root_real) != 0) {
    throw_errno(env, errno, "readlink", root);
    goto out;
  }
  if (strcmp(r.root_real, "/") == 0) r.root_real[0] = '\0';
  char resolved[PATH_MAX];
  int rc = force_userspace ? resolve_userspace(&r, path, resolved, sizeof resolved)
                           : resolve_openat2(&r, path, resolved, sizeof resolved);
  if (rc != 0) {
    throw_errno(env, errno, "openat2", path);
    goto out;
  }
  if (resolved[0] == '\0') snprintf(resolved, sizeof resolved, "/");
  napi_create_string_utf8(env, resolved, NAPI_AUTO_LENGTH, &result);
out:
  if (r.root_fd >= 0) close(r.root_fd);
  free(root);
  free(path);
  return result;
}

static napi_value js_resolve_in_root(napi_env env, napi_callback_info info) {
  return resolve_in_root(env, info, 0);
}

/* The userspace walk on its own, so tests cover it on kernels that have openat2. */
static napi_value js_resolve_in_root_userspace(napi_env env, napi_callback_info info) {
  return resolve_in_root(env, info, 1);
}

/* ---------- file-descriptor calls ----------
 * Everything inside a container's root is reached from a directory fd, one name at a time
 * or with openat2(RESOLVE_IN_ROOT), never through a host path string (CVE-2018-15664).
 * Every fd returned is O_CLOEXEC, so runc and monitors never inherit one.
 */

static int arg_fd(napi_env env, napi_value value, const char *what, int *out) {
  int64_t v = 0;
  if (arg_int64(env, value, what, &v) != 0) return -1;
  *out = (int)v;
  return 0;
}

static napi_value int_value(napi_env env, int64_t v) {
  napi_value result;
  napi_create_int64(env, v, &result);
  return result;
}

/* openat2(dirfd, path, {flags, mode, resolve}) -> fd. Retries EAGAIN (a rename raced a `..`). */
static napi_value js_openat2(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv) != 0) return NULL;
  int dirfd;
  int64_t flags, mode, resolve;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *path = arg_string(env, argv[1], "path");
  if (path == NULL) return NULL;
  napi_value result = NULL;
  if (arg_int64(env, argv[2], "flags", &flags) != 0 || arg_int64(env, argv[3], "mode", &mode) != 0 ||
      arg_int64(env, argv[4], "resolve", &resolve) != 0)
    goto out;
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? (unsigned long long)mode : 0;
  how.resolve = (unsigned long long)resolve;
  /* Under RESOLVE_IN_ROOT a leading `/` already means dirfd; "" means dirfd itself. */
  int fd = -1;
  for (int attempt = 0; attempt < 64; attempt++) {
    fd = (int)syscall(SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  if (fd < 0) {
    throw_errno(env, errno, "openat2", path);
    goto out;
  }
  result = int_value(env, fd);
out:
  free(path);
  return result;
}

/* openat(dirfd, name, flags, mode) -> fd. */
static napi_value js_openat(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv) != 0) return NULL;
  int dirfd;
  int64_t flags, mode;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  napi_value result = NULL;
  if (arg_int64(env, argv[2], "flags", &flags) == 0 && arg_int64(env, argv[3], "mode", &mode) == 0) {
    int fd = openat(dirfd, name, (int)flags | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) throw_errno(env, errno, "openat", name);
    else result = int_value(env, fd);
  }
  free(name);
  return result;
}

/*
 * Opens the very inode an fd (often O_PATH) holds, with new flags, through its
 * /proc/self/fd magic link: no name is looked up again, so nothing can be swapped in.
 */
static napi_value js_reopen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int fd;
  int64_t flags;
  if (arg_fd(env, argv[0], "fd", &fd) != 0 || arg_int64(env, argv[1], "flags", &flags) != 0) return NULL;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int reopened = open(link, ((int)flags & ~O_NOFOLLOW) | O_CLOEXEC);
  if (reopened < 0) {
    throw_errno(env, errno, "open", link);
    return NULL;
  }
  return int_value(env, reopened);
}

/* A directory stream over the directory an fd holds, on a fresh open file description:
   fdopendir takes that over, so the caller's fd and its offset are untouched. NULL after a
   thrown error. */
static DIR *opendir_fd(napi_env env, int fd) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int dup_fd = open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) {
    throw_errno(env, errno, "open", link);
    return NULL;
  }
  DIR *dir = fdopendir(dup_fd);
  if (dir == NULL) {
    int err = errno;
    close(dup_fd);
    throw_errno(env, err, "fdopendir", NULL);
  }
  return dir;
}

/* The names in the directory an fd holds, without `.` and `..` (unsorted). */
static napi_value js_readdir_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int fd;
  if (arg_fd(env, argv[0], "fd", &fd) != 0) return NULL;
  DIR *dir = opendir_fd(env, fd);
  if (dir == NULL) return NULL;
  napi_value result;
  napi_create_array(env, &result);
  uint32_t index = 0;
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(dir);
    if (entry == NULL) break;
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    napi_value name;
    napi_create_string_utf8(env, entry->d_name, NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, result, index++, name);
  }
  int err = errno;
  closedir(dir);
  if (err != 0) {
    throw_errno(env, err, "readdir", NULL);
    return NULL;
  }
  return result;
}

/* Whether the file system of the directory fd fills in d_type: false when an entry comes
   back DT_UNKNOWN (xfs with ftype=0), as moby's fsutils.SupportsDType checks for overlay. */
static napi_value js_dirent_types_known(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int fd;
  if (arg_fd(env, argv[0], "fd", &fd) != 0) return NULL;
  DIR *dir = opendir_fd(env, fd);
  if (dir == NULL) return NULL;
  int known = 1;
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(dir);
    if (entry == NULL) break;
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    if (entry->d_type == DT_UNKNOWN) known = 0;
  }
  int err = errno;
  closedir(dir);
  if (err != 0) {
    throw_errno(env, err, "readdir", NULL);
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, known, &result);
  return result;
}

/* readlinkat(dirfd, name): name "" reads the symlink an O_PATH|O_NOFOLLOW fd holds. */
static napi_value js_readlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int dirfd;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  napi_value result = NULL;
  char target[PATH_MAX];
  ssize_t length = readlinkat(dirfd, name, target, sizeof target);
  if (length < 0) {
    throw_errno(env, errno, "readlinkat", name);
  } else if ((size_t)length >= sizeof target) {
    throw_errno(env, ENAMETOOLONG, "readlinkat", name);
  } else {
    napi_create_string_utf8(env, target, (size_t)length, &result);
  }
  free(name);
  return result;
}

static napi_value js_mkdirat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  int dirfd;
  int64_t mode;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  if (arg_int64(env, argv[2], "mode", &mode) == 0 && mkdirat(dirfd, name, (mode_t)mode) != 0) throw_errno(env, errno, "mkdirat", name);
  free(name);
  return undefined_value(env);
}

static napi_value js_symlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  int dirfd;
  char *target = arg_string(env, argv[0], "target");
  if (target == NULL) return NULL;
  char *name = NULL;
  if (arg_fd(env, argv[1], "dirfd", &dirfd) == 0 && (name = arg_string(env, argv[2], "name")) != NULL) {
    if (symlinkat(target, dirfd, name) != 0) throw_errno(env, errno, "symlinkat", name);
  }
  free(target);
  free(name);
  return undefined_value(env);
}

static napi_value js_mknodat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv) != 0) return NULL;
  int dirfd;
  int64_t mode = 0, major_number = 0, minor_number = 0;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  if (arg_int64(env, argv[2], "mode", &mode) == 0 && arg_int64(env, argv[3], "major", &major_number) == 0 &&
      arg_int64(env, argv[4], "minor", &minor_number) == 0) {
    dev_t dev = makedev((unsigned int)major_number, (unsigned int)minor_number);
    if (mknodat(dirfd, name, (mode_t)mode, dev) != 0) throw_errno(env, errno, "mknodat", name);
  }
  free(name);
  return undefined_value(env);
}

/* linkat(olddirfd, oldname, newdirfd, newname, flags): without AT_SYMLINK_FOLLOW a symlink is linked, not followed. */
static napi_value js_linkat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv) != 0) return NULL;
  int olddirfd, newdirfd;
  int64_t flags;
  char *oldname = NULL, *newname = NULL;
  if (arg_fd(env, argv[0], "olddirfd", &olddirfd) != 0) goto out;
  if ((oldname = arg_string(env, argv[1], "oldname")) == NULL) goto out;
  if (arg_fd(env, argv[2], "newdirfd", &newdirfd) != 0) goto out;
  if ((newname = arg_string(env, argv[3], "newname")) == NULL) goto out;
  if (arg_int64(env, argv[4], "flags", &flags) != 0) goto out;
  if (linkat(olddirfd, oldname, newdirfd, newname, (int)flags) != 0) throw_errno(env, errno, "linkat", newname);
out:
  free(oldname);
  free(newname);
  return undefined_value(env);
}

static napi_value js_unlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  int dirfd;
  int64_t flags;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  if (arg_int64(env, argv[2], "flags", &flags) == 0 && unlinkat(dirfd, name, (int)flags) != 0) throw_errno(env, errno, "unlinkat", name);
  free(name);
  return undefined_value(env);
}

/* fchownat(dirfd, name, uid, gid, flags): AT_EMPTY_PATH with name "" acts on an O_PATH fd itself. */
static napi_value js_fchownat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv) != 0) return NULL;
  int dirfd;
  int64_t uid, gid, flags;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  if (arg_int64(env, argv[2], "uid", &uid) == 0 && arg_int64(env, argv[3], "gid", &gid) == 0 &&
      arg_int64(env, argv[4], "flags", &flags) == 0 && fchownat(dirfd, name, (uid_t)uid, (gid_t)gid, (int)flags) != 0) {
    throw_errno(env, errno, "fchownat", name);
  }
  free(name);
  return undefined_value(env);
}

/* The inode an fd holds, as a path the kernel resolves to it and no other (for calls with no fd form). */
static void fd_link(int fd, char *out, size_t size) {
  snprintf(out, size, "/proc/self/fd/%d", fd);
}

/*
 * fchmod on any fd, O_PATH included: through the fd's magic link, which names that inode
 * alone (Linux < 6.6 has no fchmodat2(AT_EMPTY_PATH)). Never call it on a symlink's fd.
 */
static napi_value js_fchmod_any(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int fd;
  int64_t mode;
  if (arg_fd(env, argv[0], "fd", &fd) != 0 || arg_int64(env, argv[1], "mode", &mode) != 0) return NULL;
  if (fchmod(fd, (mode_t)mode) != 0) {
    if (errno != EBADF) {
      throw_errno(env, errno, "fchmod", NULL);
      return NULL;
    }
    char link[64];
    fd_link(fd, link, sizeof link);
    if (chmod(link, (mode_t)mode) != 0) throw_errno(env, errno, "chmod", link);
  }
  return undefined_value(env);
}

/* utimensat(dirfd, name, seconds, nanoseconds, flags): atime and mtime both set. */
static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv) != 0) return NULL;
  int dirfd;
  int64_t seconds, nanoseconds, flags;
  if (arg_fd(env, argv[0], "dirfd", &dirfd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  if (arg_int64(env, argv[2], "seconds", &seconds) == 0 && arg_int64(env, argv[3], "nanoseconds", &nanoseconds) == 0 &&
      arg_int64(env, argv[4], "flags", &flags) == 0) {
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = (time_t)seconds;
    times[0].tv_nsec = times[1].tv_nsec = (long)nanoseconds;
    if (utimensat(dirfd, name, times, (int)flags) != 0) throw_errno(env, errno, "utimensat", name);
  }
  free(name);
  return undefined_value(env);
}

/*
 * xattrs of the inode an fd holds. An O_PATH fd has no f*xattr form, so those go through
 * its magic link; for an O_PATH|O_NOFOLLOW fd of a symlink the l* form acts on the link.
 */
static ssize_t fd_getxattr(int fd, const char *name, void *value, size_t size) {
  ssize_t got = fgetxattr(fd, name, value, size);
  if (got >= 0 || errno != EBADF) return got;
  char link[64];
  fd_link(fd, link, sizeof link);
  return getxattr(link, name, value, size);
}

static napi_value js_fgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int fd;
  if (arg_fd(env, argv[0], "fd", &fd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  napi_value result = NULL;
  char *buffer = NULL;
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = fd_getxattr(fd, name, NULL, 0);
    if (size < 0) break;
    free(buffer);
    buffer = malloc(size > 0 ? (size_t)size : 1);
    if (buffer == NULL) {
      errno = ENOMEM;
      break;
    }
    ssize_t got = fd_getxattr(fd, name, buffer, (size_t)size);
    if (got >= 0) {
      void *copy = NULL;
      napi_create_buffer_copy(env, (size_t)got, buffer, &copy, &result);
      goto out;
    }
    if (errno != ERANGE) break;
  }
  if (errno == ENODATA) result = undefined_value(env);
  else throw_errno(env, errno, "fgetxattr", name);
out:
  free(name);
  free(buffer);
  return result;
}

/* getsockopt(SO_PEERCRED): the pid, uid and gid of the process at the other end of a unix socket (as it connected). */
/*
 * malloc_trim(0): gives the heap's free pages back to the kernel, in every arena, so an idle
 * daemon does not hold what its last work freed. Returns whether any was released.
 */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) != 0, &result);
  return result;
}

/*
 * mallopt(M_MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD), in bytes: how large a block glibc
 * serves from the heap rather than its own mmap, and how much free memory at the heap's top
 * it keeps rather than giving back (src/util/heap-trim.ts sets them for a pull's duration).
 */
static napi_value js_malloc_thresholds(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int64_t mmap_threshold, trim_threshold;
  if (napi_get_value_int64(env, argv[0], &mmap_threshold) != napi_ok || napi_get_value_int64(env, argv[1], &trim_threshold) != napi_ok ||
      mmap_threshold < 0 || trim_threshold < 0 || mmap_threshold > INT_MAX || trim_threshold > INT_MAX) {
    throw_type(env, "The thresholds must be byte counts below 2 GiB");
    return NULL;
  }
  if (mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) != 1 || mallopt(M_TRIM_THRESHOLD, (int)trim_threshold) != 1) {
    throw_type(env, "mallopt refused the thresholds");
    return NULL;
  }
  return NULL;
}

static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int fd;
  if (arg_fd(env, argv[0], "fd", &fd) != 0) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    throw_errno(env, errno, "getsockopt", NULL);
    return NULL;
  }
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "pid", int_value(env, cred.pid));
  napi_set_named_property(env, result, "uid", int_value(env, cred.uid));
  napi_set_named_property(env, result, "gid", int_value(env, cred.gid));
  return result;
}

static napi_value js_fsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  int fd;
  if (arg_fd(env, argv[0], "fd", &fd) != 0) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) return NULL;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok) {
    throw_type(env, "The \"value\" argument must be a Buffer");
  } else if (fsetxattr(fd, name, data, length, 0) != 0) {
    if (errno != EBADF) {
      throw_errno(env, errno, "fsetxattr", name);
    } else {
      char link[64];
      fd_link(fd, link, sizeof link);
      if (setxattr(link, name, data, length, 0) != 0) throw_errno(env, errno, "setxattr", name);
    }
  }
  free(name);
  return undefined_value(env);
}

/* ---------- sandboxes: network namespaces made in-process (sandbox.c) ---------- */

/* An object's string property into a fixed buffer; -1 with a pending TypeError when it is not one or too long. */
static int prop_string(napi_env env, napi_value object, const char *key, char *out, size_t size, bool optional) {
  napi_value value;
  napi_valuetype type;
  out[0] = '\0';
  if (napi_get_named_property(env, object, key, &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return -1;
  if (optional && (type == napi_undefined || type == napi_null)) return 0;
  size_t length = 0;
  char message[128];
  if (type != napi_string || napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok || length >= size) {
    snprintf(message, sizeof message, "The \"%s\" property must be a string of at most %zu bytes", key, size - 1);
    throw_type(env, message);
    return -1;
  }
  napi_get_value_string_utf8(env, value, out, size, &length);
  return 0;
}

static int prop_uint32(napi_env env, napi_value object, const char *key, uint32_t *out) {
  napi_value value;
  if (napi_get_named_property(env, object, key, &value) != napi_ok || napi_get_value_uint32(env, value, out) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "The \"%s\" property must be of type number", key);
    throw_type(env, message);
    return -1;
  }
  return 0;
}

/* One { ifname, peer, master, mac, mtu, address, prefixLen, gateway? } into a sandbox_link. */
static int read_sandbox_link(napi_env env, napi_value object, struct sandbox_link *link) {
  char mac[24], address[INET_ADDRSTRLEN], gateway[INET_ADDRSTRLEN];
  uint32_t prefix_len = 0;
  memset(link, 0, sizeof *link);
  if (prop_string(env, object, "ifname", link->ifname, sizeof link->ifname, false) || prop_string(env, object, "peer", link->peer, sizeof link->peer, false) ||
      prop_string(env, object, "master", link->master, sizeof link->master, false) || prop_string(env, object, "mac", mac, sizeof mac, false) ||
      prop_string(env, object, "address", address, sizeof address, false) || prop_string(env, object, "gateway", gateway, sizeof gateway, true) ||
      prop_uint32(env, object, "mtu", &link->mtu) || prop_uint32(env, object, "prefixLen", &prefix_len))
    return -1;
  unsigned int b[6];
  char rest;
  if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &rest) != 6) {
    throw_type(env, "The \"mac\" property must be a MAC address (aa:bb:cc:dd:ee:ff)");
    return -1;
  }
  for (int i = 0; i < 6; i++) link->mac[i] = (unsigned char)b[i];
  if (inet_pton(AF_INET, address, &link->address) != 1 || prefix_len > 32 || (gateway[0] != '\0' && inet_pton(AF_INET, gateway, &link->gateway) != 1)) {
    throw_type(env, "The \"address\", \"prefixLen\" and \"gateway\" properties must be an IPv4 address, 0-32 and an IPv4 address");
    return -1;
  }
  link->prefix_len = (uint8_t)prefix_len;
  return 0;
}

/* Runs `execute` on the thread pool and `complete` back on the JS thread, which settles the returned promise through `*deferred`. */
static napi_value queue_promise_work(napi_env env, const char *label, napi_async_execute_callback execute, napi_async_complete_callback complete, void *data, napi_deferred *deferred, napi_async_work *work) {
  napi_value promise, name;
  napi_create_promise(env, deferred, &promise);
  napi_create_string_utf8(env, label, NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, data, work);
  napi_queue_async_work(env, *work);
  return promise;
}

struct sandbox_work {
  napi_async_work work;
  napi_deferred deferred;
  char *file;
  struct sandbox_link *links;
  size_t count;
  struct sandbox_error error;
  int result;
};

static void sandbox_execute(napi_env env, void *data) {
  struct sandbox_work *w = data;
  w->result = sandbox_create(w->file, w->links, w->count, &w->error);
}

static void sandbox_complete(napi_env env, napi_status status, void *data) {
  struct sandbox_work *w = data;
  if (w->result == 0) {
    napi_resolve_deferred(env, w->deferred, undefined_value(env));
  } else {
    char step[sizeof w->error.step + sizeof w->error.object + 2];
    snprintf(step, sizeof step, w->error.object[0] ? "%s %s" : "%s", w->error.step, w->error.object);
    napi_reject_deferred(env, w->deferred, errno_error(env, w->error.err ? w->error.err : EIO, step, w->file));
  }
  napi_delete_async_work(env, w->work);
  free(w->file);
  free(w->links);
  free(w);
}

/* sandboxCreate(file, links): a promise; the work runs off the JS thread (see sandbox_create). */
static napi_value js_sandbox_create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  uint32_t count = 0;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    throw_type(env, "The \"links\" argument must be an array");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &count);
  struct sandbox_work *w = calloc(1, sizeof *w);
  if (w == NULL || (w->links = calloc(count > 0 ? count : 1, sizeof *w->links)) == NULL) {
    free(w);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  w->count = count;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok || read_sandbox_link(env, element, &w->links[i]) != 0) goto fail;
  }
  if ((w->file = arg_string(env, argv[0], "file")) == NULL) goto fail;
  return queue_promise_work(env, "berth:sandboxCreate", sandbox_execute, sandbox_complete, w, &w->deferred, &w->work);
fail:
  free(w->file);
  free(w->links);
  free(w);
  return NULL;
}

struct link_delete_work {
  napi_async_work work;
  napi_deferred deferred;
  char name[IF_NAMESIZE];
  int err;
};

static void link_delete_execute(napi_env env, void *data) {
  struct link_delete_work *w = data;
  w->err = sandbox_link_delete(w->name);
}

static void link_delete_complete(napi_env env, napi_status status, void *data) {
  struct link_delete_work *w = data;
  if (w->err == 0 || w->err == ENODEV) {
    napi_value deleted;
    napi_get_boolean(env, w->err == 0, &deleted);
    napi_resolve_deferred(env, w->deferred, deleted);
  } else {
    napi_reject_deferred(env, w->deferred, errno_error(env, w->err, "RTM_DELLINK", w->name));
  }
  napi_delete_async_work(env, w->work);
  free(w);
}

/* linkDelete(name): `ip link del dev <name>` as a promise (false: no such device), off the JS thread (the kernel's unregister waits for RCU). */
static napi_value js_link_delete_async(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  struct link_delete_work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  char *given = arg_string(env, argv[0], "name");
  if (given == NULL || strlen(given) >= sizeof w->name) {
    if (given != NULL) throw_type(env, "The \"name\" argument must be an interface name (at most 15 bytes)");
    free(given);
    free(w);
    return NULL;
  }
  snprintf(w->name, sizeof w->name, "%s", given);
  free(given);
  return queue_promise_work(env, "berth:linkDelete", link_delete_execute, link_delete_complete, w, &w->deferred, &w->work);
}

/* ---------- spawning a detaching program off the JS thread (spawn_ready.c) ---------- */

struct spawn_work {
  napi_async_work work;
  napi_deferred deferred;
  char **argv;
  uint32_t argc;
  char *cwd;
  int32_t timeout_ms;
  int32_t extra_fd;
  int rc;
  struct spawn_ready_result result;
};

static void spawn_work_free(struct spawn_work *w) {
  if (w->argv != NULL) {
    for (uint32_t i = 0; i < w->argc; i++) free(w->argv[i]);
    free(w->argv);
  }
  free(w->cwd);
  free(w);
}

static void spawn_execute(napi_env env, void *data) {
  struct spawn_work *w = data;
  w->rc = spawn_ready(w->argv, w->cwd, w->timeout_ms, w->extra_fd, &w->result);
}

static void spawn_complete(napi_env env, napi_status status, void *data) {
  struct spawn_work *w = data;
  if (w->rc != 0) {
    napi_reject_deferred(env, w->deferred, errno_error(env, w->result.err ? w->result.err : EIO, w->result.step, w->argv[0]));
  } else {
    napi_value object, sync, err_text, timed_out;
    napi_create_object(env, &object);
    napi_create_string_utf8(env, w->result.sync, w->result.sync_length, &sync);
    napi_create_string_utf8(env, w->result.stderr_text, w->result.stderr_length, &err_text);
    napi_get_boolean(env, w->result.timed_out != 0, &timed_out);
    napi_set_named_property(env, object, "sync", sync);
    napi_set_named_property(env, object, "stderr", err_text);
    napi_set_named_property(env, object, "timedOut", timed_out);
    napi_resolve_deferred(env, w->deferred, object);
  }
  napi_delete_async_work(env, w->work);
  spawn_work_free(w);
}

/*
 * spawnReady(argv, cwd | null, timeoutMs[, extraFd]): a promise of { sync, stderr, timedOut };
 * see spawn_ready.h. extraFd (an fd >= 10) becomes the child's fd 4.
 */
static napi_value js_spawn_ready(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "missing arguments");
    return NULL;
  }
  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &count) != napi_ok || count == 0) {
    throw_type(env, "The \"argv\" argument must be a non-empty array of strings");
    return NULL;
  }
  struct spawn_work *w = calloc(1, sizeof *w);
  if (w == NULL || (w->argv = calloc(count + 1, sizeof *w->argv)) == NULL) {
    free(w);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  w->argc = count;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    if (napi_get_element(env, argv[0], i, &element) != napi_ok || (w->argv[i] = arg_string(env, element, "argv")) == NULL) goto fail;
  }
  if (w->argv[0][0] != '/') {
    throw_type(env, "The \"argv\" argument must start with an absolute path");
    goto fail;
  }
  napi_valuetype type;
  napi_typeof(env, argv[1], &type);
  if (type != napi_null && type != napi_undefined && (w->cwd = arg_string(env, argv[1], "cwd")) == NULL) goto fail;
  if (napi_get_value_int32(env, argv[2], &w->timeout_ms) != napi_ok || w->timeout_ms <= 0) {
    throw_type(env, "The \"timeoutMs\" argument must be a positive integer");
    goto fail;
  }
  w->extra_fd = -1;
  if (argc > 3) {
    napi_typeof(env, argv[3], &type);
    if (type != napi_null && type != napi_undefined &&
        (napi_get_value_int32(env, argv[3], &w->extra_fd) != napi_ok || w->extra_fd < SEALED_COPY_MIN_FD)) {
      throw_type(env, "The \"extraFd\" argument must be an fd number of at least 10");
      goto fail;
    }
  }
  return queue_promise_work(env, "berth:spawnReady", spawn_execute, spawn_complete, w, &w->deferred, &w->work);
fail:
  spawn_work_free(w);
  return NULL;
}

/* ---------- a sealed memfd copy of the runtime binary (sealed_copy.c) ---------- */

/* The start of the work of a call that takes one path: its async work, its promise and its copy of the path. */
struct path_work {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
};

/* fn(path): allocates the work (`size` bytes starting with a path_work), copies the path and queues it. */
static napi_value queue_path_work(napi_env env, napi_callback_info info, const char *label, size_t size, napi_async_execute_callback execute, napi_async_complete_callback complete) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  struct path_work *w = calloc(1, size);
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if ((w->path = arg_string(env, argv[0], "path")) == NULL) {
    free(w);
    return NULL;
  }
  return queue_promise_work(env, label, execute, complete, w, &w->deferred, &w->work);
}

/* Frees a path_work once its promise is settled. */
static void end_path_work(napi_env env, struct path_work *w) {
  napi_delete_async_work(env, w->work);
  free(w->path);
  free(w);
}

struct sealed_work {
  struct path_work base;
  int rc;
  struct sealed_copy copy;
};

static void sealed_execute(napi_env env, void *data) {
  struct sealed_work *w = data;
  w->rc = sealed_copy_make(w->base.path, &w->copy);
}

/* Nanoseconds as a decimal string (beyond 2^53). */
static napi_value ns_string(napi_env env, struct timespec t) {
  char text[32];
  snprintf(text, sizeof text, "%lld", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
  napi_value value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

static void sealed_complete(napi_env env, napi_status status, void *data) {
  struct sealed_work *w = data;
  if (w->rc != 0) {
    napi_reject_deferred(env, w->base.deferred, errno_error(env, w->copy.err ? w->copy.err : EIO, w->copy.step, w->base.path));
  } else {
    char text[48];
    napi_value object, dev, ino;
    napi_create_object(env, &object);
    napi_set_named_property(env, object, "fd", int_value(env, w->copy.fd));
    snprintf(text, sizeof text, "%llu", (unsigned long long)w->copy.st.st_dev);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &dev);
    snprintf(text, sizeof text, "%llu", (unsigned long long)w->copy.st.st_ino);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &ino);
    napi_set_named_property(env, object, "dev", dev);
    napi_set_named_property(env, object, "ino", ino);
    napi_set_named_property(env, object, "size", int_value(env, (int64_t)w->copy.st.st_size));
    napi_set_named_property(env, object, "mtimeNs", ns_string(env, w->copy.st.st_mtim));
    napi_set_named_property(env, object, "ctimeNs", ns_string(env, w->copy.st.st_ctim));
    napi_resolve_deferred(env, w->base.deferred, object);
  }
  end_path_work(env, &w->base);
}

/* sealedCopy(path): a promise of { fd, dev, ino, size, mtimeNs, ctimeNs } (see sealed_copy.h); off the JS thread. */
static napi_value js_sealed_copy(napi_env env, napi_callback_info info) {
  return queue_path_work(env, info, "berth:sealedCopy", sizeof(struct sealed_work), sealed_execute, sealed_complete);
}

/* ---------- rm -rf ---------- */

struct remove_tree_work {
  struct path_work base;
  struct remove_tree_error error;
  int result;
};

static void remove_tree_execute(napi_env env, void *data) {
  struct remove_tree_work *w = data;
  w->result = remove_tree(w->base.path, &w->error);
}

static void remove_tree_complete(napi_env env, napi_status status, void *data) {
  struct remove_tree_work *w = data;
  if (w->result == 0) napi_resolve_deferred(env, w->base.deferred, undefined_value(env));
  else napi_reject_deferred(env, w->base.deferred, errno_error(env, w->error.err, w->error.step, w->error.path));
  end_path_work(env, &w->base);
}

/* removeTree(path): a promise; rm -rf in one pool-thread call (see remove_tree.h). */
static napi_value js_remove_tree(napi_env env, napi_callback_info info) {
  return queue_path_work(env, info, "berth:removeTree", sizeof(struct remove_tree_work), remove_tree_execute, remove_tree_complete);
}

/* ---------- COPY of regular files (the builder) ---------- */

/* Copies `len` bytes in the kernel (copy_file_range: a reflink where the file system can), else by read/write. */
static int copy_contents(int in, int out, off_t len) {
  off_t done = 0;
  int kernel = 1;
  while (done < len) {
    ssize_t n;
    if (kernel) {
      n = copy_file_range(in, NULL, out, NULL, (size_t)(len - done), 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        kernel = 0;
        continue;
      }
    } else {
      char buf[65536];
      n = read(in, buf, sizeof buf);
      if (n > 0) {
        for (ssize_t w = 0; w < n;) {
          ssize_t k = write(out, buf + w, (size_t)(n - w));
          if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
          }
          w += k;
        }
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break; /* shrank while copied: what there is */
    done += n;
  }
  return 0;
}

/*
 * copyFiles(srcDirFd, dstDirFd, names, uid, gid, mode, replace): COPY of the regular files
 * among `names` (entries of one directory), in one call instead of a dozen per file; returns
 * the names that are not regular files (lstat'ed, never opened), for the caller to copy.
 * A file is opened with O_NOFOLLOW|O_NONBLOCK beneath its directory fd and must be the very
 * inode lstat'ed (a name swapped for a link, a fifo or a device meanwhile is refused); the
 * copy is created with O_CREAT|O_EXCL|O_NOFOLLOW (after unlinking a non-directory there when
 * `replace`), then gets the owner, the mode (`mode` < 0: the source's permission bits) and
 * the source's mtime.
 */
static napi_value js_copy_files(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (get_args(env, info, 7, argv) != 0) return NULL;
  int src_dir, dst_dir;
  int64_t uid, gid, mode;
  bool replace = false, is_array = false;
  if (arg_fd(env, argv[0], "srcDirFd", &src_dir) != 0 || arg_fd(env, argv[1], "dstDirFd", &dst_dir) != 0) return NULL;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) {
    throw_type(env, "The \"names\" argument must be an array");
    return NULL;
  }
  if (arg_int64(env, argv[3], "uid", &uid) != 0 || arg_int64(env, argv[4], "gid", &gid) != 0 || arg_int64(env, argv[5], "mode", &mode) != 0) return NULL;
  napi_get_value_bool(env, argv[6], &replace);
  uint32_t count = 0, others_count = 0;
  napi_get_array_length(env, argv[2], &count);
  napi_value others;
  if (napi_create_array(env, &others) != napi_ok) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    if (napi_get_element(env, argv[2], i, &element) != napi_ok) return NULL;
    char *name = arg_string(env, element, "name");
    if (name == NULL) return NULL;
    const char *failed = NULL;
    int err = 0;
    int in = -1;
    struct stat pre, st;
    if (fstatat(src_dir, name, &pre, AT_SYMLINK_NOFOLLOW) != 0) {
      err = errno, failed = "fstatat";
    } else if (!S_ISREG(pre.st_mode)) {
      free(name);
      if (napi_set_element(env, others, others_count++, element) != napi_ok) return NULL;
      continue;
    } else if ((in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
      err = errno, failed = "openat";
    } else if (fstat(in, &st) != 0) {
      err = errno, failed = "fstat";
    } else if (!S_ISREG(st.st_mode) || st.st_ino != pre.st_ino || st.st_dev != pre.st_dev) {
      err = EAGAIN, failed = "copy (the file was replaced while copied)";
    } else {
      if (replace && unlinkat(dst_dir, name, 0) != 0 && errno != ENOENT) {
        err = errno, failed = "unlinkat";
      } else {
        int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0) {
          err = errno, failed = "openat";
        } else {
          struct timespec times[2] = {st.st_mtim, st.st_mtim};
          if (copy_contents(in, out, st.st_size) != 0) err = errno, failed = "copy_file_range";
          else if (fchown(out, (uid_t)uid, (gid_t)gid) != 0) err = errno, failed = "fchown";
          else if (fchmod(out, mode < 0 ? (st.st_mode & 07777) : (mode_t)mode) != 0) err = errno, failed = "fchmod";
          else if (futimens(out, times) != 0) err = errno, failed = "futimens";
          close(out);
        }
      }
    }
    if (in >= 0) close(in);
    if (failed != NULL) {
      throw_errno(env, err, failed, name);
      free(name);
      return NULL;
    }
    free(name);
  }
  return others;
}

/* ---------- module ---------- */

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"resolveInRoot", NULL, js_resolve_in_root, NULL, NULL, NULL, napi_enumerable, NULL},
      {"resolveInRootUserspace", NULL, js_resolve_in_root_userspace, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openat2", NULL, js_openat2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openat", NULL, js_openat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reopen", NULL, js_reopen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readdirFd", NULL, js_readdir_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"direntTypesKnown", NULL, js_dirent_types_known, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readlinkat", NULL, js_readlinkat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkdirat", NULL, js_mkdirat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"symlinkat", NULL, js_symlinkat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknodat", NULL, js_mknodat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linkat", NULL, js_linkat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unlinkat", NULL, js_unlinkat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fchownat", NULL, js_fchownat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fchmodAny", NULL, js_fchmod_any, NULL, NULL, NULL, napi_enumerable, NULL},
      {"utimensat", NULL, js_utimensat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copyFiles", NULL, js_copy_files, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fgetxattr", NULL, js_fgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fsetxattr", NULL, js_fsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocThresholds", NULL, js_malloc_thresholds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linkDelete", NULL, js_link_delete_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sandboxCreate", NULL, js_sandbox_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawnReady", NULL, js_spawn_ready, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealedCopy", NULL, js_sealed_copy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"removeTree", NULL, js_remove_tree, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFile", NULL, js_send_file, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFileCancel", NULL, js_send_file_cancel, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  blob_hash_define(env, exports);
  /* Flag values differ between architectures (O_DIRECTORY on arm64): take them from libc. */
  static const struct { const char *name; int64_t value; } constants[] = {
      {"O_RDONLY", O_RDONLY}, {"O_WRONLY", O_WRONLY}, {"O_RDWR", O_RDWR}, {"O_CREAT", O_CREAT}, {"O_EXCL", O_EXCL},
      {"O_NOFOLLOW", O_NOFOLLOW}, {"O_DIRECTORY", O_DIRECTORY}, {"O_PATH", O_PATH}, {"O_NONBLOCK", O_NONBLOCK},
      {"O_NOCTTY", O_NOCTTY}, {"AT_FDCWD", AT_FDCWD}, {"AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW},
      {"AT_REMOVEDIR", AT_REMOVEDIR}, {"AT_EMPTY_PATH", AT_EMPTY_PATH}, {"RESOLVE_IN_ROOT", RESOLVE_IN_ROOT},
      {"RESOLVE_NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS}, {"RESOLVE_NO_SYMLINKS", RESOLVE_NO_SYMLINKS},
      {"RESOLVE_BENEATH", RESOLVE_BENEATH},
  };
  napi_value constants_object;
  napi_create_object(env, &constants_object);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    napi_set_named_property(env, constants_object, constants[i].name, int_value(env, constants[i].value));
  }
  napi_set_named_property(env, exports, "constants", constants_object);
  return exports;
}
