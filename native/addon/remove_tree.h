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
 * `rm -rf path` in one call, depth first. Below `path` no syscall takes a path: every entry is
 * looked at and removed relative to its directory's fd, and directories are entered with
 * O_NOFOLLOW, so a name swapped for a symlink meanwhile (by a process that can still write
 * there) is removed as a link, never followed. It never enters another file system mounted
 * inside the tree (the directory holding it stays: EBUSY), nor goes deeper than 512 levels
 * (ENAMETOOLONG). A failure does not stop it: the rest is removed and the first failure
 * reported. A missing `path` is success; a file or symlink at `path` is unlinked.
 * Blocking: run it off the JS thread. Returns 0, or -1 with `out` set.
 */
int remove_tree(const char *path, struct remove_tree_error *out);

#endif
