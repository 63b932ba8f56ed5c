/* remove_tree: rm -rf of one directory tree; see remove_tree.h. */
#define _GNU_SOURCE
#include "remove_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper than this the walk stops (a path-based removal fails at PATH_MAX anyway): one fd per level. */
#define MAX_DEPTH 512

struct walk {
  dev_t dev;                      /* the tree's file system: another one mounted inside is not entered */
  char path[PATH_MAX];            /* where the walk is, for messages only (no syscall takes a path below the top) */
  struct remove_tree_error *out;
};

static void note_failure(struct walk *w, int err, const char *step, const char *name) {
  if (w->out->err != 0) return; /* the first one is reported */
  w->out->err = err;
  snprintf(w->out->step, sizeof w->out->step, "%s", step);
  /* Bounded so the three always fit (a path that long is cut: it is only for the message). */
  snprintf(w->out->path, sizeof w->out->path, "%.3839s%s%.255s", w->path, name ? "/" : "", name ? name : "");
}

/*
 * Empties the directory `dir` (an fd it takes) depth first. Every entry is looked at and
 * removed relative to its directory's fd, and a directory is entered with O_NOFOLLOW: a name
 * swapped for a symlink meanwhile is removed as a link, never followed (as a path would be).
 */
static void empty_dir(struct walk *w, int dir, int depth) {
  DIR *stream = fdopendir(dir);
  if (stream == NULL) {
    note_failure(w, errno, "fdopendir", NULL);
    close(dir);
    return;
  }
  int fd = dirfd(stream);
  struct dirent *entry;
  while ((errno = 0, entry = readdir(stream)) != NULL) {
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    int is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) note_failure(w, errno, "fstatat", name);
        continue;
      }
      is_dir = S_ISDIR(st.st_mode);
    }
    if (!is_dir) {
      if (unlinkat(fd, name, 0) != 0 && errno != ENOENT) note_failure(w, errno, "unlink", name);
      continue;
    }
    int child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (child < 0) {
      /* Swapped for a link or a file since readdir: it goes as one. */
      if (errno == ELOOP || errno == ENOTDIR) {
        if (unlinkat(fd, name, 0) != 0 && errno != ENOENT) note_failure(w, errno, "unlink", name);
      } else if (errno != ENOENT) {
        note_failure(w, errno, "openat", name);
      }
      continue;
    }
    struct stat st;
    if (depth + 1 >= MAX_DEPTH) {
      note_failure(w, ENAMETOOLONG, "walk (too deep)", name);
      close(child);
    } else if (fstat(child, &st) != 0 || st.st_dev != w->dev) {
      /* Another file system: a mount point, whose rmdir below fails with EBUSY. */
      close(child);
    } else {
      size_t length = strlen(w->path);
      /* For messages only: a path too long to hold stays at its prefix. */
      if (length + 1 + strlen(name) < sizeof w->path) {
        w->path[length] = '/';
        strcpy(w->path + length + 1, name);
      }
      empty_dir(w, child, depth + 1);
      w->path[length] = '\0';
    }
    if (unlinkat(fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) note_failure(w, errno, "rmdir", name);
  }
  if (errno != 0) note_failure(w, errno, "readdir", NULL);
  closedir(stream);
}

int remove_tree(const char *path, struct remove_tree_error *out) {
  memset(out, 0, sizeof *out);
  struct walk w = {.out = out};
  snprintf(w.path, sizeof w.path, "%s", path);
  int dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (dir < 0) {
    int err = errno;
    if (err == ENOENT) return 0; /* nothing there: removed */
    if (err != ENOTDIR && err != ELOOP) note_failure(&w, err, "open", NULL);
    /* A file or a symlink: it goes itself (a link's target stays). */
    else if (unlink(path) != 0 && errno != ENOENT) note_failure(&w, errno, "unlink", NULL);
    return out->err == 0 ? 0 : -1;
  }
  struct stat st;
  if (fstat(dir, &st) != 0) {
    note_failure(&w, errno, "fstat", NULL);
    close(dir);
    return -1;
  }
  w.dev = st.st_dev;
  empty_dir(&w, dir, 0);
  if (rmdir(path) != 0 && errno != ENOENT) note_failure(&w, errno, "rmdir", NULL);
  return out->err == 0 ? 0 : -1;
}
