#!/usr/bin/env node
'use strict';
// Builds binding.gyp (the addon and berth-monitor) with node-gyp, offline when possible:
// node-gyp downloads Node's headers unless told where they are, so when no nodedir is
// configured and the system Node ships its headers (/usr/include/node), pass --nodedir.
// Usable as package.json's "install" script: `node native/build-addon.js`.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = ['rebuild'];
const nodedirConfigured = Boolean(process.env.npm_config_nodedir) || process.argv.some((a) => a.startsWith('--nodedir'));
const systemNodedir = path.resolve(path.dirname(process.execPath), '..');
if (!nodedirConfigured && fs.existsSync(path.join(systemNodedir, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${systemNodedir}`);
}
args.push(...process.argv.slice(2));

// npm exports its bundled node-gyp as npm_config_node_gyp; otherwise look beside npm, then on PATH.
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
].filter((c) => c && fs.existsSync(c));
const command = candidates.length > 0 ? process.execPath : 'node-gyp';
const argv = candidates.length > 0 ? [candidates[0], ...args] : args;
const result = spawnSync(command, argv, { cwd: root, stdio: 'inherit' });
if (result.error) {
  console.error(`berth: cannot run node-gyp: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
