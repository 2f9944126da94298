/** `cairn image tree|save|load`. */
import { resolve } from 'node:path';
import { imageTree, loadImage, parseReference, saveImage } from '@cairn/oci/verify';
import { CliError, parseFlags, type CliIO } from '../command.ts';
import { oneRef, REGISTRY_FLAGS, registryClient } from './image-common.ts';

export async function treeCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...REGISTRY_FLAGS, json: { type: 'boolean' } });
  const ref = parseReference(oneRef(positionals, 'tree'));
  const t = await imageTree(registryClient(values, io, ref.registry), ref);
  if (values.json === true) {
    io.stdout(JSON.stringify(t, null, 2) + '\n');
    return 0;
  }
  const lines = [`📦 ${ref.registry}/${ref.repository}@${t.digest}`];
  for (const m of t.manifests) lines.push(`└── platform ${m.platform ? `${m.platform.os}/${m.platform.architecture}` : '?'}: ${m.digest}`);
  for (const l of t.legacy) {
    lines.push(`└── 🔐 ${l.tag}`);
    for (const layer of l.layers) lines.push(`   └── ${layer.mediaType} ${layer.digest}${layer.annotations?.predicateType ? ` ${layer.annotations.predicateType}` : ''}`);
  }
  if (t.referrers.length > 0) lines.push(`└── 🔗 referrers (${t.referrersVia === 'api' ? 'referrers API' : 'tag schema'})`);
  for (const d of t.referrers) lines.push(`   └── ${d.artifactType ?? d.mediaType} ${d.digest}${d.annotations?.['dev.sigstore.bundle.predicateType'] ? ` ${d.annotations['dev.sigstore.bundle.predicateType']}` : ''}`);
  io.stdout(lines.join('\n') + '\n');
  return 0;
}

export async function saveCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...REGISTRY_FLAGS, dir: { type: 'string' } });
  const ref = parseReference(oneRef(positionals, 'save'));
  if (values.dir === undefined) throw new CliError('USAGE', 'cairn image save needs --dir D');
  const r = await saveImage(registryClient(values, io, ref.registry), ref, resolve(io.cwd, values.dir));
  io.stderr(`Saved ${ref.registry}/${ref.repository}@${r.digest} with ${r.manifests - 1} signature objects and referrers to ${values.dir}\n`);
  io.stdout(`${r.digest}\n`);
  return 0;
}

export async function loadCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...REGISTRY_FLAGS, dir: { type: 'string' } });
  const ref = parseReference(oneRef(positionals, 'load'));
  if (values.dir === undefined) throw new CliError('USAGE', 'cairn image load needs --dir D');
  const r = await loadImage(registryClient(values, io, ref.registry), resolve(io.cwd, values.dir), ref);
  io.stderr(`Pushed ${r.pushed} manifests into ${ref.registry}/${ref.repository}\n`);
  io.stdout(`${ref.registry}/${ref.repository}@${r.digest}\n`);
  return 0;
}
