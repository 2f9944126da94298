/**
 * Two-phase recording (python-in-toto runlib.py `in_toto_record_start` / `in_toto_record_stop`)
 * for steps that are not one command: `start` records materials into a signed preliminary link
 * `.<step>.<keyid8>.link-unfinished`; `stop` checks that link's signature with the same key,
 * records products, re-signs, writes `<step>.<keyid8>.link` and removes the preliminary file.
 * The files are the reference's, so a step can be started by one tool and stopped by the other.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { IntotoError } from './errors.ts';
import type { IntotoSigningKey } from './keys.ts';
import { checkSignature, linkFileName, loadMetadata, signMetadata, writeText } from './metadata.ts';
import type { Link } from './models.ts';
import { recordArtifacts, type RecordOptions } from './artifacts.ts';
import type { ArtifactMap } from './rules.ts';

export function unfinishedFileName(step: string, keyid: string): string {
  return `.${step}.${keyid.slice(0, 8)}.link-unfinished`;
}

export interface RecordStartOptions extends RecordOptions {
  name: string;
  materials: readonly string[];
  key: IntotoSigningKey;
  /** Where the preliminary link is kept (the reference: the current directory). */
  dir: string;
  recordEnvironment?: boolean;
  cwd?: string;
  /** Artifacts that are not files (a container image and its digest), resolved by the caller. */
  extraArtifacts?: ArtifactMap;
}

export async function recordStart(opts: RecordStartOptions): Promise<string> {
  const link: Link = {
    _type: 'link',
    name: opts.name,
    materials: { ...recordArtifacts(opts.materials, opts), ...(opts.extraArtifacts ?? {}) },
    products: {},
    byproducts: {},
    command: [],
    environment: opts.recordEnvironment ? { workdir: (opts.cwd ?? opts.dir).replace(/\\/g, '/') } : {},
  };
  const path = join(opts.dir, unfinishedFileName(opts.name, opts.key.publicKey.keyid));
  writeText(path, (await signMetadata(link, opts.key)).text);
  return path;
}

export interface RecordStopOptions extends RecordOptions {
  name: string;
  products: readonly string[];
  key: IntotoSigningKey;
  dir: string;
  /** Where the final link goes; default `dir`. */
  metadataDirectory?: string;
  /** Products that are not files (a container image and its digest), resolved by the caller. */
  extraArtifacts?: ArtifactMap;
}

export async function recordStop(opts: RecordStopOptions): Promise<string> {
  const unfinished = join(opts.dir, unfinishedFileName(opts.name, opts.key.publicKey.keyid));
  const md = loadMetadata(unfinished, 'link');
  if (md.type !== 'link' || md.link.name !== opts.name) throw new IntotoError('MALFORMED_LINK', `${unfinished} is not a preliminary link for step '${opts.name}'`);
  // The reference refuses to finish a link that the same key did not start.
  const check = checkSignature(md, opts.key.publicKey);
  if (check !== 'valid') throw new IntotoError('LINK_SIGNATURE_INVALID', `${unfinished}: ${check === 'missing' ? 'not signed by this key' : 'signature does not verify'}`);
  const link: Link = { ...md.link, products: { ...recordArtifacts(opts.products, opts), ...(opts.extraArtifacts ?? {}) } };
  const out = join(opts.metadataDirectory ?? opts.dir, linkFileName(opts.name, opts.key.publicKey.keyid));
  writeText(out, (await signMetadata(link, opts.key)).text);
  rmSync(unfinished, { force: true });
  return out;
}
