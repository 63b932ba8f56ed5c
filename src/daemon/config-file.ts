import { promises as fs } from 'node:fs';
import { invalidArgument, isENOENT, messageOf } from '../errors';
import { validateSettings } from '../registry/client/endpoints';
import type { DaemonConfig } from './config';

/**
 * The daemon's configuration file, dockerd's daemon.json shape: keys berth knows are merged
 * into the flags' config; a key set both as a flag and in the file, an unknown key, or bad
 * JSON stop the daemon with dockerd's wording. A missing default file is fine, a missing
 * `--config-file` is not.
 */
const KNOWN_KEYS = ['registry-mirrors', 'insecure-registries'] as const;

function fail(file: string, message: string): never {
  throw invalidArgument(`unable to configure the Docker daemon with file ${file}: ${message}`);
}

function stringList(file: string, key: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) fail(file, `${key} must be a list of strings`);
  return value;
}

export async function applyConfigFile(config: DaemonConfig): Promise<DaemonConfig> {
  const file = config.configFile.path;
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (isENOENT(err) && !config.configFile.explicit) return withValidRegistry(config);
    fail(file, isENOENT(err) ? `open ${file}: no such file or directory` : messageOf(err));
  }
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    fail(file, messageOf(err));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(file, 'the file must hold a JSON object');
  const values = parsed as Record<string, unknown>;
  const unknown = Object.keys(values).filter((k) => !(KNOWN_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) fail(file, `the following directives don't match any configuration option: ${unknown.join(', ')}`);
  const conflicts: string[] = [];
  const merged = { ...config };
  if (values['registry-mirrors'] !== undefined) {
    const fromFile = stringList(file, 'registry-mirrors', values['registry-mirrors']);
    if (config.registryMirrors.length > 0) conflicts.push(`registry-mirrors: (from flag: [${config.registryMirrors.join(' ')}], from file: [${fromFile.join(' ')}])`);
    merged.registryMirrors = fromFile;
  }
  if (values['insecure-registries'] !== undefined) {
    const fromFile = stringList(file, 'insecure-registries', values['insecure-registries']);
    if (config.insecureRegistries.length > 0) conflicts.push(`insecure-registries: (from flag: [${config.insecureRegistries.join(' ')}], from file: [${fromFile.join(' ')}])`);
    merged.insecureRegistries = fromFile;
  }
  if (conflicts.length > 0) fail(file, `the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`);
  return withValidRegistry(merged);
}

/** Checks mirrors and insecure registries now, so a bad value stops the daemon at start. */
function withValidRegistry(config: DaemonConfig): DaemonConfig {
  const settings = validateSettings({ mirrors: config.registryMirrors, insecureRegistries: config.insecureRegistries });
  return { ...config, registryMirrors: settings.mirrors, insecureRegistries: settings.insecureRegistries };
}
