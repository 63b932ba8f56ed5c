import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

let cached: boolean | undefined;

/**
 * Whether this kernel can run x32-ABI programs (CONFIG_X86_X32_ABI). Without it, seccomp
 * rules for SCMP_ARCH_X32 can never match a working syscall, yet they cost runc ~10 ms
 * of filter building per container. Read once, from /proc/config.gz or else from the x32
 * syscall symbols in /proc/kallsyms; when neither tells, the answer is yes (keep the rules).
 */
export function kernelSupportsX32(): boolean {
  if (cached === undefined) cached = process.arch === 'x64' ? detect() : false;
  return cached;
}

function detect(): boolean {
  try {
    const config = gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
    if (/^CONFIG_X86_X32_ABI=y$/m.test(config)) return true;
    if (/^# CONFIG_X86_X32_ABI is not set$/m.test(config)) return false;
  } catch {
    // no /proc/config.gz (CONFIG_IKCONFIG_PROC off): try the symbols
  }
  try {
    const symbols = readFileSync('/proc/kallsyms', 'latin1');
    if (symbols.length === 0) return true;
    // x32 syscalls enter through __x32_compat_sys_* stubs (4.17+) and x32_sys_call(_table).
    return /__x32_compat_sys_|\bx32_sys_call/.test(symbols);
  } catch {
    return true;
  }
}
