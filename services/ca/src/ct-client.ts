/**
 * How the CA gets an SCT for a precertificate (RFC 6962 §4.1-4.2 add-pre-chain): one interface,
 * two mechanisms — the in-process CT log found in `peers.ct`, or a CT log over HTTP.
 */
import { isRecord } from '@cairn/shared';
import { parseDigitallySigned, type Sct } from '@cairn/shared/sct';
import { CaError } from './errors.ts';

export interface CtClient {
  /** Logs [precert, issuer, ..., root] and resolves with the SCT once the entry is durable. */
  addPreChain(chainDer: Buffer[]): Promise<Sct>;
}

/** What an in-process CT component offers (services/ct `LocalCtLog`, structurally). */
interface InProcessLog {
  addPreChain(chainDer: Buffer[]): Promise<Sct>;
  addRoot?(rootDer: Buffer): void;
}

export function isInProcessLog(v: unknown): v is InProcessLog {
  return typeof v === 'object' && v !== null && typeof (v as { addPreChain?: unknown }).addPreChain === 'function';
}

export class InProcessCtClient implements CtClient {
  constructor(private readonly log: InProcessLog) {}

  /** Makes the log accept chains to our root (RFC 6962 §4.1: the log's accepted roots). */
  trustRoot(rootDer: Buffer): void {
    this.log.addRoot?.(rootDer);
  }

  async addPreChain(chainDer: Buffer[]): Promise<Sct> {
    try {
      return await this.log.addPreChain(chainDer);
    } catch (e) {
      throw new CaError('CT_UNAVAILABLE', `the CT log refused the precertificate: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
}

const MAX_CT_RESPONSE_BYTES = 64 * 1024;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function b64(v: unknown, what: string): Buffer {
  if (typeof v !== 'string' || !B64_RE.test(v)) throw new CaError('CT_UNAVAILABLE', `CT log response field ${what} is not base64`);
  return Buffer.from(v, 'base64');
}

/** The `code` of a Cairn JSON error body, for the operator's log line; bounded, never echoed raw. */
function ctErrorCode(text: string): string {
  try {
    const j = JSON.parse(text.slice(0, 4096)) as unknown;
    if (isRecord(j) && typeof j.code === 'string' && /^[A-Z_]{1,64}$/.test(j.code)) return ` ${j.code}`;
  } catch {
    /* not JSON */
  }
  return '';
}

/** `POST <url>/ct/v1/add-pre-chain` with the RFC 6962 §4.1 JSON body and response. */
export class HttpCtClient implements CtClient {
  private readonly endpoint: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.endpoint = `${baseUrl.replace(/\/+$/, '')}/ct/v1/add-pre-chain`;
  }

  async addPreChain(chainDer: Buffer[]): Promise<Sct> {
    let doc: unknown;
    try {
      const res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chain: chainDer.map((c) => c.toString('base64')) }),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}${ctErrorCode(text)}`);
      if (text.length > MAX_CT_RESPONSE_BYTES) throw new Error('response too large');
      doc = JSON.parse(text) as unknown;
    } catch (e) {
      throw new CaError('CT_UNAVAILABLE', `the CT log at ${this.endpoint} did not return an SCT: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!isRecord(doc) || doc.sct_version !== 0 || typeof doc.timestamp !== 'number' || !Number.isSafeInteger(doc.timestamp) || doc.timestamp < 0) {
      throw new CaError('CT_UNAVAILABLE', 'the CT log response is not an RFC 6962 v1 SCT');
    }
    const logId = b64(doc.id, 'id');
    if (logId.length !== 32) throw new CaError('CT_UNAVAILABLE', 'the CT log id is not 32 bytes');
    const signature = b64(doc.signature, 'signature');
    try {
      parseDigitallySigned(signature);
    } catch (e) {
      throw new CaError('CT_UNAVAILABLE', 'the CT log signature is not a TLS digitally-signed element', { cause: e });
    }
    return { sctVersion: 0, logId, timestamp: doc.timestamp, extensions: doc.extensions === undefined || doc.extensions === '' ? Buffer.alloc(0) : b64(doc.extensions, 'extensions'), signature };
  }
}
