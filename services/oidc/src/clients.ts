/**
 * Workload clients of the built-in issuer: who may ask for a token, with which secret, and which
 * identity the token then carries. Secrets are only ever held hashed; comparison is constant-time.
 *
 * File format (YAML or JSON, `oidc.clientsFile`):
 *
 *     clients:
 *       - client_id: ci-runner
 *         secret_hash: "sha256:<hex of SHA-256(secret)>"   # or scrypt:<log2N>:<r>:<p>:<salt b64>:<hash b64>
 *         sub: https://ci.example.internal/pipelines/42
 *       - client_id: alice
 *         secret: "a plain secret, hashed on load"
 *         email: alice@example.com
 *         email_verified: true
 *         audiences: [sigstore]
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isRecord, parseYaml } from '@cairn/shared';
import { OidcError } from './errors.ts';

export const MAX_CLIENTS_FILE_BYTES = 1024 * 1024;
export const MAX_CLIENTS = 10_000;
export const MAX_CLIENT_ID_LENGTH = 128;
export const MAX_SECRET_LENGTH = 1024;
export const MAX_SUBJECT_LENGTH = 1024;
const MAX_SCRYPT_LOG2N = 20;

/** A stored secret: something that can say, in constant time, whether a candidate matches. */
export interface SecretHash {
  matches(candidate: string): boolean;
}

class Sha256Secret implements SecretHash {
  constructor(private readonly hash: Buffer) {}
  matches(candidate: string): boolean {
    return timingSafeEqual(createHash('sha256').update(candidate, 'utf8').digest(), this.hash);
  }
}

class ScryptSecret implements SecretHash {
  constructor(
    private readonly n: number,
    private readonly r: number,
    private readonly p: number,
    private readonly salt: Buffer,
    private readonly hash: Buffer,
  ) {}
  matches(candidate: string): boolean {
    const got = scryptSync(candidate, this.salt, this.hash.length, { N: this.n, r: this.r, p: this.p, maxmem: 256 * 1024 * 1024 });
    return timingSafeEqual(got, this.hash);
  }
}

/** A plain secret as read from a file: kept only as a salted SHA-256 in memory. */
class SaltedSecret implements SecretHash {
  private readonly salt = randomBytes(16);
  private readonly hash: Buffer;
  constructor(secret: string) {
    this.hash = this.digest(secret);
  }
  private digest(s: string): Buffer {
    return createHash('sha256').update(this.salt).update(s, 'utf8').digest();
  }
  matches(candidate: string): boolean {
    return timingSafeEqual(this.digest(candidate), this.hash);
  }
}

export function secretFromPlain(secret: string): SecretHash {
  return new SaltedSecret(secret);
}

/** Parses `sha256:<hex>` or `scrypt:<log2N>:<r>:<p>:<salt b64>:<hash b64>`. */
export function parseSecretHash(text: string): SecretHash {
  const parts = text.split(':');
  if (parts[0] === 'sha256' && parts.length === 2 && /^[0-9a-f]{64}$/.test(parts[1]!)) {
    return new Sha256Secret(Buffer.from(parts[1]!, 'hex'));
  }
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [, logN, r, p, salt, hash] = parts as [string, string, string, string, string, string];
    const ln = Number(logN);
    const rn = Number(r);
    const pn = Number(p);
    const saltBuf = Buffer.from(salt, 'base64');
    const hashBuf = Buffer.from(hash, 'base64');
    if (
      Number.isInteger(ln) && ln >= 10 && ln <= MAX_SCRYPT_LOG2N &&
      Number.isInteger(rn) && rn >= 1 && rn <= 32 &&
      Number.isInteger(pn) && pn >= 1 && pn <= 16 &&
      saltBuf.length >= 8 && hashBuf.length >= 16 && hashBuf.length <= 64
    ) {
      return new ScryptSecret(2 ** ln, rn, pn, saltBuf, hashBuf);
    }
  }
  throw new OidcError('INVALID_CLIENTS_FILE', 'secret_hash must be sha256:<64 hex> or scrypt:<log2N>:<r>:<p>:<salt b64>:<hash b64>');
}

/** Produces a scrypt secret hash line for a clients file. */
export function hashSecret(secret: string, log2n = 15): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, 32, { N: 2 ** log2n, r: 8, p: 1, maxmem: 256 * 1024 * 1024 });
  return `scrypt:${log2n}:8:1:${salt.toString('base64')}:${hash.toString('base64')}`;
}

export interface ClientIdentity {
  /** The `sub` claim: a URI, or (email clients) the email address. */
  sub: string;
  email?: string;
  emailVerified?: boolean;
}

export interface Client {
  clientId: string;
  secret: SecretHash;
  identity: ClientIdentity;
  /** Audiences this client may ask for; undefined means the issuer-wide allow-list. */
  audiences: string[] | undefined;
}

const EMAIL_RE = /^[^\s@]{1,256}@[^\s@]{1,256}$/;

export function isAbsoluteUri(s: string): boolean {
  if (s.length > MAX_SUBJECT_LENGTH || !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) return false;
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

export function isEmail(s: string): boolean {
  return s.length <= MAX_SUBJECT_LENGTH && EMAIL_RE.test(s);
}

function bad(message: string): never {
  throw new OidcError('INVALID_CLIENTS_FILE', message);
}

function str(rec: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = rec[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') bad(`${where}: ${key} must be a non-empty string`);
  return v;
}

/** Validates one client entry of a clients file. */
export function parseClient(raw: unknown, where: string): Client {
  if (!isRecord(raw)) bad(`${where}: a client must be a mapping`);
  const known = new Set(['client_id', 'secret', 'secret_hash', 'sub', 'email', 'email_verified', 'audiences', 'description']);
  for (const k of Object.keys(raw)) if (!known.has(k)) bad(`${where}: unknown key ${k}`);
  const clientId = str(raw, 'client_id', where);
  if (clientId === undefined || clientId.length > MAX_CLIENT_ID_LENGTH || !/^[A-Za-z0-9._~-]+$/.test(clientId)) {
    bad(`${where}: client_id must be 1-${MAX_CLIENT_ID_LENGTH} characters of [A-Za-z0-9._~-]`);
  }
  const plain = str(raw, 'secret', where);
  const hashed = str(raw, 'secret_hash', where);
  if ((plain === undefined) === (hashed === undefined)) bad(`${where}: give exactly one of secret and secret_hash`);
  if (plain !== undefined && plain.length > MAX_SECRET_LENGTH) bad(`${where}: secret is longer than ${MAX_SECRET_LENGTH}`);
  const secret = plain !== undefined ? secretFromPlain(plain) : parseSecretHash(hashed!);
  const sub = str(raw, 'sub', where);
  const email = str(raw, 'email', where);
  let identity: ClientIdentity;
  if (email !== undefined) {
    if (!isEmail(email)) bad(`${where}: email is not an email address`);
    const ev = raw.email_verified;
    if (typeof ev !== 'boolean') bad(`${where}: an email client needs email_verified: true or false`);
    if (sub !== undefined && sub.length > MAX_SUBJECT_LENGTH) bad(`${where}: sub is too long`);
    identity = { sub: sub ?? email, email, emailVerified: ev };
  } else if (sub !== undefined) {
    if (!isAbsoluteUri(sub)) bad(`${where}: sub must be an absolute URI (or give email)`);
    if (raw.email_verified !== undefined) bad(`${where}: email_verified needs email`);
    identity = { sub };
  } else {
    return bad(`${where}: a client needs sub (a URI) or email`);
  }
  let audiences: string[] | undefined;
  if (raw.audiences !== undefined) {
    if (!Array.isArray(raw.audiences) || raw.audiences.length === 0 || !raw.audiences.every((a) => typeof a === 'string' && a !== '' && a.length <= 256)) {
      bad(`${where}: audiences must be a non-empty list of strings`);
    }
    audiences = raw.audiences as string[];
  }
  return { clientId, secret, identity, audiences };
}

/** Parses the text of a clients file (YAML or JSON; a `clients` list or a bare list). */
export function parseClientsFile(text: string, name = 'clients file'): Client[] {
  if (text.length > MAX_CLIENTS_FILE_BYTES) bad(`${name} is larger than ${MAX_CLIENTS_FILE_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return bad(`${name} is not valid YAML or JSON`);
  }
  const list = Array.isArray(doc) ? doc : isRecord(doc) ? doc.clients : undefined;
  if (isRecord(doc)) for (const k of Object.keys(doc)) if (k !== 'clients') bad(`${name}: unknown key ${k}`);
  if (!Array.isArray(list)) bad(`${name} must hold a list of clients`);
  if (list.length > MAX_CLIENTS) bad(`${name} holds more than ${MAX_CLIENTS} clients`);
  const out: Client[] = [];
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const c = parseClient(raw, `${name} client #${i + 1}`);
    if (seen.has(c.clientId)) bad(`${name}: duplicate client_id ${c.clientId}`);
    seen.add(c.clientId);
    out.push(c);
  });
  return out;
}

export function loadClientsFile(path: string): Client[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return bad(`cannot read clients file ${path}`);
  }
  return parseClientsFile(text, path);
}

/** Looks clients up and checks secrets without revealing through timing whether an id exists. */
export class ClientRegistry {
  private readonly byId = new Map<string, Client>();
  private readonly decoy = secretFromPlain(randomBytes(32).toString('hex'));

  constructor(clients: Client[]) {
    for (const c of clients) this.byId.set(c.clientId, c);
  }

  add(client: Client): void {
    this.byId.set(client.clientId, client);
  }

  has(clientId: string): boolean {
    return this.byId.has(clientId);
  }

  get size(): number {
    return this.byId.size;
  }

  authenticate(clientId: string, secret: string): Client | undefined {
    const c = this.byId.get(clientId);
    // Always run one comparison so unknown ids cost the same as wrong secrets.
    const ok = (c?.secret ?? this.decoy).matches(secret);
    return c !== undefined && ok ? c : undefined;
  }
}
