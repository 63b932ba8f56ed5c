import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { monitorBinaryPath } from '../../../src/runtime/monitor/spawn-monitor';

const PT_INTERP = 3;
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const LIBC_FLAGS = path.join(REPO_ROOT, 'native', 'monitor', 'libc-flags.sh');

/** The ELF program header types of a 64-bit little-endian executable's bytes. */
function programHeaderTypes(elf: Buffer): number[] {
  assert.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  return Array.from({ length: phnum }, (_, i) => elf.readUInt32LE(phoff + i * phentsize));
}

function libcFlags(kind: 'cflags' | 'ldflags'): string {
  return execFileSync('sh', [LIBC_FLAGS, kind], { encoding: 'utf8' }).trim();
}

// One monitor starts per container and per exec: the build must keep it static (no dynamic
// loader at each start) and, where musl is installed, off glibc (its start-up costs ~0.6 ms
// more of CPU here, and a monitor ~0.5 MB more of memory).
test('berth-monitor is built as libc-flags.sh says: static where it can be, with musl where the compiler can use it', () => {
  const binary = monitorBinaryPath();
  const elf = fs.readFileSync(binary);
  const ldflags = libcFlags('ldflags');
  const types = programHeaderTypes(elf);
  if (ldflags.includes('-static')) assert.ok(!types.includes(PT_INTERP), `${binary} has a program interpreter: it was linked dynamically`);
  const musl = ldflags.includes('musl-gcc.specs');
  assert.equal(libcFlags('cflags').includes('musl-gcc.specs'), musl);
  const glibcMark = elf.includes('GLIBC_PRIVATE') || elf.includes('GNU C Library');
  if (musl) assert.ok(!glibcMark, `${binary} holds glibc although musl was available`);
});

test('libc-flags.sh without musl: glibc static where libc.a is there, and no musl flags', () => {
  // A PATH without musl-gcc: the wrapper is how the script finds musl's specs.
  const env = { ...process.env, PATH: fs.mkdtempSync('/tmp/berth-nomusl-') };
  try {
    for (const tool of ['sh', 'sed', 'head', 'cc', 'gcc', 'printf']) {
      const found = execFileSync('sh', ['-c', `command -v ${tool} || true`], { encoding: 'utf8' }).trim();
      if (found.startsWith('/')) fs.symlinkSync(found, path.join(env.PATH, tool));
    }
    const run = (kind: string) => execFileSync(path.join(env.PATH, 'sh'), [LIBC_FLAGS, kind], { encoding: 'utf8', env }).trim();
    assert.equal(run('cflags'), '');
    const libcA = execFileSync('cc', ['-print-file-name=libc.a'], { encoding: 'utf8' }).trim();
    assert.equal(run('ldflags'), libcA.startsWith('/') && fs.existsSync(libcA) ? '-static' : '');
  } finally {
    fs.rmSync(env.PATH, { recursive: true, force: true });
  }
});
