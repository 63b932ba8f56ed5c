/*
 * berth_native: the few syscalls Node lacks (mount, umount2, mknod, xattrs, openat2).
 * Plain C over N-API. Every function is synchronous and throws an Error shaped like
 * Node's fs errors: message "ENOENT: no such file or directory, mount '/x'", with
 * code, errno (negative, as in Node), syscall and path set.
 * The TypeScript interface is src/native/types.ts.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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

static void throw_errno(napi_env env, int err, const char *syscall_name, const char *path) {
  const char *name = strerrorname_np(err);
  char code[32];
  snprintf(code, sizeof code, "%s", name ? name : "EUNKNOWN");
  /* Node's (libuv's) messages are lowercase: "no such file or directory". */
  char desc[128];
  snprintf(desc, sizeof desc, "%s", strerror(err));
  if (desc[0] != '\0' && !(desc[1] != '\0' && isupper((unsigned char)desc[1]))) desc[0] = (char)tolower((unsigned char)desc[0]);
  char message[PATH_MAX + 256];
  if (path != NULL) {
    snprintf(message, sizeof message, "%s: %s, %s '%s'", code, desc, syscall_name, path);
  } else {
    snprintf(message, sizeof message, "%s: %s, %s", code, desc, syscall_name);
  }
  napi_value code_value, message_value, error, errno_value, syscall_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  if (path != NULL) {
    napi_value path_value;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &path_value);
    napi_set_named_property(env, error, "path", path_value);
  }
  napi_throw(env, error);
}

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

static int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  size_t argc = expected;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < expected) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "missing arguments");
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
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
