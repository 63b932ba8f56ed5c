#!/bin/sh
# binding.gyp: the flags that link berth-monitor statically, with musl where the compiler can
# use it (Debian's musl-tools), else with glibc's libc.a (libc6-dev), else none (dynamic).
#   libc-flags.sh cflags | ldflags
# One monitor runs per container and per exec. Linked with musl it starts on ~0.25 ms of CPU
# and 9 page faults (glibc's static start-up: ~0.9 ms and 28 faults, most of it CPUID probes,
# each a VM exit here) and holds ~0.1 MB of RSS (glibc: ~0.6 MB). A static monitor skips the
# dynamic loader at each start (~60 faults).
cc=${CC:-cc}
specs=
wrapper=$(command -v musl-gcc 2>/dev/null)
if [ -n "$wrapper" ]; then
  specs=$(sed -n 's/.*-specs *"\{0,1\}\([^" ]*musl-gcc\.specs\)"\{0,1\}.*/\1/p' "$wrapper" | head -n 1)
fi
if [ -n "$specs" ] && [ -f "$specs" ] &&
  printf '#include <stdio.h>\nint main(void) { return puts("") < 0; }\n' |
  "$cc" -specs="$specs" -static -x c - -o /dev/null >/dev/null 2>&1; then
  case $1 in
    cflags) echo "-specs=$specs" ;;
    ldflags) echo "-specs=$specs -static" ;;
  esac
  exit 0
fi
if [ "$1" = ldflags ]; then
  file=$("$cc" -print-file-name=libc.a 2>/dev/null)
  case $file in
    /*) [ -f "$file" ] && echo -static ;;
  esac
fi
exit 0
