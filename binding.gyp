{
  # Built by node-gyp on `npm install` (package.json "gypfile": true), offline with the
  # system Node's headers: see native/build-addon.js.
  "targets": [
    {
      # The syscalls Node lacks (src/native/types.ts).
      "target_name": "berth_native",
      "sources": ["native/addon/berth_native.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    },
    {
      # One small process per container: stdio, log, exit status (src/runtime/monitor/protocol.ts).
      "target_name": "berth-monitor",
      "type": "executable",
      "sources": ["native/monitor/monitor.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "ldflags": ["-Wl,--gc-sections", "-s"]
    }
  ]
}
