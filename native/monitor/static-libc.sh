#!/bin/sh
# binding.gyp: prints -static when the C compiler can link the C library statically (glibc's
# libc.a, from libc6-dev on Debian), else nothing. A static berth-monitor skips the dynamic
# loader at each of its starts (one per container): ~60 page faults and ~3-4 ms of CPU fewer
# per start in this VM, where a fault costs ~40 us.
file=$(${CC:-cc} -print-file-name=libc.a 2>/dev/null)
case $file in
  /*) [ -f "$file" ] && echo -static ;;
esac
exit 0
