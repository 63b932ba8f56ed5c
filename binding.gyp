{
  # Built by node-gyp on `npm install` (package.json "gypfile": true), offline with the
  # system Node's headers: see native/build-addon.js.
  "targets": [
    {
      # The syscalls Node lacks (src/native/types.ts).
      "target_name": "berth_native",
      "sources": ["native/addon/berth_native.c", "native/addon/sandbox.c", "native/addon/spawn_ready.c", "native/addon/sealed_copy.c", "native/addon/remove_tree.c", "native/addon/blob_hash.c", "native/addon/send_file.c", "native/addon/napi_errors.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    },
    {
      # One small process per container: stdio, log, exit status (src/runtime/monitor/protocol.ts).
      "target_name": "berth-monitor",
      "type": "executable",
      "sources": ["native/monitor/monitor.c"],
      # Static, with musl where the compiler can use it (native/monitor/libc-flags.sh): a
      # smaller process that starts on less CPU than one linked with glibc.
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "<!@(sh native/monitor/libc-flags.sh cflags)"],
      "ldflags": ["-Wl,--gc-sections", "-s", "<!@(sh native/monitor/libc-flags.sh ldflags)"]
    },
    {
      # The berth command's front end: hands a command to a warm CLI process (src/cli/spare).
      "target_name": "berth-cli",
      "type": "executable",
      "sources": ["native/cli/launcher.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "ldflags": ["-Wl,--gc-sections", "-s"]
    },
    {
      # What the warm CLI process needs that Node lacks: accept with SCM_RIGHTS, dup2.
      "target_name": "berth_cli_spare",
      "sources": ["native/cli/spare_addon.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
