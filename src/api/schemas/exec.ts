import type { Static } from '@sinclair/typebox';
import type { ExecConfig, ExecStartConfig } from '../types/exec';
import { bodyDecoder, bool, list, str, strings, struct, uint } from './go-json';

const createBody = struct('ExecConfig', {
  User: str(),
  Privileged: bool(),
  Tty: bool(),
  ConsoleSize: list(uint('uint')),
  AttachStdin: bool(),
  AttachStderr: bool(),
  AttachStdout: bool(),
  Detach: bool(),
  DetachKeys: str(),
  Env: strings(),
  WorkingDir: str(),
  Cmd: strings(),
});
const startBody = struct('ExecStartCheck', { Detach: bool(), Tty: bool(), ConsoleSize: list(uint('uint')) });

// Compile-time guard: the schemas list only fields of the wire interfaces (Detach is moby's, unused here).
type Unknown<S, I> = Exclude<keyof S, keyof I | 'Detach'>;
const fieldsExist = <_ extends never>() => undefined;
fieldsExist<Unknown<Static<typeof createBody>, ExecConfig>>();
fieldsExist<Unknown<Static<typeof startBody>, ExecStartConfig>>();

/** POST /containers/{id}/exec */
export const execCreateBody = bodyDecoder<ExecConfig>('ExecConfig', createBody);
/** POST /exec/{id}/start */
export const execStartBody = bodyDecoder<ExecStartConfig>('ExecStartCheck', startBody);
