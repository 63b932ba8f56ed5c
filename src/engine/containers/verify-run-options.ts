import * as path from 'node:path';
import { invalidArgument } from '../../errors';
import type { HostConfig } from '../../api/types/containers';
import { ULIMIT_NAMES } from '../../runtime/spec/build-spec';

/**
 * Checks of the run options that reach the OCI spec as they are (sysctls, ulimits, devices).
 * dockerd leaves them to runc, which refuses them at start with a 500; berth refuses them at
 * create with runc's own words and a 400, so a container that cannot start is never made.
 */
export function verifyRunOptions(host: HostConfig): void {
  verifySysctls(host);
  verifyUlimits(host);
  verifyDevices(host);
}

/** Sysctls that live in the IPC namespace (runc's list, plus fs.mqueue.*). */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** runc's validator (libcontainer/configs/validate: sysctl) over berth's namespace choices. */
function verifySysctls(host: HostConfig): void {
  const ipcHost = host.IpcMode === 'host';
  const netHost = host.NetworkMode === 'host';
  const utsHost = host.UTSMode === 'host';
  for (const name of Object.keys(host.Sysctls ?? {})) {
    if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) {
      if (ipcHost) throw invalidArgument(`sysctl "${name}" is not allowed in the hosts ipc namespace`);
      continue;
    }
    if (name.startsWith('net.')) {
      if (netHost) throw invalidArgument(`sysctl "${name}" not allowed in host network namespace`);
      continue;
    }
    if (!utsHost && name === 'kernel.domainname') continue;
    if (!utsHost && name === 'kernel.hostname') throw invalidArgument(`sysctl "${name}" is not allowed as it conflicts with the OCI "hostname" field`);
    throw invalidArgument(`sysctl "${name}" is not in a separate kernel namespace`);
  }
}

/** go-units' ulimit rules (the docker CLI's --ulimit parser), for clients that skip them. */
function verifyUlimits(host: HostConfig): void {
  for (const ulimit of host.Ulimits ?? []) {
    const name = ulimit.Name ?? '';
    if (!ULIMIT_NAMES.has(name)) throw invalidArgument(`invalid ulimit type: ${name}`);
    const soft = ulimit.Soft ?? 0;
    const hard = ulimit.Hard ?? 0;
    if (hard !== -1 && soft > hard) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  }
}

/** The docker CLI's --device checks (opts.ValidateDevice), for clients that skip them. */
function verifyDevices(host: HostConfig): void {
  for (const device of host.Devices ?? []) {
    const onHost = device.PathOnHost ?? '';
    if (!path.isAbsolute(onHost)) throw invalidArgument(`bad format for path: ${onHost}`);
    const inContainer = device.PathInContainer ?? '';
    if (inContainer !== '' && !path.isAbsolute(inContainer)) throw invalidArgument(`bad format for path: ${inContainer}`);
    const mode = device.CgroupPermissions ?? '';
    if (!/^[rwm]{0,3}$/.test(mode) || new Set(mode).size !== mode.length) throw invalidArgument(`bad mode specified: ${mode}`);
  }
}
