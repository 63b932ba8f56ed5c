import { createHash, createHmac, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import bcrypt from 'bcryptjs';
import { invalidArgument } from '../../../errors';

/** How long a verified login is remembered (clients in basic mode send it on every request). */
const VERIFIED_TTL_MS = 5 * 60_000;
/** Remembered logins at most; the memory is dropped whole when full. */
const VERIFIED_MAX = 1024;

/**
 * Users of `berth registry serve`, read from an Apache htpasswd-style file: one `user:hash`
 * per line, `#` comments and blank lines ignored. Only bcrypt hashes (`$2y$`, `$2a$`, `$2b$`,
 * as `htpasswd -B` writes) are accepted, as in distribution's htpasswd backend: MD5, SHA1
 * and crypt hashes are weak, so a file holding one is refused with the line that holds it.
 */
export class Htpasswd {
  /**
   * Logins verified lately, so a pull's half-dozen requests cost one bcrypt comparison, not
   * one each (~70 ms of the JS thread at cost 10): keyed by an HMAC of user and password under
   * a key of this instance (no password is kept), with their expiry. Only successes; a
   * reloaded file is a new instance, so a changed password never matches a remembered one.
   */
  private readonly verified = new Map<string, number>();
  private readonly verifiedKey = randomBytes(32);

  private constructor(private readonly hashes: ReadonlyMap<string, string>) {}

  static parse(text: string, source = 'htpasswd'): Htpasswd {
    const hashes = new Map<string, string>();
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === '' || line.startsWith('#')) continue;
      const where = `${source}:${i + 1}`;
      const colon = line.indexOf(':');
      if (colon <= 0) throw invalidArgument(`${where}: expected "user:bcrypt-hash"`);
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1);
      if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
        throw invalidArgument(`${where}: the password of user "${user}" is not a bcrypt hash (create it with \`htpasswd -B\`)`);
      }
      if (hashes.has(user)) throw invalidArgument(`${where}: user "${user}" is listed twice`);
      hashes.set(user, hash);
    }
    return new Htpasswd(hashes);
  }

  static async load(file: string): Promise<Htpasswd> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      throw invalidArgument(`cannot read htpasswd file ${file}: ${(err as Error).message}`, err);
    }
    return Htpasswd.parse(text, file);
  }

  has(user: string): boolean {
    return this.hashes.has(user);
  }

  get users(): string[] {
    return [...this.hashes.keys()];
  }

  /** Changes when the user's password does (refresh tokens carry it); undefined for an unknown user. */
  fingerprint(user: string): string | undefined {
    const hash = this.hashes.get(user);
    return hash === undefined ? undefined : createHash('sha256').update(hash).digest('base64url').slice(0, 22);
  }

  /**
   * True when `password` is the user's. An unknown user still costs one bcrypt comparison,
   * so response times do not tell which user names exist.
   */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.hashes.get(user);
    const key = createHmac('sha256', this.verifiedKey).update(user).update('\0').update(password).digest('base64');
    const until = this.verified.get(key);
    if (hash !== undefined && until !== undefined && until > Date.now()) return true;
    const ok = (await bcrypt.compare(password, hash ?? DUMMY_HASH)) && hash !== undefined;
    if (ok) {
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      this.verified.set(key, Date.now() + VERIFIED_TTL_MS);
    }
    return ok;
  }
}

/** bcrypt (cost 10) of a random string nobody knows; compared against for unknown users. */
const DUMMY_HASH = '$2b$10$ZK90zM8tObCR2moGKbAEI.yb4C.m4PJ/g2WvNHeYJ4YNLZNLnUBhW';

/** One htpasswd line for `user` (bcrypt, cost 10): for tests and for `berth registry` docs. */
export async function htpasswdLine(user: string, password: string, cost = 10): Promise<string> {
  if (user === '' || user.includes(':')) throw invalidArgument(`invalid user name "${user}": it must be non-empty and have no ":"`);
  return `${user}:${await bcrypt.hash(password, cost)}`;
}
