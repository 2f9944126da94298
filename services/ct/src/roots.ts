/**
 * The roots this CT log accepts chains to (RFC 6962 §4.1: "the log's root list").
 *
 * Sources, all merged:
 *  - `<dataDir>/roots/*.pem`: one or more CERTIFICATE blocks per file. The in-process CA adds its
 *    root here through `CtLog.addRoot()`; in a split deployment the operator copies the CA's root
 *    PEM into this folder (the log rescans it, at most once per RESCAN_INTERVAL_MS, when a chain
 *    ends at an unknown root, so no restart is needed).
 *  - `ct.rootsFile` (config): a PEM bundle read at start.
 * Every root must be a self-signed CA certificate; anything else is refused (INVALID_ROOT).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromPemAll, toPem, type Clock, type Logger } from '@cairn/shared';
import { writeAtomic } from '@cairn/shared/io';
import { splitCertificate } from '@cairn/shared/sct';
import { CtError } from './errors.ts';

/** Accepted roots are few; a folder with more files than this is a misconfiguration. */
export const MAX_ROOTS = 256;
/** Largest PEM file read from the roots folder or `ct.rootsFile`. */
export const MAX_ROOT_FILE_BYTES = 1024 * 1024;
/** How often an unknown root may trigger a rescan of the roots folder. */
export const RESCAN_INTERVAL_MS = 1000;

export interface AcceptedRoot {
  der: Buffer;
  cert: X509Certificate;
  fingerprint: string;
}

function fingerprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Parses and checks one root: strict DER, self-issued, self-signed, a CA. */
export function parseRoot(der: Buffer): AcceptedRoot {
  let cert: X509Certificate;
  try {
    splitCertificate(der);
    cert = new X509Certificate(der);
  } catch (e) {
    throw new CtError('INVALID_ROOT', 'root is not a DER X.509 certificate', { cause: e });
  }
  if (!cert.ca) throw new CtError('INVALID_ROOT', 'root is not a CA certificate');
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) throw new CtError('INVALID_ROOT', 'root is not self-signed');
  return { der: Buffer.from(der), cert, fingerprint: fingerprintOf(der) };
}

export class RootStore {
  private readonly roots = new Map<string, AcceptedRoot>();
  private lastScan = 0;

  constructor(
    private readonly dir: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    rootsFile?: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (rootsFile !== undefined && rootsFile !== '') {
      for (const der of this.readPemFile(rootsFile, true)) this.remember(parseRoot(der));
    }
    this.scan();
  }

  private readPemFile(path: string, strict: boolean): Buffer[] {
    try {
      if (statSync(path).size > MAX_ROOT_FILE_BYTES) throw new CtError('INVALID_ROOT', `${path} is larger than ${MAX_ROOT_FILE_BYTES} bytes`);
      return fromPemAll(readFileSync(path, 'utf8'), path)
        .filter((b) => b.label === 'CERTIFICATE')
        .map((b) => b.der);
    } catch (e) {
      if (strict) throw e instanceof CtError ? e : new CtError('INVALID_ROOT', `cannot read roots from ${path}`, { cause: e });
      this.logger.warn('ignoring unreadable roots file', { path });
      return [];
    }
  }

  private remember(root: AcceptedRoot): void {
    if (this.roots.has(root.fingerprint)) return;
    if (this.roots.size >= MAX_ROOTS) throw new CtError('INVALID_ROOT', `more than ${MAX_ROOTS} accepted roots`);
    this.roots.set(root.fingerprint, root);
  }

  /** Reads `<dir>/*.pem`; bad files are logged and skipped so one stray file cannot stop the log. */
  scan(): void {
    this.lastScan = this.clock.now().getTime();
    if (!existsSync(this.dir)) return;
    const names = readdirSync(this.dir).filter((n) => n.endsWith('.pem')).sort().slice(0, MAX_ROOTS);
    for (const name of names) {
      for (const der of this.readPemFile(join(this.dir, name), false)) {
        try {
          this.remember(parseRoot(der));
        } catch (e) {
          this.logger.warn('ignoring a certificate in the roots folder', { file: name, code: e instanceof CtError ? e.code : 'UNKNOWN' });
        }
      }
    }
  }

  /** Rescans the folder if the last scan is older than RESCAN_INTERVAL_MS; true if it did. */
  rescanIfStale(): boolean {
    if (this.clock.now().getTime() - this.lastScan < RESCAN_INTERVAL_MS) return false;
    this.scan();
    return true;
  }

  /** Adds a root and persists it as `<dir>/<sha256>.pem` (idempotent). */
  add(der: Buffer): AcceptedRoot {
    const root = parseRoot(der);
    if (!this.roots.has(root.fingerprint)) {
      const path = join(this.dir, `${root.fingerprint}.pem`);
      writeAtomic(path, toPem('CERTIFICATE', root.der), 0o644);
      this.remember(root);
    }
    return this.roots.get(root.fingerprint)!;
  }

  get(der: Uint8Array): AcceptedRoot | undefined {
    return this.roots.get(fingerprintOf(der));
  }

  /** An accepted root that issued and signed `cert`, if any. */
  issuerOf(cert: X509Certificate): AcceptedRoot | undefined {
    for (const r of this.roots.values()) {
      if (cert.checkIssued(r.cert) && cert.verify(r.cert.publicKey)) return r;
    }
    return undefined;
  }

  list(): AcceptedRoot[] {
    return [...this.roots.values()];
  }
}
