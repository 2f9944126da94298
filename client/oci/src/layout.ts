/**
 * OCI image layout (image-spec v1.1 image-layout.md) as an ImageSource, and `saveImage` /
 * `loadImage`: an image with its signatures, attestations and referrers carried across the air
 * gap. Tags are `org.opencontainers.image.ref.name` entries of index.json; referrers are found
 * through the referrers tag schema entry (`sha256-<hex>`), as on a registry without the API.
 * Every file read is capped and checked against its digest.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { OciError, ociFail } from './errors.ts';
import { checkBlob, describe, MAX_DESCRIPTORS, MAX_MANIFEST_BYTES, OCI_INDEX, parseManifest, sha256Digest, type Descriptor, type Manifest } from './manifest.ts';
import { checkDigest, digestTag, isDigest, parseReference, type ImageReference } from './reference.ts';
import { resolveDigest, type ImageSource, type OperationOptions, type ReferrersResult, type RegistryClient } from './registry.ts';

const REF_NAME = 'org.opencontainers.image.ref.name';
export const MAX_LAYOUT_BLOB_BYTES = 512 * 1024 * 1024;

interface IndexEntry extends Descriptor {
  annotations?: Record<string, string>;
}

export class OciLayout implements ImageSource {
  readonly kind = 'layout' as const;
  readonly dir: string;
  private entries: IndexEntry[];

  constructor(dir: string, o: { create?: boolean } = {}) {
    this.dir = dir;
    const indexPath = join(dir, 'index.json');
    if (!existsSync(indexPath)) {
      if (o.create !== true) ociFail('LAYOUT_INVALID', `${dir} is not an OCI image layout (no index.json)`);
      mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      this.entries = [];
      this.flush();
      return;
    }
    const bytes = this.readCapped(indexPath, MAX_MANIFEST_BYTES);
    const idx = parseManifest(bytes, OCI_INDEX);
    if (idx.kind !== 'index') ociFail('LAYOUT_INVALID', `${dir}/index.json is not an image index`);
    this.entries = idx.manifests;
  }

  private readCapped(path: string, max: number): Buffer {
    let size: number;
    try {
      size = statSync(path).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OciError('NOT_FOUND', `${path} is not in the layout`);
      throw new OciError('IO_ERROR', `cannot read ${path}`, { cause: e });
    }
    if (size > max) ociFail('TOO_LARGE', `${path} is ${size} bytes, over ${max}`);
    return readFileSync(path);
  }

  private blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', checkDigest(digest).slice(7));
  }

  /** All index.json entries (tags and untagged manifests). */
  list(): readonly IndexEntry[] {
    return this.entries;
  }

  getManifest(_repo: ImageReference, reference: string): Promise<Manifest> {
    let d: Descriptor | undefined;
    if (isDigest(reference)) d = this.entries.find((e) => e.digest === reference) ?? { mediaType: '', digest: reference, size: -1 };
    else d = this.entries.find((e) => e.annotations?.[REF_NAME] === reference);
    if (!d) return Promise.reject(new OciError('NOT_FOUND', `${reference} is not in the layout`));
    try {
      const bytes = this.readCapped(this.blobPath(d.digest), MAX_MANIFEST_BYTES);
      return Promise.resolve(parseManifest(bytes, d.mediaType || undefined, d.digest));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  getBlob(_repo: ImageReference, d: Pick<Descriptor, 'digest' | 'size'>): Promise<Buffer> {
    try {
      if (d.size > MAX_LAYOUT_BLOB_BYTES) ociFail('TOO_LARGE', `blob ${d.digest} is over ${MAX_LAYOUT_BLOB_BYTES} bytes`);
      const b = this.readCapped(this.blobPath(d.digest), d.size);
      checkBlob(b, d);
      return Promise.resolve(b);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async referrers(repo: ImageReference, digest: string, o: { artifactType?: string } = {}): Promise<ReferrersResult> {
    let idx: Manifest;
    try {
      idx = await this.getManifest(repo, digestTag(digest));
    } catch (e) {
      if (e instanceof OciError && e.code === 'NOT_FOUND') return { descriptors: [], via: 'layout' };
      throw e;
    }
    const all = idx.kind === 'index' ? idx.manifests : [];
    return { descriptors: o.artifactType !== undefined ? all.filter((d) => d.artifactType === o.artifactType) : all, via: 'layout' };
  }

  putBlob(bytes: Buffer): string {
    const digest = sha256Digest(bytes);
    const p = this.blobPath(digest);
    if (!existsSync(p)) {
      writeFileSync(`${p}.tmp`, bytes);
      renameSync(`${p}.tmp`, p);
    }
    return digest;
  }

  /** Adds a manifest (its bytes as a blob) to index.json, under a ref name when given. */
  addManifest(m: Manifest, refName?: string, extra: Record<string, string> = {}): void {
    this.putBlob(m.bytes);
    if (this.entries.length >= MAX_DESCRIPTORS) ociFail('TOO_MANY_DESCRIPTORS', 'the layout index is full');
    const annotations = { ...extra, ...(refName !== undefined ? { [REF_NAME]: refName } : {}) };
    this.entries = this.entries.filter((e) => !(refName !== undefined && e.annotations?.[REF_NAME] === refName) && !(refName === undefined && e.digest === m.digest && e.annotations?.[REF_NAME] === undefined));
    this.entries.push({ ...describe(m), ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) });
  }

  flush(): void {
    const p = join(this.dir, 'index.json');
    writeFileSync(`${p}.tmp`, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: this.entries }));
    renameSync(`${p}.tmp`, p);
  }
}

/** What is attached to an image (like `cosign tree`). */
export interface ImageTree {
  digest: string;
  /** Platform manifests of an index. */
  manifests: Descriptor[];
  legacy: { tag: string; layers: Descriptor[] }[];
  referrers: Descriptor[];
  referrersVia: ReferrersResult['via'];
}

export async function imageTree(client: ImageSource, ref: string | ImageReference, o: OperationOptions = {}): Promise<ImageTree> {
  const { reference, digest, manifest } = await resolveDigest(client, ref, o);
  const legacy: ImageTree['legacy'] = [];
  for (const s of ['sig', 'att', 'sbom'] as const) {
    try {
      const m = await client.getManifest(reference, digestTag(digest, s), o);
      legacy.push({ tag: digestTag(digest, s), layers: m.layers });
    } catch (e) {
      if (!(e instanceof OciError && e.code === 'NOT_FOUND')) throw e;
    }
  }
  const r = await client.referrers(reference, digest, o);
  return { digest, manifests: manifest.manifests, legacy, referrers: r.descriptors, referrersVia: r.via };
}

/** Copies a manifest and everything it references (children of an index, config, layers). */
async function copyManifest(src: ImageSource, repo: ImageReference, m: Manifest, out: OciLayout, o: OperationOptions, depth = 0): Promise<void> {
  if (depth > 2) ociFail('MANIFEST_INVALID', 'indexes nest too deep');
  for (const child of m.manifests) {
    const cm = await src.getManifest(repo, child.digest, o);
    await copyManifest(src, repo, cm, out, o, depth + 1);
    out.addManifest(cm);
  }
  for (const d of [...(m.config ? [m.config] : []), ...m.layers]) out.putBlob(await src.getBlob(repo, d, o));
}

/**
 * Writes the image REF (resolved once) with its legacy signature objects and its referrers (and
 * those of each platform manifest) to an OCI layout in `dir`.
 */
export async function saveImage(client: ImageSource, ref: string | ImageReference, dir: string, o: OperationOptions = {}): Promise<{ digest: string; manifests: number }> {
  const { reference, digest, manifest } = await resolveDigest(client, ref, o);
  const out = new OciLayout(dir, { create: true });
  await copyManifest(client, reference, manifest, out, o);
  out.addManifest(manifest, reference.tag ?? 'latest', { 'dev.cairn.image.digest': digest });
  let count = 1;
  for (const subject of [digest, ...manifest.manifests.map((m) => m.digest)]) {
    for (const s of ['sig', 'att', 'sbom'] as const) {
      try {
        const m = await client.getManifest(reference, digestTag(subject, s), o);
        await copyManifest(client, reference, m, out, o);
        out.addManifest(m, digestTag(subject, s));
        count++;
      } catch (e) {
        if (!(e instanceof OciError && e.code === 'NOT_FOUND')) throw e;
      }
    }
    const r = await client.referrers(reference, subject, o);
    const kept: Descriptor[] = [];
    for (const d of r.descriptors) {
      const m = await client.getManifest(reference, d.digest, o);
      if (m.subject?.digest !== subject) continue;
      await copyManifest(client, reference, m, out, o);
      out.addManifest(m);
      kept.push(d);
      count++;
    }
    if (kept.length > 0) {
      const idx = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: kept })), OCI_INDEX);
      out.putBlob(idx.bytes);
      out.addManifest(idx, digestTag(subject));
    }
  }
  out.flush();
  return { digest, manifests: count };
}

/**
 * Pushes a saved layout into `dest` (`registry/repo[:tag]`): blobs, platform manifests, the
 * image (tagged dest's tag, else the saved tag), legacy tags, and referrers (with the tag
 * schema fallback on registries without the referrers API).
 */
export async function loadImage(client: RegistryClient, dir: string, dest: string | ImageReference, o: OperationOptions = {}): Promise<{ digest: string; pushed: number }> {
  const layout = new OciLayout(dir);
  const repo = typeof dest === 'string' ? parseReference(dest) : dest;
  const root = layout.list().find((e) => e.annotations?.['dev.cairn.image.digest'] !== undefined);
  if (!root) ociFail('LAYOUT_INVALID', `${dir} holds no image saved by cairn image save`);
  let pushed = 0;
  const pushTree = async (m: Manifest, reference: string): Promise<void> => {
    for (const child of m.manifests) {
      const cm = await layout.getManifest(repo, child.digest);
      await pushTree(cm, cm.digest);
    }
    for (const d of [...(m.config ? [m.config] : []), ...m.layers]) await client.pushBlob(repo, await layout.getBlob(repo, d), o);
    if (m.subject) await client.pushReferrer(repo, m.bytes, o);
    else await client.putManifest(repo, reference, m.bytes, m.mediaType, o);
    pushed++;
  };
  const rootManifest = await layout.getManifest(repo, root.digest);
  await pushTree(rootManifest, repo.tag ?? root.annotations?.[REF_NAME] ?? rootManifest.digest);
  for (const e of layout.list()) {
    const name = e.annotations?.[REF_NAME];
    if (e === root || (name !== undefined && /^sha256-[0-9a-f]{64}$/.test(name))) continue;
    const m = await layout.getManifest(repo, e.digest);
    await pushTree(m, name ?? m.digest);
  }
  return { digest: root.digest, pushed };
}
