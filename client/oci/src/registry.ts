/**
 * A registry client for the OCI distribution spec v1.1 (pull, push, referrers) with Docker's
 * token authentication. Every operation takes an AbortSignal and runs under a deadline; every
 * download has a byte cap and is checked against the digest that named it; nothing is printed.
 */
import { readFileSync, statSync } from 'node:fs';
import { basicAuthorization, dockerConfigCredentials, parseChallenge, type Credentials } from './auth.ts';
import { OciError, ociFail } from './errors.ts';
import {
  ACCEPT_MANIFESTS,
  checkBlob,
  describe,
  MAX_DESCRIPTORS,
  MAX_MANIFEST_BYTES,
  OCI_INDEX,
  parseManifest,
  sha256Digest,
  type Descriptor,
  type Manifest,
} from './manifest.ts';
import { apiHost, checkDigest, digestTag, isDigest, isLoopbackHost, parseReference, type ImageReference } from './reference.ts';
import { header, request, type Answer, type RequestSpec } from './transport.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_LIMITS = {
  /** Largest manifest or index accepted. */
  manifestBytes: MAX_MANIFEST_BYTES,
  /** Largest blob downloaded into memory (signature payloads, bundles, configs, layers on save). */
  blobBytes: 512 * 1024 * 1024,
  /** Largest token endpoint answer. */
  tokenBytes: 1024 * 1024,
  /** Referrers gathered across all pages of the referrers API. */
  referrers: MAX_DESCRIPTORS,
  /** Pages of the referrers API or of a tag list followed. */
  pages: 16,
} as const;
export const MAX_CA_FILE_BYTES = 1024 * 1024;
/** Chunk size of chunked uploads when asked for. */
export const DEFAULT_CHUNK_BYTES = 5 * 1024 * 1024;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

export interface OperationOptions {
  signal?: AbortSignal;
  /** Overrides the client's timeoutMs for this operation. */
  timeoutMs?: number;
}

export interface RegistryClientOptions {
  /** Per-registry-host credentials, or a function of the host; else `dockerConfig` is read. */
  credentials?: Record<string, Credentials> | ((registry: string) => Credentials | undefined);
  /** Read `~/.docker/config.json` (or this path) for hosts without explicit credentials. Default true. */
  dockerConfig?: boolean | string;
  /** Environment for DOCKER_CONFIG/HOME (default: none, so the home directory of the process). */
  env?: Record<string, string | undefined>;
  /** A PEM file of CA certificates for https registries (replaces the system store). */
  caFile?: string;
  /** PEM text, instead of caFile. */
  ca?: string;
  /** Plain http to any registry (else only to loopback addresses). */
  allowHttp?: boolean;
  limits?: Partial<Limits>;
  /** Deadline of each operation (default 30 s). */
  timeoutMs?: number;
  retries?: number;
  /**
   * Bytes of immutable content kept in memory by this client (default CONTENT_CACHE_BYTES; 0:
   * none): manifests and small blobs, keyed by repository and digest, stored only after their
   * bytes matched the digest, so a second read of the same digest is not fetched again. Tags
   * (mutable) and referrers lists are always fetched.
   */
  cacheBytes?: number;
}

export const CONTENT_CACHE_BYTES = 16 * 1024 * 1024;
/** Largest single item kept by the content cache. */
const CACHE_ITEM_BYTES = 1024 * 1024;

/** Where images, signatures and referrers are read from: a registry or an OCI layout. */
export interface ImageSource {
  readonly kind: 'registry' | 'layout';
  getManifest(repo: ImageReference, reference: string, o?: OperationOptions): Promise<Manifest>;
  getBlob(repo: ImageReference, d: Pick<Descriptor, 'digest' | 'size'>, o?: OperationOptions): Promise<Buffer>;
  referrers(repo: ImageReference, digest: string, o?: OperationOptions & { artifactType?: string }): Promise<ReferrersResult>;
}

export interface ReferrersResult {
  descriptors: Descriptor[];
  /** `api`: the registry's referrers endpoint; `tag`: the referrers tag schema fallback; `layout`. */
  via: 'api' | 'tag' | 'layout';
}

export interface PutManifestResult {
  digest: string;
  /** The registry's OCI-Subject answer header (present only where the referrers API exists). */
  ociSubject?: string;
}

function linkNext(a: Answer): string | undefined {
  const link = header(a, 'link');
  if (link === undefined || link.length > 4096) return undefined;
  for (const part of link.split(',')) {
    const lt = part.indexOf('<');
    const gt = part.indexOf('>', lt + 1);
    if (lt < 0 || gt < 0) continue;
    if (/;\s*rel="?next"?/.test(part.slice(gt + 1))) return part.slice(lt + 1, gt);
  }
  return undefined;
}

function registryError(a: Answer, what: string): OciError {
  let detail = '';
  try {
    const j = JSON.parse(a.body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    const e = j.errors?.[0];
    if (e && typeof e.code === 'string') detail = `: ${e.code.slice(0, 64)}${typeof e.message === 'string' ? ` ${e.message.slice(0, 200)}` : ''}`;
  } catch {
    // not a distribution error body
  }
  if (a.status === 404) return new OciError('NOT_FOUND', `${what}: not found${detail}`, { status: 404 });
  if (a.status === 403) return new OciError('DENIED', `${what}: denied${detail}`, { status: 403 });
  if (a.status === 401) return new OciError('AUTH_FAILED', `${what}: unauthorized${detail}`, { status: 401 });
  return new OciError('REGISTRY_ERROR', `${what}: the registry answered ${a.status}${detail}`, { status: 502 });
}

export class RegistryClient implements ImageSource {
  readonly kind = 'registry' as const;
  readonly limits: Limits;
  private readonly ca: string | undefined;
  private readonly tokens = new Map<string, string>();
  private readonly options: RegistryClientOptions;
  /** Content cache (insertion-ordered: the oldest is evicted first). */
  private readonly content = new Map<string, Manifest | Buffer>();
  private contentBytes = 0;
  private readonly cacheBytes: number;

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    this.cacheBytes = options.cacheBytes ?? CONTENT_CACHE_BYTES;
    if (!Number.isSafeInteger(this.cacheBytes) || this.cacheBytes < 0) throw new OciError('OPTIONS_INVALID', 'cacheBytes must be a non-negative integer');
    this.limits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new OciError('OPTIONS_INVALID', `limits.${k} must be a positive integer`);
    }
    if (options.caFile !== undefined) {
      try {
        if (statSync(options.caFile).size > MAX_CA_FILE_BYTES) ociFail('CA_FILE_INVALID', `${options.caFile} is larger than ${MAX_CA_FILE_BYTES} bytes`);
        this.ca = readFileSync(options.caFile, 'utf8');
      } catch (e) {
        if (e instanceof OciError) throw e;
        throw new OciError('CA_FILE_INVALID', `cannot read the CA file ${options.caFile}`, { cause: e });
      }
      if (!this.ca.includes('-----BEGIN CERTIFICATE-----')) ociFail('CA_FILE_INVALID', `${options.caFile} holds no PEM certificate`);
    } else {
      this.ca = options.ca;
    }
  }

  private cacheKey(repo: ImageReference, digest: string): string {
    return `${repo.registry}/${repo.repository}@${digest}`;
  }

  private remember(key: string, value: Manifest | Buffer): void {
    const size = Buffer.isBuffer(value) ? value.length : value.bytes.length;
    if (size > CACHE_ITEM_BYTES || size > this.cacheBytes || this.content.has(key)) return;
    this.content.set(key, value);
    this.contentBytes += size;
    for (const [k, v] of this.content) {
      if (this.contentBytes <= this.cacheBytes) break;
      this.content.delete(k);
      this.contentBytes -= Buffer.isBuffer(v) ? v.length : v.bytes.length;
    }
  }

  private credentialsFor(registry: string): Credentials | undefined {
    const c = this.options.credentials;
    const given = typeof c === 'function' ? c(registry) : c?.[registry];
    if (given !== undefined) return given;
    if (this.options.dockerConfig === false) return undefined;
    return dockerConfigCredentials(registry, {
      ...(typeof this.options.dockerConfig === 'string' ? { configPath: this.options.dockerConfig } : {}),
      ...(this.options.env ? { env: this.options.env } : {}),
    });
  }

  private baseUrl(registry: string): string {
    const host = apiHost(registry);
    const http = this.ca === undefined && (this.options.allowHttp === true || isLoopbackHost(host));
    return `${http ? 'http' : 'https'}://${host}`;
  }

  private transport() {
    return { ca: this.ca, allowHttp: this.options.allowHttp, retries: this.options.retries };
  }

  /** The operation's signal: the caller's, and the deadline. */
  signal(o: OperationOptions = {}): AbortSignal {
    const ms = o.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(ms) || ms <= 0) throw new OciError('OPTIONS_INVALID', 'timeoutMs must be a positive number');
    const t = AbortSignal.timeout(ms);
    return o.signal ? AbortSignal.any([o.signal, t]) : t;
  }

  /** Sends a request to /v2/<repo>/<path>, answering auth challenges once (Bearer or Basic). */
  private async send(
    repo: ImageReference,
    spec: Omit<RequestSpec, 'url' | 'signal'> & { path: string; push?: boolean; absolute?: URL },
    signal: AbortSignal,
  ): Promise<Answer> {
    const url = spec.absolute ?? new URL(`${this.baseUrl(repo.registry)}/v2/${repo.repository}/${spec.path}`);
    const scope = `repository:${repo.repository}:${spec.push === true ? 'pull,push' : 'pull'}`;
    const key = `${url.host}|${scope}`;
    const auth = this.tokens.get(key);
    const go = (authorization: string | undefined) =>
      request({ ...spec, url, signal, headers: { ...(spec.headers ?? {}), ...(authorization ? { authorization } : {}) } }, this.transport());
    let a = await go(auth);
    if (a.status !== 401) return a;
    const challenge = parseChallenge(header(a, 'www-authenticate'));
    if (!challenge) return a;
    const creds = this.credentialsFor(repo.registry);
    let authorization: string | undefined;
    if (challenge.scheme === 'basic') {
      authorization = creds ? basicAuthorization(creds) : undefined;
      if (authorization === undefined) ociFail('AUTH_REQUIRED', `${repo.registry} asks for Basic credentials and none are configured`);
    } else {
      authorization = `Bearer ${await this.token(challenge.params, scope, creds, signal)}`;
    }
    this.tokens.set(key, authorization);
    a = await go(authorization);
    if (a.status === 401) {
      this.tokens.delete(key);
      ociFail(creds ? 'AUTH_FAILED' : 'AUTH_REQUIRED', `${repo.registry} refused the credentials for ${scope}`);
    }
    return a;
  }

  /** distribution token spec: GET realm?service&scope (Basic auth), or OAuth2 refresh_token POST. */
  private async token(params: Record<string, string>, scope: string, creds: Credentials | undefined, signal: AbortSignal): Promise<string> {
    if (creds?.registryToken !== undefined) return creds.registryToken;
    const realm = params.realm;
    if (realm === undefined) ociFail('AUTH_FAILED', 'the Bearer challenge names no realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      return ociFail('AUTH_FAILED', 'the Bearer challenge realm is not a URL');
    }
    const challengeScope = params.scope ?? scope;
    let a: Answer;
    if (creds?.identityToken !== undefined) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'cairn', scope: challengeScope });
      if (params.service !== undefined) form.set('service', params.service);
      a = await request(
        { method: 'POST', url, signal, maxBytes: this.limits.tokenBytes, body: Buffer.from(form.toString()), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        this.transport(),
      );
    } else {
      if (params.service !== undefined) url.searchParams.set('service', params.service);
      url.searchParams.set('scope', challengeScope);
      const basic = creds ? basicAuthorization(creds) : undefined;
      a = await request({ method: 'GET', url, signal, maxBytes: this.limits.tokenBytes, ...(basic ? { headers: { authorization: basic } } : {}) }, this.transport());
    }
    if (a.status === 401 || a.status === 403) ociFail(creds ? 'AUTH_FAILED' : 'AUTH_REQUIRED', `the token endpoint ${url.host} refused (${a.status})`);
    if (a.status !== 200) ociFail('TOKEN_INVALID', `the token endpoint ${url.host} answered ${a.status}`);
    let j: unknown;
    try {
      j = JSON.parse(a.body.toString('utf8'));
    } catch {
      return ociFail('TOKEN_INVALID', 'the token endpoint answered with something that is not JSON');
    }
    const t = typeof j === 'object' && j !== null ? ((j as { token?: unknown }).token ?? (j as { access_token?: unknown }).access_token) : undefined;
    if (typeof t !== 'string' || t === '' || !/^[\x21-\x7e]+$/.test(t)) ociFail('TOKEN_INVALID', 'the token endpoint answer has no usable token');
    return t;
  }

  /** GET a manifest by tag or digest; the bytes are checked against the digest (asked for, or announced). */
  async getManifest(repo: ImageReference, reference: string, o: OperationOptions = {}): Promise<Manifest> {
    const cached = isDigest(reference) ? this.content.get(this.cacheKey(repo, reference)) : undefined;
    if (cached !== undefined && !Buffer.isBuffer(cached)) return cached;
    const signal = this.signal(o);
    const a = await this.send(repo, { method: 'GET', path: `manifests/${reference}`, maxBytes: this.limits.manifestBytes, headers: { accept: ACCEPT_MANIFESTS } }, signal);
    if (a.status !== 200) throw registryError(a, `manifest ${repo.repository}:${reference}`);
    const byDigest = isDigest(reference);
    const m = parseManifest(a.body, header(a, 'content-type'), byDigest ? reference : undefined);
    const announced = header(a, 'docker-content-digest');
    if (!byDigest && announced !== undefined && announced.startsWith('sha256:') && announced !== m.digest) {
      ociFail('DIGEST_MISMATCH', `the registry announced ${announced} for ${reference} but the bytes hash to ${m.digest}`);
    }
    this.remember(this.cacheKey(repo, m.digest), m);
    return m;
  }

  /** Whether a manifest exists (HEAD), and its descriptor when it does. */
  async headManifest(repo: ImageReference, reference: string, o: OperationOptions = {}): Promise<Descriptor | undefined> {
    const signal = this.signal(o);
    const a = await this.send(repo, { method: 'HEAD', path: `manifests/${reference}`, maxBytes: 0, headers: { accept: ACCEPT_MANIFESTS } }, signal);
    if (a.status === 404) return undefined;
    if (a.status !== 200) throw registryError(a, `manifest ${repo.repository}:${reference}`);
    const digest = header(a, 'docker-content-digest');
    const size = Number(header(a, 'content-length'));
    if (digest === undefined || !Number.isSafeInteger(size)) return undefined;
    return { mediaType: header(a, 'content-type')?.split(';')[0] ?? '', digest: checkDigest(digest), size };
  }

  async getBlob(repo: ImageReference, d: Pick<Descriptor, 'digest' | 'size'>, o: OperationOptions = {}): Promise<Buffer> {
    checkDigest(d.digest, 'blob digest');
    if (d.size > this.limits.blobBytes) ociFail('TOO_LARGE', `blob ${d.digest} is ${d.size} bytes, over the ${this.limits.blobBytes}-byte limit`);
    const key = this.cacheKey(repo, d.digest);
    const cached = this.content.get(key);
    // A copy: the caller may write into what it gets; the cache keeps the checked bytes.
    if (Buffer.isBuffer(cached) && cached.length === d.size) return Buffer.from(cached);
    const signal = this.signal(o);
    const a = await this.send(repo, { method: 'GET', path: `blobs/${d.digest}`, maxBytes: d.size, crossHostRedirects: true }, signal);
    if (a.status !== 200) throw registryError(a, `blob ${d.digest}`);
    checkBlob(a.body, d);
    if (a.body.length <= CACHE_ITEM_BYTES) this.remember(key, Buffer.from(a.body));
    return a.body;
  }

  async blobExists(repo: ImageReference, digest: string, o: OperationOptions = {}): Promise<boolean> {
    const signal = this.signal(o);
    const a = await this.send(repo, { method: 'HEAD', path: `blobs/${checkDigest(digest)}`, maxBytes: 0, push: true }, signal);
    if (a.status === 200) return true;
    if (a.status === 404) return false;
    throw registryError(a, `blob ${digest}`);
  }

  /**
   * Uploads a blob unless the registry has it: monolithic (POST then PUT ?digest=) or, with
   * `chunkBytes`, chunked (POST, PATCH with Content-Range per chunk, PUT ?digest=).
   */
  async pushBlob(repo: ImageReference, bytes: Buffer, o: OperationOptions & { chunkBytes?: number } = {}): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    const d = { mediaType: 'application/octet-stream', digest, size: bytes.length };
    if (await this.blobExists(repo, digest, o)) return d;
    const signal = this.signal(o);
    const start = await this.send(repo, { method: 'POST', path: 'blobs/uploads/', maxBytes: MAX_ERROR, push: true, body: Buffer.alloc(0) }, signal);
    if (start.status !== 202) throw registryError(start, 'blob upload');
    let location = this.uploadLocation(start, repo);
    const chunk = o.chunkBytes;
    if (chunk !== undefined) {
      if (!Number.isSafeInteger(chunk) || chunk <= 0) ociFail('OPTIONS_INVALID', 'chunkBytes must be a positive integer');
      for (let off = 0; off < bytes.length; off += chunk) {
        const part = bytes.subarray(off, Math.min(bytes.length, off + chunk));
        const a = await this.send(
          repo,
          {
            method: 'PATCH',
            path: '',
            absolute: location,
            maxBytes: MAX_ERROR,
            push: true,
            body: Buffer.from(part),
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${off}-${off + part.length - 1}` },
            noRetry: true,
          },
          signal,
        );
        if (a.status !== 202) throw registryError(a, `blob upload chunk at ${off}`);
        location = this.uploadLocation(a, repo);
      }
      location.searchParams.set('digest', digest);
      const fin = await this.send(repo, { method: 'PUT', path: '', absolute: location, maxBytes: MAX_ERROR, push: true, body: Buffer.alloc(0), noRetry: true }, signal);
      if (fin.status !== 201) throw registryError(fin, 'blob upload completion');
    } else {
      location.searchParams.set('digest', digest);
      const put = await this.send(
        repo,
        { method: 'PUT', path: '', absolute: location, maxBytes: MAX_ERROR, push: true, body: bytes, headers: { 'content-type': 'application/octet-stream' }, noRetry: true },
        signal,
      );
      if (put.status !== 201) throw registryError(put, 'blob upload');
    }
    return d;
  }

  private uploadLocation(a: Answer, repo: ImageReference): URL {
    const loc = header(a, 'location');
    if (loc === undefined) ociFail('REGISTRY_ERROR', 'the registry started an upload without a Location');
    const url = new URL(loc, a.url);
    // Uploads go where the registry is: a Location on another host would receive our credentials.
    if (url.host !== new URL(this.baseUrl(repo.registry)).host) ociFail('REDIRECT_REFUSED', `the upload Location points at another host (${url.host})`);
    return url;
  }

  /** PUT a manifest at a tag or its digest. */
  async putManifest(repo: ImageReference, reference: string, bytes: Buffer, mediaType: string, o: OperationOptions = {}): Promise<PutManifestResult> {
    if (bytes.length > this.limits.manifestBytes) ociFail('TOO_LARGE', `a manifest of ${bytes.length} bytes is over the limit`);
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && reference !== digest) ociFail('DIGEST_MISMATCH', 'a manifest pushed by digest must hash to it');
    const signal = this.signal(o);
    const a = await this.send(repo, { method: 'PUT', path: `manifests/${reference}`, maxBytes: MAX_ERROR, push: true, body: bytes, headers: { 'content-type': mediaType } }, signal);
    if (a.status !== 201 && a.status !== 200) throw registryError(a, `manifest upload ${repo.repository}:${reference}`);
    const announced = header(a, 'docker-content-digest');
    if (announced !== undefined && announced !== digest) ociFail('DIGEST_MISMATCH', `the registry stored the manifest as ${announced}, not ${digest}`);
    const ociSubject = header(a, 'oci-subject');
    return { digest, ...(ociSubject !== undefined ? { ociSubject } : {}) };
  }

  /**
   * distribution-spec 1.1 "Listing Referrers": the referrers API (Link pages followed), else the
   * referrers tag schema `sha256-<hex>` (any non-200 answer from the API means "no API", as
   * go-containerregistry does; a 404 on the tag means no referrers).
   */
  async referrers(repo: ImageReference, digest: string, o: OperationOptions & { artifactType?: string } = {}): Promise<ReferrersResult> {
    checkDigest(digest, 'subject digest');
    const signal = this.signal(o);
    const query = o.artifactType !== undefined ? `?artifactType=${encodeURIComponent(o.artifactType)}` : '';
    let a = await this.send(repo, { method: 'GET', path: `referrers/${digest}${query}`, maxBytes: this.limits.manifestBytes, headers: { accept: OCI_INDEX } }, signal);
    const ct = header(a, 'content-type')?.split(';')[0]?.trim();
    if (a.status === 200 && ct === OCI_INDEX) {
      const out: Descriptor[] = [];
      let filtered = header(a, 'oci-filters-applied')?.includes('artifactType') === true;
      for (let page = 1; ; page++) {
        const idx = parseManifest(a.body, OCI_INDEX);
        if (idx.kind !== 'index') ociFail('MANIFEST_INVALID', 'the referrers answer is not an image index');
        out.push(...idx.manifests);
        if (out.length > this.limits.referrers) ociFail('TOO_MANY_DESCRIPTORS', `more than ${this.limits.referrers} referrers`);
        const next = linkNext(a);
        if (next === undefined) break;
        if (page >= this.limits.pages) ociFail('TOO_MANY_DESCRIPTORS', `the referrers list runs past ${this.limits.pages} pages`);
        const url = new URL(next, a.url);
        if (url.host !== a.url.host) ociFail('REDIRECT_REFUSED', 'a referrers Link points at another host');
        a = await this.send(repo, { method: 'GET', path: '', absolute: url, maxBytes: this.limits.manifestBytes, headers: { accept: OCI_INDEX } }, signal);
        if (a.status !== 200) throw registryError(a, 'referrers page');
        filtered = filtered && header(a, 'oci-filters-applied')?.includes('artifactType') === true;
      }
      const wanted = o.artifactType;
      return { descriptors: wanted !== undefined && !filtered ? out.filter((d) => d.artifactType === wanted) : out, via: 'api' };
    }
    let idx: Manifest;
    try {
      idx = await this.getManifest(repo, digestTag(digest), { signal });
    } catch (e) {
      if (e instanceof OciError && e.code === 'NOT_FOUND') return { descriptors: [], via: 'tag' };
      throw e;
    }
    if (idx.kind !== 'index') ociFail('MANIFEST_INVALID', `the referrers tag ${digestTag(digest)} does not hold an image index`);
    const all = idx.manifests;
    return { descriptors: o.artifactType !== undefined ? all.filter((d) => d.artifactType === o.artifactType) : all, via: 'tag' };
  }

  /**
   * Pushes a manifest that has a `subject` (by digest). Without `OCI-Subject` in the answer the
   * registry has no referrers API, and the referrers tag schema index is updated (spec
   * "Pushing Manifests with Subject": GET the tag, add the descriptor unless present, PUT it).
   */
  async pushReferrer(repo: ImageReference, manifestBytes: Buffer, o: OperationOptions = {}): Promise<{ digest: string; via: 'api' | 'tag' }> {
    const m = parseManifest(manifestBytes, undefined);
    if (!m.subject) ociFail('MANIFEST_INVALID', 'a referrer manifest needs a subject');
    const put = await this.putManifest(repo, m.digest, manifestBytes, m.mediaType, o);
    if (put.ociSubject !== undefined && put.ociSubject === m.subject.digest) return { digest: m.digest, via: 'api' };
    await this.addToFallbackIndex(repo, m.subject.digest, { ...describe(m), ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) }, o);
    return { digest: m.digest, via: 'tag' };
  }

  async addToFallbackIndex(repo: ImageReference, subject: string, d: Descriptor, o: OperationOptions = {}): Promise<void> {
    const tag = digestTag(subject);
    let manifests: unknown[] = [];
    try {
      const idx = await this.getManifest(repo, tag, o);
      if (idx.kind !== 'index') ociFail('MANIFEST_INVALID', `the referrers tag ${tag} does not hold an image index`);
      manifests = (JSON.parse(idx.bytes.toString('utf8')) as { manifests: unknown[] }).manifests;
      if (idx.manifests.some((x) => x.digest === d.digest)) return;
    } catch (e) {
      if (!(e instanceof OciError && e.code === 'NOT_FOUND')) throw e;
    }
    if (manifests.length >= this.limits.referrers) ociFail('TOO_MANY_DESCRIPTORS', `the referrers tag ${tag} already lists ${manifests.length} referrers`);
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...manifests, d] }));
    await this.putManifest(repo, tag, body, OCI_INDEX, o);
  }

  /** Tags of a repository (Link pages followed, bounded). */
  async listTags(repo: ImageReference, o: OperationOptions = {}): Promise<string[]> {
    const signal = this.signal(o);
    const out: string[] = [];
    let a = await this.send(repo, { method: 'GET', path: 'tags/list', maxBytes: this.limits.manifestBytes }, signal);
    for (let page = 1; ; page++) {
      if (a.status !== 200) throw registryError(a, 'tag list');
      let j: unknown;
      try {
        j = JSON.parse(a.body.toString('utf8'));
      } catch {
        return ociFail('REGISTRY_ERROR', 'the tag list is not JSON');
      }
      const tags = (j as { tags?: unknown }).tags;
      if (Array.isArray(tags)) out.push(...tags.filter((t): t is string => typeof t === 'string'));
      const next = linkNext(a);
      if (next === undefined || page >= this.limits.pages) break;
      const url = new URL(next, a.url);
      if (url.host !== a.url.host) ociFail('REDIRECT_REFUSED', 'a tag list Link points at another host');
      a = await this.send(repo, { method: 'GET', path: '', absolute: url, maxBytes: this.limits.manifestBytes }, signal);
    }
    return out;
  }
}

/** Error answers to writes are small; their bodies are only ever shown. */
const MAX_ERROR = 64 * 1024;

/**
 * Resolves REF once to a digest (a tag is looked up and the manifest's bytes hashed; a digest
 * reference is checked to exist). Everything after uses the digest, never the tag again.
 */
export async function resolveDigest(client: ImageSource, ref: ImageReference | string, o: OperationOptions = {}): Promise<{ reference: ImageReference; digest: string; manifest: Manifest }> {
  const r = typeof ref === 'string' ? parseReference(ref) : ref;
  const manifest = await client.getManifest(r, r.digest ?? r.tag ?? 'latest', o);
  if (r.digest !== undefined && manifest.digest !== r.digest) ociFail('DIGEST_MISMATCH', `the manifest for ${r.digest} hashes to ${manifest.digest}`);
  return { reference: r, digest: manifest.digest, manifest };
}
