/*
 * The berth CLI's warm-spare protocol (src/cli/spare/protocol.ts says the same), over a
 * SOCK_STREAM unix socket in a root-only folder:
 *   launcher → spare: one request, with the launcher's fds 0, 1, 2 as SCM_RIGHTS on its
 *     first byte: u32 magic, u32 body length, then the body: u32 argc, u32 envc, u32 umask,
 *     then NUL-terminated strings: cwd, argv[1..argc], envc environment entries.
 *   spare → launcher: 'F' alone when it will not run it (rebuilt since it loaded, another
 *     namespace or root): the launcher runs the command on plain Node;
 *     'P' + u32 pid once it has taken the request (from then on the
 *     command has started: the launcher must not fall back); 'X' + i32 status at the end
 *     (an exit code, or -signal when the command died by a signal).
 * Integers are little-endian (the host's).
 */
#ifndef BERTH_CLI_PROTOCOL_H
#define BERTH_CLI_PROTOCOL_H
#define BERTH_SPARE_MAGIC 0x31427053u /* "SpB1" */
#define BERTH_SPARE_MAX_BODY (4u << 20)
/* The socket is BERTH_SPARE_DIR/<FNV-1a 64 of the install root, hex>.sock (BERTH_CLI_SOCKET overrides). */
#define BERTH_SPARE_DIR "/run/berth-cli"
#endif
