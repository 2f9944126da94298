/**
 * Keys in a PKCS#11 token (an HSM, a smart card, SoftHSM) behind the `Signer` seam, so the code
 * that signs does not change: `Pkcs11Signer.sign()` hashes in process and lets the token make the
 * ECDSA signature (CKM_ECDSA over the digest), returned DER-encoded like `LocalSigner`'s.
 *
 * Keys are named by RFC 7512 `pkcs11:` URIs (token=, object=, id=, slot-id=, type=). A PIN never
 * travels in a URI (`pin-value` is refused) nor in a flag value: callers read it from a file or an
 * environment variable (`readPin`). Keys generated here are CKA_SENSITIVE and not
 * CKA_EXTRACTABLE: the private half never exists outside the token.
 *
 * Binding: pkcs11js (a thin N-API wrapper of the PKCS#11 C API; see README for why not graphene).
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type * as Pkcs11Js from 'pkcs11js';
import { CairnError, SharedError } from './errors.ts';
import { sectionString, type CairnConfig } from './config.ts';
import { PublicKey, digest, type SignatureAlgorithm, type Signer } from './crypto.ts';
import { bitString, integer, oid, readOne, seq } from './der.ts';

export type Pkcs11ErrorCode =
  | 'PKCS11_URI_INVALID'
  | 'PKCS11_MODULE_UNAVAILABLE'
  | 'PKCS11_TOKEN_NOT_FOUND'
  | 'PKCS11_PIN_MISSING'
  | 'PKCS11_PIN_INCORRECT'
  | 'PKCS11_OBJECT_NOT_FOUND'
  | 'PKCS11_OBJECT_EXISTS'
  | 'PKCS11_UNSUPPORTED_KEY'
  | 'PKCS11_DEVICE_ERROR';

/**
 * A token that is gone, a module that does not load, a PIN that no longer works: the service is
 * unavailable (503), not the request wrong. URI and object errors are configuration (400 from a
 * command; a service refuses to start with them).
 */
const UNAVAILABLE: ReadonlySet<Pkcs11ErrorCode> = new Set(['PKCS11_DEVICE_ERROR', 'PKCS11_TOKEN_NOT_FOUND', 'PKCS11_MODULE_UNAVAILABLE', 'PKCS11_PIN_INCORRECT']);

export class Pkcs11Error extends CairnError<Pkcs11ErrorCode> {
  constructor(code: Pkcs11ErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, { status: options.status ?? (UNAVAILABLE.has(code) ? 503 : 400), cause: options.cause });
    this.name = 'Pkcs11Error';
  }
}

/** Longest `pkcs11:` URI accepted. */
export const MAX_PKCS11_URI_CHARS = 1024;
/** Largest PIN file read. */
export const MAX_PIN_FILE_BYTES = 256;
const MAX_OBJECTS_SCANNED = 64;

export interface Pkcs11Uri {
  token?: string;
  object?: string;
  id?: Buffer;
  slotId?: number;
  type?: 'private' | 'public';
}

const PATH_ATTRS = new Set(['token', 'object', 'id', 'slot-id', 'type', 'manufacturer', 'model', 'serial', 'library-manufacturer', 'library-description', 'library-version', 'slot-manufacturer', 'slot-description']);
const QUERY_ATTRS = new Set(['pin-source', 'module-name', 'module-path']);

/** RFC 7512 §2.3 percent-decoding, byte by byte (linear; no RegExp built from input). */
function pctDecode(s: string, what: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Pkcs11Error('PKCS11_URI_INVALID', `bad percent-encoding in ${what}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(out);
}

/** Parses an RFC 7512 PKCS#11 URI naming one key. Unknown attributes and `pin-value` are refused. */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (uri.length > MAX_PKCS11_URI_CHARS) throw new Pkcs11Error('PKCS11_URI_INVALID', 'pkcs11 URI is too long');
  if (!uri.startsWith('pkcs11:')) throw new Pkcs11Error('PKCS11_URI_INVALID', 'not a pkcs11: URI');
  const body = uri.slice('pkcs11:'.length);
  const q = body.indexOf('?');
  const path = q < 0 ? body : body.slice(0, q);
  const query = q < 0 ? '' : body.slice(q + 1);
  const out: Pkcs11Uri = {};
  const seen = new Set<string>();
  const each = (part: string, sep: string, allowed: Set<string>): void => {
    if (part === '') return;
    for (const attr of part.split(sep)) {
      const eq = attr.indexOf('=');
      const name = eq < 0 ? attr : attr.slice(0, eq);
      const value = eq < 0 ? '' : attr.slice(eq + 1);
      if (name === 'pin-value') throw new Pkcs11Error('PKCS11_URI_INVALID', 'a PIN never goes in a URI: use a PIN file or environment variable');
      if (!allowed.has(name)) throw new Pkcs11Error('PKCS11_URI_INVALID', `unknown pkcs11 URI attribute ${JSON.stringify(name.slice(0, 32))}`);
      if (seen.has(name)) throw new Pkcs11Error('PKCS11_URI_INVALID', `pkcs11 URI attribute ${name} given twice`);
      seen.add(name);
      const v = pctDecode(value, name);
      if (name === 'token') out.token = v.toString('utf8');
      else if (name === 'object') out.object = v.toString('utf8');
      else if (name === 'id') out.id = v;
      else if (name === 'slot-id') {
        const s = v.toString('ascii');
        if (!/^\d{1,9}$/.test(s)) throw new Pkcs11Error('PKCS11_URI_INVALID', 'slot-id must be a number');
        out.slotId = Number(s);
      } else if (name === 'type') {
        const t = v.toString('ascii');
        if (t !== 'private' && t !== 'public') throw new Pkcs11Error('PKCS11_URI_INVALID', 'type must be private or public');
        out.type = t;
      }
    }
  };
  each(path, ';', PATH_ATTRS);
  each(query, '&', QUERY_ATTRS);
  if (out.token === undefined && out.slotId === undefined) throw new Pkcs11Error('PKCS11_URI_INVALID', 'the URI must name a token (token=) or a slot (slot-id=)');
  if (out.object === undefined && out.id === undefined) throw new Pkcs11Error('PKCS11_URI_INVALID', 'the URI must name a key (object= or id=)');
  return out;
}

/** The PIN from a file (first line) or an environment variable; never from a flag value. */
export function readPin(o: { pinFile?: string; pinEnv?: string; env: Record<string, string | undefined> }): string {
  if (o.pinFile !== undefined) {
    let size: number;
    try {
      size = statSync(o.pinFile).size;
    } catch {
      throw new Pkcs11Error('PKCS11_PIN_MISSING', `cannot read PIN file ${o.pinFile}`);
    }
    if (size > MAX_PIN_FILE_BYTES) throw new Pkcs11Error('PKCS11_PIN_MISSING', 'the PIN file is too large');
    const pin = readFileSync(o.pinFile, 'utf8').split(/\r?\n/)[0] ?? '';
    if (pin === '') throw new Pkcs11Error('PKCS11_PIN_MISSING', 'the PIN file is empty');
    return pin;
  }
  if (o.pinEnv !== undefined) {
    const pin = o.env[o.pinEnv];
    if (pin === undefined || pin === '') throw new Pkcs11Error('PKCS11_PIN_MISSING', `environment variable ${o.pinEnv} is not set`);
    return pin;
  }
  throw new Pkcs11Error('PKCS11_PIN_MISSING', 'a PKCS#11 key needs a PIN: give a PIN file or an environment variable');
}

type Lib = typeof Pkcs11Js;
let lib: Lib | undefined;
function binding(): Lib {
  if (!lib) {
    try {
      lib = createRequire(import.meta.url)('pkcs11js') as Lib;
    } catch (e) {
      throw new Pkcs11Error('PKCS11_MODULE_UNAVAILABLE', 'the pkcs11js binding is not installed or not built', { cause: e });
    }
  }
  return lib;
}

/** One loaded and initialised PKCS#11 module per path (C_Initialize may run once per process). */
const modules = new Map<string, Pkcs11Js.PKCS11>();

function moduleFor(path: string): Pkcs11Js.PKCS11 {
  const have = modules.get(path);
  if (have) return have;
  const p = new (binding().PKCS11)();
  try {
    p.load(path);
    p.C_Initialize();
  } catch (e) {
    throw new Pkcs11Error('PKCS11_MODULE_UNAVAILABLE', `cannot load the PKCS#11 module ${path}`, { cause: e });
  }
  modules.set(path, p);
  return p;
}

/** When each module was last re-initialised (a returned token shows only after C_Initialize). */
const reinitialisedAt = new Map<string, number>();
/** The open signers per module path: re-initialising a module re-opens all of them. */
const liveSigners = new Map<string, Set<Pkcs11Signer>>();

/**
 * C_Finalize and C_Initialize again, so the module sees a token that came back (SoftHSM2, like
 * many modules, lists tokens only at C_Initialize). Every session of the module ends: only done
 * when no signer of the module has an operation in flight, at most once per
 * RECONNECT_INTERVAL_MS, and every other open signer is re-opened right after.
 */
function reinitialiseModule(path: string, except: Pkcs11Signer, now: number): boolean {
  const p11 = modules.get(path);
  const signers = liveSigners.get(path) ?? new Set<Pkcs11Signer>();
  if (!p11 || now - (reinitialisedAt.get(path) ?? 0) < RECONNECT_INTERVAL_MS) return false;
  if ([...signers].some((x) => x !== except && x.busy)) return false;
  reinitialisedAt.set(path, now);
  try {
    p11.C_Finalize();
  } catch {
    // Already broken; initialising again is the point.
  }
  try {
    p11.C_Initialize();
  } catch (e) {
    modules.delete(path);
    throw new Pkcs11Error('PKCS11_MODULE_UNAVAILABLE', `cannot initialise the PKCS#11 module ${path} again`, { cause: e });
  }
  for (const x of signers) if (x !== except) x.reopenAfterReinit();
  return true;
}

function ckr(e: unknown): number | undefined {
  return typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
}

/** Maps a Cryptoki failure to a stable code; the token's own message stays in `cause`. */
function wrap(e: unknown, what: string): Pkcs11Error {
  if (e instanceof Pkcs11Error) return e;
  const L = binding();
  const code = ckr(e);
  if (code === L.CKR_PIN_INCORRECT || code === L.CKR_PIN_LEN_RANGE) return new Pkcs11Error('PKCS11_PIN_INCORRECT', `${what}: the PIN is incorrect`, { cause: e });
  if (code === L.CKR_PIN_LOCKED) return new Pkcs11Error('PKCS11_PIN_INCORRECT', `${what}: the PIN is locked`, { cause: e });
  return new Pkcs11Error('PKCS11_DEVICE_ERROR', `${what}: the token failed (${e instanceof Error ? e.message.split('\n')[0] : 'unknown error'})`, { cause: e });
}

function label(b: Buffer | string): string {
  return (typeof b === 'string' ? b : b.toString('utf8')).replace(/[\s\0]+$/, '');
}

/** An open, logged-in session on the token a URI names. */
export class Pkcs11Session {
  readonly p11: Pkcs11Js.PKCS11;
  readonly session: Buffer;
  private closed = false;

  private constructor(p11: Pkcs11Js.PKCS11, session: Buffer) {
    this.p11 = p11;
    this.session = session;
  }

  static open(modulePath: string, uri: Pkcs11Uri, pin: string): Pkcs11Session {
    const p11 = moduleFor(modulePath);
    const L = binding();
    let slot: Buffer | undefined;
    try {
      for (const s of p11.C_GetSlotList(true)) {
        let info: Pkcs11Js.TokenInfo;
        try {
          info = p11.C_GetTokenInfo(s);
        } catch {
          // A slot whose token went away (SoftHSM keeps the slot): it names no token we can open.
          continue;
        }
        const id = s.length <= 6 ? s.readUIntLE(0, s.length) : undefined;
        if (uri.slotId !== undefined && id !== uri.slotId) continue;
        if (uri.token !== undefined && label(info.label) !== uri.token) continue;
        slot = s;
        break;
      }
    } catch (e) {
      throw wrap(e, 'listing tokens');
    }
    if (!slot) throw new Pkcs11Error('PKCS11_TOKEN_NOT_FOUND', `no token ${uri.token !== undefined ? JSON.stringify(uri.token) : `in slot ${uri.slotId}`} in ${modulePath}`);
    let session: Buffer;
    try {
      session = p11.C_OpenSession(slot, L.CKF_SERIAL_SESSION | L.CKF_RW_SESSION);
    } catch (e) {
      throw wrap(e, 'opening a session');
    }
    try {
      p11.C_Login(session, L.CKU_USER, pin);
    } catch (e) {
      if (ckr(e) !== L.CKR_USER_ALREADY_LOGGED_IN) {
        p11.C_CloseSession(session);
        throw wrap(e, 'logging in');
      }
    }
    return new Pkcs11Session(p11, session);
  }

  find(cls: number, uri: Pkcs11Uri): Buffer[] {
    const L = binding();
    const tmpl: Pkcs11Js.Template = [{ type: L.CKA_CLASS, value: cls }];
    if (uri.object !== undefined) tmpl.push({ type: L.CKA_LABEL, value: uri.object });
    if (uri.id !== undefined) tmpl.push({ type: L.CKA_ID, value: uri.id });
    try {
      this.p11.C_FindObjectsInit(this.session, tmpl);
      const found = this.p11.C_FindObjects(this.session, MAX_OBJECTS_SCANNED);
      this.p11.C_FindObjectsFinal(this.session);
      return found;
    } catch (e) {
      throw wrap(e, 'searching the token');
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.p11.C_CloseSession(this.session);
    } catch {
      // The token may be gone; nothing is left to release on our side.
    }
  }
}

const EC_PUBLIC_KEY_OID = '1.2.840.10045.2.1';
const CURVES: Record<string, { oid: string; algorithm: SignatureAlgorithm; size: number }> = {
  'ecdsa-p256': { oid: '1.2.840.10045.3.1.7', algorithm: 'ecdsa-p256-sha256', size: 32 },
  'ecdsa-p384': { oid: '1.3.132.0.34', algorithm: 'ecdsa-p384-sha384', size: 48 },
};

/** SPKI from CKA_EC_PARAMS (the curve OID) and CKA_EC_POINT (an OCTET STRING holding the point). */
function spkiOf(ecParams: Buffer, ecPoint: Buffer): Buffer {
  let point = ecPoint;
  const first = readOne(ecPoint);
  if (first.tag === 0x04 && first.end === ecPoint.length && (first.value[0] === 0x04 || first.value.length % 2 === 1)) point = first.value;
  return seq(seq(oid(EC_PUBLIC_KEY_OID), ecParams), bitString(point));
}

function curveOf(ecParams: Buffer): { algorithm: SignatureAlgorithm; size: number } {
  for (const c of Object.values(CURVES)) if (oid(c.oid).equals(ecParams)) return c;
  throw new Pkcs11Error('PKCS11_UNSUPPORTED_KEY', 'the token key is not on P-256 or P-384');
}

/** Raw r||s (PKCS#11 CKM_ECDSA output) as a DER ECDSA-Sig-Value. */
function rawToDer(raw: Buffer, size: number): Buffer {
  if (raw.length !== 2 * size) throw new Pkcs11Error('PKCS11_DEVICE_ERROR', 'the token returned a signature of the wrong size');
  return seq(integer(raw.subarray(0, size)), integer(raw.subarray(size)));
}

/** How often `health()` asks the token again (a cached answer in between keeps /readyz cheap). */
export const HEALTH_PROBE_INTERVAL_MS = 1_000;
/** How often a signer whose token failed tries to open its key again (and its module re-initialises). */
export const RECONNECT_INTERVAL_MS = 2_000;

/**
 * A private key in a token. Operations on one session are serialised (PKCS#11 sessions are not
 * for concurrent use); a token that went away turns into PKCS11_DEVICE_ERROR (HTTP 503), never a
 * crash, and `health()` reports it so a service using the key is not ready. Once the token is
 * back the signer opens the same key again by itself (only if the URI still names the public key
 * it started with) and is ready again, without a restart.
 */
export class Pkcs11Signer implements Signer {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: PublicKey;
  readonly uri: string;
  private s: Pkcs11Session;
  private key: Buffer;
  private readonly size: number;
  /** Where to open the key again after a token failure (the PIN stays in memory, never logged). */
  private readonly reopenWith: { modulePath: string; pin: string };
  private reconnectAt = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the last operation or probe failed; undefined while the token answers. */
  private failure: string | undefined;
  private probedAt = 0;
  private closed = false;

  private constructor(s: Pkcs11Session, key: Buffer, publicKey: PublicKey, algorithm: SignatureAlgorithm, size: number, uri: string, reopenWith: { modulePath: string; pin: string }) {
    this.s = s;
    this.key = key;
    this.publicKey = publicKey;
    this.algorithm = algorithm;
    this.size = size;
    this.uri = uri;
    this.reopenWith = reopenWith;
    let set = liveSigners.get(reopenWith.modulePath);
    if (!set) liveSigners.set(reopenWith.modulePath, (set = new Set()));
    set.add(this);
  }

  /** The session and private key handle of the key a URI names, with its SPKI. */
  private static find(modulePath: string, uriText: string, pin: string): { s: Pkcs11Session; key: Buffer; params: Buffer; spki: Buffer } {
    const uri = parsePkcs11Uri(uriText);
    const s = Pkcs11Session.open(modulePath, uri, pin);
    try {
      const L = binding();
      const priv = s.find(L.CKO_PRIVATE_KEY, uri);
      const pub = s.find(L.CKO_PUBLIC_KEY, uri);
      if (priv.length === 0) throw new Pkcs11Error('PKCS11_OBJECT_NOT_FOUND', `no private key ${uriText} in the token`);
      if (priv.length > 1) throw new Pkcs11Error('PKCS11_URI_INVALID', `${uriText} names ${priv.length} private keys; add id= or object=`);
      if (pub.length !== 1) throw new Pkcs11Error('PKCS11_OBJECT_NOT_FOUND', `no single public key beside ${uriText}`);
      let attrs: Pkcs11Js.TemplateResult;
      try {
        attrs = s.p11.C_GetAttributeValue(s.session, pub[0]!, [{ type: L.CKA_EC_PARAMS }, { type: L.CKA_EC_POINT }]);
      } catch (e) {
        throw new Pkcs11Error('PKCS11_UNSUPPORTED_KEY', `${uriText} is not an EC key`, { cause: e });
      }
      const params = attrs[0]!.value;
      return { s, key: priv[0]!, params, spki: spkiOf(params, attrs[1]!.value) };
    } catch (e) {
      s.close();
      throw e;
    }
  }

  /** Opens the key a URI names. `algorithm` overrides the curve's default (TUF signs P-384 with SHA-256). */
  static open(o: { modulePath: string; uri: string; pin: string; algorithm?: SignatureAlgorithm }): Pkcs11Signer {
    const found = Pkcs11Signer.find(o.modulePath, o.uri, o.pin);
    try {
      const curve = curveOf(found.params);
      const algorithm = o.algorithm ?? curve.algorithm;
      return new Pkcs11Signer(found.s, found.key, PublicKey.fromSpki(found.spki, algorithm), algorithm, curve.size, o.uri, { modulePath: o.modulePath, pin: o.pin });
    } catch (e) {
      found.s.close();
      throw e;
    }
  }

  /** Whether an operation is queued or running on the session. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /**
   * Opens the key again on a new session (the token came back): the same URI must name the same
   * public key, or the signer stays failed (a different key must never sign for the certificate
   * built around this one).
   */
  private reopen(): void {
    const found = Pkcs11Signer.find(this.reopenWith.modulePath, this.uri, this.reopenWith.pin);
    if (!found.spki.equals(this.publicKey.spki)) {
      found.s.close();
      throw new Pkcs11Error('PKCS11_OBJECT_NOT_FOUND', `${this.uri} names another key than the one this service started with`);
    }
    this.s.close();
    this.s = found.s;
    this.key = found.key;
    this.failure = undefined;
  }

  /** After the module was re-initialised by another signer: every session is gone, open a new one. */
  reopenAfterReinit(): void {
    if (this.closed) return;
    try {
      this.reopen();
    } catch (e) {
      this.failure = wrap(e, `the key ${this.uri}`).message;
    }
  }

  /**
   * A failed signer tries, at most once per RECONNECT_INTERVAL_MS, to open its key again: first
   * on a new session; when the token is not listed any more, after re-initialising the module.
   */
  private tryReconnect(now: number): void {
    if (this.closed || now - this.reconnectAt < RECONNECT_INTERVAL_MS) return;
    this.reconnectAt = now;
    try {
      this.reopen();
    } catch (first) {
      const code = first instanceof Pkcs11Error ? first.code : undefined;
      if (code !== 'PKCS11_TOKEN_NOT_FOUND' && code !== 'PKCS11_DEVICE_ERROR') {
        this.failure = wrap(first, `the key ${this.uri}`).message;
        return;
      }
      try {
        if (reinitialiseModule(this.reopenWith.modulePath, this, now)) this.reopen();
      } catch (e) {
        this.failure = wrap(e, `the key ${this.uri}`).message;
      }
    }
  }

  /** Operations queued or running on the session. */
  private pending = 0;

  /** Runs `op` after every operation queued before it (one session, one operation at a time). */
  private serialise<T>(op: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = (): Promise<T> => op().finally(() => this.pending--);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  sign(data: Uint8Array): Promise<Buffer> {
    return this.serialise(async (): Promise<Buffer> => {
      const hash = this.algorithm === 'ecdsa-p384-sha384' ? 'sha384' : this.algorithm === 'ecdsa-p256-sha256' ? 'sha256' : undefined;
      if (!hash) throw new Pkcs11Error('PKCS11_UNSUPPORTED_KEY', `${this.algorithm} is not an ECDSA algorithm`);
      if (this.closed) throw new Pkcs11Error('PKCS11_DEVICE_ERROR', `signing with ${this.uri}: the session is closed`);
      if (this.failure !== undefined) this.tryReconnect(Date.now());
      const L = binding();
      try {
        this.s.p11.C_SignInit(this.s.session, { mechanism: L.CKM_ECDSA }, this.key);
        const raw = await this.s.p11.C_SignAsync(this.s.session, digest(hash, data), Buffer.alloc(2 * this.size));
        this.failure = undefined;
        return rawToDer(raw, this.size);
      } catch (e) {
        const err = wrap(e, `signing with ${this.uri}`);
        if (err.code === 'PKCS11_DEVICE_ERROR' || err.code === 'PKCS11_PIN_INCORRECT') this.failure = err.message;
        throw err;
      }
    });
  }

  /**
   * Whether the key still answers: the last failure, refreshed by a probe (reading the key's
   * CKA_SIGN attribute through the session) at most once per HEALTH_PROBE_INTERVAL_MS.
   * Synchronous for /readyz: an idle session is probed on the spot; a busy one answers from the
   * last probe and queues the next behind the signatures, so a pulled token shows at once when
   * idle and within about a second under load. A failed key is not probed but opened again
   * (`tryReconnect`), so the answer turns ok within a few seconds of the token coming back.
   */
  health(now: number = Date.now()): { ok: boolean; reason?: string; code?: Pkcs11ErrorCode } {
    if (!this.closed && now - this.probedAt >= HEALTH_PROBE_INTERVAL_MS) {
      this.probedAt = now;
      const probe = (): void => {
        if (this.failure !== undefined) return this.tryReconnect(now);
        try {
          this.s.p11.C_GetAttributeValue(this.s.session, this.key, [{ type: binding().CKA_SIGN }]);
          this.failure = undefined;
        } catch (e) {
          this.failure = wrap(e, `the key ${this.uri}`).message;
        }
      };
      // An idle session is probed at once (nothing else uses it); a busy one after its queue.
      if (this.pending === 0) probe();
      else
        void this.serialise(() => {
          probe();
          return Promise.resolve();
        });
    }
    if (this.closed) return { ok: false, code: 'PKCS11_DEVICE_ERROR', reason: `the session on ${this.uri} is closed` };
    return this.failure === undefined ? { ok: true } : { ok: false, code: 'PKCS11_DEVICE_ERROR', reason: `${this.failure}; the service reconnects by itself once the token (and this key in it) is back` };
  }

  /** Waits for queued operations (and the probe `health()` started) to finish. */
  async settled(): Promise<void> {
    await this.queue;
  }

  /** Closes the session once the operations already queued have finished. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    liveSigners.get(this.reopenWith.modulePath)?.delete(this);
    void this.serialise(() => {
      this.s.close();
      return Promise.resolve();
    });
  }
}

/**
 * Generates an EC key pair in the token: private half CKA_SENSITIVE, not CKA_EXTRACTABLE, only for
 * signing. Refuses (PKCS11_OBJECT_EXISTS) when the URI's label or id is already taken.
 */
export function generatePkcs11Key(o: { modulePath: string; uri: string; pin: string; type?: 'ecdsa-p256' | 'ecdsa-p384' }): Pkcs11Signer {
  const uri = parsePkcs11Uri(o.uri);
  if (uri.object === undefined) throw new Pkcs11Error('PKCS11_URI_INVALID', 'name the new key with object= (a label)');
  const curve = CURVES[o.type ?? 'ecdsa-p256']!;
  const s = Pkcs11Session.open(o.modulePath, uri, o.pin);
  try {
    const L = binding();
    if (s.find(L.CKO_PRIVATE_KEY, { object: uri.object }).length > 0 || (uri.id !== undefined && s.find(L.CKO_PRIVATE_KEY, { id: uri.id }).length > 0)) {
      throw new Pkcs11Error('PKCS11_OBJECT_EXISTS', `the token already holds a key ${uri.object}`);
    }
    const id = uri.id ?? randomBytes(16);
    try {
      s.p11.C_GenerateKeyPair(
        s.session,
        { mechanism: L.CKM_EC_KEY_PAIR_GEN },
        [
          { type: L.CKA_TOKEN, value: true },
          { type: L.CKA_VERIFY, value: true },
          { type: L.CKA_LABEL, value: uri.object },
          { type: L.CKA_ID, value: id },
          { type: L.CKA_EC_PARAMS, value: oid(curve.oid) },
        ],
        [
          { type: L.CKA_TOKEN, value: true },
          { type: L.CKA_PRIVATE, value: true },
          { type: L.CKA_SENSITIVE, value: true },
          { type: L.CKA_EXTRACTABLE, value: false },
          { type: L.CKA_SIGN, value: true },
          { type: L.CKA_LABEL, value: uri.object },
          { type: L.CKA_ID, value: id },
        ],
      );
    } catch (e) {
      throw wrap(e, 'generating a key');
    }
  } finally {
    s.close();
  }
  return Pkcs11Signer.open({ modulePath: o.modulePath, uri: o.uri, pin: o.pin });
}

/** Which of these labels already name a private or public key in the token a URI names. */
export function existingLabels(o: { modulePath: string; uri: string; pin: string; labels: readonly string[] }): string[] {
  const s = Pkcs11Session.open(o.modulePath, parsePkcs11Uri(o.uri), o.pin);
  try {
    const L = binding();
    return o.labels.filter((object) => s.find(L.CKO_PRIVATE_KEY, { object }).length > 0 || s.find(L.CKO_PUBLIC_KEY, { object }).length > 0);
  } finally {
    s.close();
  }
}

/** Destroys the key pair a URI names (the undo of a ceremony step that failed half-way). */
export function destroyPkcs11Key(o: { modulePath: string; uri: string; pin: string }): number {
  const uri = parsePkcs11Uri(o.uri);
  const s = Pkcs11Session.open(o.modulePath, uri, o.pin);
  try {
    const L = binding();
    const objects = [...s.find(L.CKO_PRIVATE_KEY, uri), ...s.find(L.CKO_PUBLIC_KEY, uri)];
    for (const h of objects) {
      try {
        s.p11.C_DestroyObject(s.session, h);
      } catch (e) {
        throw wrap(e, `destroying ${o.uri}`);
      }
    }
    return objects.length;
  } finally {
    s.close();
  }
}

/** Whether a private key in the token can be read out (false for keys made by generatePkcs11Key). */
export function isExtractable(signer: Pkcs11Signer): boolean {
  const L = binding();
  const s = (signer as unknown as { s: Pkcs11Session; key: Buffer });
  const r = s.s.p11.C_GetAttributeValue(s.s.session, s.key, [{ type: L.CKA_EXTRACTABLE }, { type: L.CKA_SENSITIVE }]);
  return r[0]!.value[0] === 1 || r[1]!.value[0] === 0;
}

/**
 * Gives the key pair a URI names (its `object=` label) another label: the private and the public
 * object both. Returns how many objects were relabelled (2 for one key pair, 0 when none has the
 * label). For operators' own labels and tests; `cairn hsm init` and rotations set labels themselves.
 */
export function relabelPkcs11Key(o: { modulePath: string; uri: string; pin: string; label: string }): number {
  const u = parsePkcs11Uri(o.uri);
  if (u.object === undefined) throw new Pkcs11Error('PKCS11_URI_INVALID', 'relabelling needs the key\'s label (object=) in the URI');
  if (o.label === '' || Buffer.byteLength(o.label) > 128) throw new Pkcs11Error('PKCS11_URI_INVALID', 'a label is 1 to 128 bytes');
  const s = Pkcs11Session.open(o.modulePath, u, o.pin);
  try {
    return relabel(s, u.object, o.label);
  } finally {
    s.close();
  }
}

/** Sets CKA_LABEL of every private and public key object labelled `from` to `to`. */
function relabel(s: Pkcs11Session, from: string, to: string): number {
  const L = binding();
  const objects = [...s.find(L.CKO_PRIVATE_KEY, { object: from }), ...s.find(L.CKO_PUBLIC_KEY, { object: from })];
  for (const h of objects) {
    try {
      s.p11.C_SetAttributeValue(s.session, h, [{ type: L.CKA_LABEL, value: to }]);
    } catch (e) {
      throw wrap(e, `relabelling ${from}`);
    }
  }
  return objects.length;
}

/**
 * A key rotation inside a token, for the CA intermediate and the TSA signing key (their roots in
 * the same token): the root and the current key, the new key generated in the token under a
 * staging label, and the switch (`commit`) that gives the new key the service label and the old
 * one a retired label, so a service restarted on the same settings signs with the new key. Until
 * `commit` nothing the services use changes; `abort` undoes everything (the staged key destroyed,
 * labels restored).
 */
export interface TokenKeyRotation {
  readonly root: Pkcs11Signer;
  readonly current: Pkcs11Signer;
  /** The service URI (its label moves to the new key at commit). */
  readonly uri: string;
  /** The URI of the retiring key after commit. */
  readonly retiredUri: string;
  /** Generates the new key in the token (sensitive, not extractable) under the staging label. */
  generate(type: 'ecdsa-p256' | 'ecdsa-p384'): Pkcs11Signer;
  /** Relabels: the current key to its retired label, the new key to the service label. */
  commit(): void;
  /** Undoes commit (if done) and destroys the new key (if made). Never throws. */
  abort(): void;
  /** Closes the sessions. */
  close(): void;
}

/**
 * The label a rotation moves: the service's default (`cairn hsm init`), or the `object=` of the
 * URI the service is configured with (`ca.pkcs11Key`, `tsa.pkcs11Key`), which must name a key by
 * label in the rotation's token.
 */
function rotationLabel(p: Pkcs11Settings, role: ServiceKeyRole, keyUri: string | undefined): string {
  if (keyUri === undefined) return SERVICE_KEY_LABELS[role];
  const u = parsePkcs11Uri(keyUri);
  if (u.object === undefined) throw new Pkcs11Error('PKCS11_URI_INVALID', `${keyUri} names no label (object=): a rotation moves the label to the new key`);
  if (u.token !== p.token) throw new Pkcs11Error('PKCS11_URI_INVALID', `${keyUri} is not in token ${p.token} (--pkcs11-token), where the rotation runs`);
  // The new key gets the label, not the old key's CKA_ID: a URI pinning the id would keep naming the retired key.
  if (u.id !== undefined) throw new Pkcs11Error('PKCS11_URI_INVALID', `${keyUri} names the key by id=: a rotation moves the label (object=), so name the key by its label only`);
  return u.object;
}

/**
 * Opens the root and the current key of a service role for a rotation (`cairn ca
 * rotate-intermediate`, `cairn tsa rotate-signing` with --pkcs11-module). Refuses before anything
 * changes: PKCS11_OBJECT_NOT_FOUND when the root or the current key is missing, PKCS11_OBJECT_EXISTS
 * when a staged key of an interrupted rotation is still in the token.
 */
export function openTokenRotation(p: Pkcs11Settings, rootRole: ServiceKeyRole, role: ServiceKeyRole, keyUri?: string): TokenKeyRotation {
  const name = rotationLabel(p, role, keyUri);
  const stagedLabel = `${name}-next`;
  const tokenUri = (object: string): string => `pkcs11:token=${encodeURIComponent(p.token)};object=${encodeURIComponent(object)}`;
  const root = openServiceKey(p, rootRole);
  let current: Pkcs11Signer;
  try {
    current = openServiceKey(p, role, keyUri);
  } catch (e) {
    root.close();
    throw e;
  }
  const retiredLabel = `${name}-retired-${current.publicKey.keyId.subarray(0, 8).toString('hex')}`;
  const opened = [root, current];
  const close = (): void => {
    for (const s of opened) s.close();
  };
  try {
    const taken = existingLabels({ modulePath: p.modulePath, uri: tokenUri(name), pin: p.pin, labels: [stagedLabel, retiredLabel] });
    if (taken.includes(stagedLabel)) {
      throw new Pkcs11Error('PKCS11_OBJECT_EXISTS', `token ${p.token} holds ${stagedLabel}, left by an interrupted rotation; destroy it with the token's own tools and rotate again`);
    }
    if (taken.length > 0) throw new Pkcs11Error('PKCS11_OBJECT_EXISTS', `token ${p.token} already holds ${retiredLabel}`);
  } catch (e) {
    close();
    throw e;
  }
  let made: Pkcs11Signer | undefined;
  let committed = 0;
  const withSession = <T>(fn: (s: Pkcs11Session) => T): T => {
    const s = Pkcs11Session.open(p.modulePath, parsePkcs11Uri(tokenUri(name)), p.pin);
    try {
      return fn(s);
    } finally {
      s.close();
    }
  };
  return {
    root,
    current,
    uri: tokenUri(name),
    retiredUri: tokenUri(retiredLabel),
    generate(type) {
      if (made) throw new Pkcs11Error('PKCS11_OBJECT_EXISTS', 'the new key is already made');
      made = generatePkcs11Key({ modulePath: p.modulePath, uri: tokenUri(stagedLabel), pin: p.pin, type });
      opened.push(made);
      if (isExtractable(made)) throw new Pkcs11Error('PKCS11_UNSUPPORTED_KEY', `the token made ${stagedLabel} extractable; refusing to use it`);
      return made;
    },
    commit() {
      if (!made) throw new Pkcs11Error('PKCS11_OBJECT_NOT_FOUND', 'no new key to switch to');
      withSession((s) => {
        committed = 1;
        if (relabel(s, name, retiredLabel) !== 2) throw new Pkcs11Error('PKCS11_OBJECT_NOT_FOUND', `${name} is not one key pair in token ${p.token}`);
        committed = 2;
        if (relabel(s, stagedLabel, name) !== 2) throw new Pkcs11Error('PKCS11_OBJECT_NOT_FOUND', `${stagedLabel} is not one key pair in token ${p.token}`);
        committed = 3;
      });
    },
    abort() {
      try {
        withSession((s) => {
          if (committed >= 2) relabel(s, name, stagedLabel);
          if (committed >= 1) relabel(s, retiredLabel, name);
        });
        committed = 0;
        if (made) {
          made.close();
          destroyPkcs11Key({ modulePath: p.modulePath, uri: tokenUri(stagedLabel), pin: p.pin });
          made = undefined;
        }
      } catch {
        // The original error is reported; the token may be gone (the staged label says what is left).
      }
    },
    close,
  };
}


/** Settings of the `pkcs11` config section; any other key is refused. */
export const PKCS11_SECTION_KEYS: readonly string[] = ['module', 'token', 'pinFile', 'pinEnv'];
/** The environment variable the PIN is read from when neither pinFile nor pinEnv is set. */
export const DEFAULT_PIN_ENV = 'CAIRN_PKCS11_PIN';
/** The token label the service keys are looked up in when `pkcs11.token` is not set. */
export const DEFAULT_TOKEN_LABEL = 'cairn';

/**
 * The labels (CKA_LABEL, `object=` in the URI) of the service keys in the token, as
 * `cairn hsm init` creates them. Each service finds its key here unless its section names another
 * URI (`ca.pkcs11Key`, `log.pkcs11Key`, `ct.pkcs11Key`, `tsa.pkcs11Key`, `tuf.pkcs11SnapshotKey`,
 * `tuf.pkcs11TimestampKey`). The two roots sign only at `cairn hsm init` and rotations.
 */
export const SERVICE_KEY_LABELS = {
  caRoot: 'cairn-ca-root',
  ca: 'cairn-ca-intermediate',
  log: 'cairn-log',
  ct: 'cairn-ct',
  tsaRoot: 'cairn-tsa-root',
  tsa: 'cairn-tsa-signing',
  tufSnapshot: 'cairn-tuf-snapshot',
  tufTimestamp: 'cairn-tuf-timestamp',
} as const;
export type ServiceKeyRole = keyof typeof SERVICE_KEY_LABELS;

/** Where the service keys are: a loaded module, a token label and the PIN (never logged). */
export interface Pkcs11Settings {
  modulePath: string;
  token: string;
  pin: string;
}

function badConfig(message: string): never {
  throw new SharedError('INVALID_CONFIG', message);
}

/**
 * The `pkcs11` section (`--pkcs11-module`, `--pkcs11-token`, `--pin-file`, `--pin-env`, or
 * CAIRN_PKCS11__MODULE ...), or undefined when no module is configured (keys are files). The PIN
 * comes from `pinFile`, else the variable `pinEnv` names, else CAIRN_PKCS11_PIN.
 */
export function pkcs11Settings(config: CairnConfig, env: Record<string, string | undefined> = process.env): Pkcs11Settings | undefined {
  const s = config.sections.pkcs11;
  if (!s) return undefined;
  for (const k of Object.keys(s)) if (!PKCS11_SECTION_KEYS.includes(k)) badConfig(`pkcs11.${k} is not a pkcs11 setting (known: ${PKCS11_SECTION_KEYS.join(', ')})`);
  const modulePath = sectionString(s, 'module');
  const token = sectionString(s, 'token', DEFAULT_TOKEN_LABEL);
  const pinFile = sectionString(s, 'pinFile');
  const pinEnv = sectionString(s, 'pinEnv');
  if (modulePath === undefined || modulePath === '') {
    if (Object.keys(s).length > 0) badConfig('pkcs11 settings need pkcs11.module (--pkcs11-module PATH)');
    return undefined;
  }
  if (token === '' || token.length > 32) badConfig('pkcs11.token must be a token label of 1 to 32 characters');
  const pin = readPin({ ...(pinFile !== undefined ? { pinFile } : { pinEnv: pinEnv ?? DEFAULT_PIN_ENV }), env });
  return { modulePath, token, pin };
}

/** The URI of a service key: the section's override, else `pkcs11:token=<token>;object=<label>`. */
export function serviceKeyUri(p: Pkcs11Settings, role: ServiceKeyRole, override?: string): string {
  if (override !== undefined && override !== '') {
    parsePkcs11Uri(override);
    return override;
  }
  return `pkcs11:token=${encodeURIComponent(p.token)};object=${SERVICE_KEY_LABELS[role]}`;
}

/** Opens a service key in the token (PKCS11_OBJECT_NOT_FOUND names `cairn hsm init` when it is missing). */
export function openServiceKey(p: Pkcs11Settings, role: ServiceKeyRole, override?: string): Pkcs11Signer {
  const uri = serviceKeyUri(p, role, override);
  try {
    return Pkcs11Signer.open({ modulePath: p.modulePath, uri, pin: p.pin });
  } catch (e) {
    if (e instanceof Pkcs11Error && e.code === 'PKCS11_OBJECT_NOT_FOUND') {
      throw new Pkcs11Error('PKCS11_OBJECT_NOT_FOUND', `${e.message}: create the service keys with cairn hsm init`, { cause: e });
    }
    throw e;
  }
}
