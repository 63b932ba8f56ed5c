/* remove_tree: rm -rf of one directory tree; see remove_tree.h. */
#define _GNU_SOURCE
#include "remove_tree.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* nftw's callback takes no argument of ours: each pool thread walks with its own error slot. */
static __thread struct remove_tree_error *walk_error;

static void note_failure(struct remove_tree_error *out, int err, const char *step, const char *path) {
  if (out->err != 0) return; /* the first one is reported */
  out->err = err;
  snprintf(out->step, sizeof out->step, "%s", step);
  snprintf(out->path, sizeof out->path, "%s", path);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *where) {
  /* FTW_DEPTH: a directory comes after its contents (FTW_DP), or unread (FTW_DNR: rmdir says why). */
  int is_dir = type == FTW_DP || type == FTW_DNR;
  if ((is_dir ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT) note_failure(walk_error, errno, is_dir ? "rmdir" : "unlink", path);
  return 0; /* go on: remove what can be removed */
}

int remove_tree(const char *path, struct remove_tree_error *out) {
  memset(out, 0, sizeof *out);
  walk_error = out;
  /* FTW_PHYS: links are not followed; FTW_MOUNT: other file systems are not entered. */
  int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  int err = errno;
  walk_error = NULL;
  /* ENOENT: nothing there, or it went meanwhile (removed either way). */
  if (rc != 0 && out->err == 0 && err != ENOENT) note_failure(out, err, "nftw", path);
  return out->err == 0 ? 0 : -1;
}
