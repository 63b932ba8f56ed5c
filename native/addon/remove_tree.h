#ifndef BERTH_REMOVE_TREE_H
#define BERTH_REMOVE_TREE_H

#include <limits.h>

/* The first failure of a removal: errno and the path it happened on. */
struct remove_tree_error {
  int err;
  char step[16];
  char path[PATH_MAX];
};

/*
 * `rm -rf path` in one call: a depth-first walk (nftw) that unlinks every entry and removes
 * every directory after its contents. It never follows a symlink (a link is removed, not its
 * target) and never enters another file system mounted inside the tree (so the directory
 * holding it stays, and the removal fails with EBUSY or ENOTEMPTY). A failure does not stop
 * the walk: the rest is removed and the first failure reported. A missing `path` is success.
 * Blocking: run it off the JS thread. Returns 0, or -1 with `out` set.
 */
int remove_tree(const char *path, struct remove_tree_error *out);

#endif
