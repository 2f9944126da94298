/**
 * How the CA gets an SCT for a precertificate (RFC 6962 §4.1-4.2 add-pre-chain): one interface,
 * two mechanisms — the in-process CT log found in `peers.ct`, or a CT log over HTTP.
 */
import { HttpCtLog } from '@cairn/ct';
import type { Sct } from '@cairn/shared/sct';
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

/**
 * `POST <url>/ct/v1/add-pre-chain` (RFC 6962 §4.1) through the CT package's HTTP client, which
 * caps the response and parses the SCT strictly; every failure is CT_UNAVAILABLE for the CA.
 */
export class HttpCtClient implements CtClient {
  private readonly log: HttpCtLog;

  constructor(
    private readonly baseUrl: string,
    timeoutMs = 10_000,
  ) {
    this.log = new HttpCtLog(baseUrl, { timeoutMs });
  }

  async addPreChain(chainDer: Buffer[]): Promise<Sct> {
    try {
      return await this.log.addPreChain(chainDer);
    } catch (e) {
      throw new CaError('CT_UNAVAILABLE', `the CT log at ${this.baseUrl} did not return an SCT: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
}
