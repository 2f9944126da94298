/**
 * Real parts for the image tests: Debian's docker-registry (distribution 2.8.2) started on a
 * loopback port with filesystem storage in a temporary folder (optionally with htpasswd Basic
 * auth), and test images written by code (config + layer blobs, an OCI manifest, a two-platform
 * index) through the real registry client.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryClient} from '@cairn/oci';
import { parseReference, OCI_MANIFEST, OCI_INDEX } from '@cairn/oci';

export interface Registry {
  host: string;
  dir: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  /** htpasswd Basic auth with this user and password. */
  user?: string;
  password?: string;
  /** distribution's token auth (`auth: token:`): realm of the token server, service, issuer, PEM root bundle. */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** https with this certificate and key (PEM files); `ca` is the PEM text the readiness check trusts. */
  tls?: { cert: string; key: string; ca: string };
  /** Listen address (default 127.0.0.1). */
  address?: string;
}

/** GET /v2/ once (http or https with the given CA): the status, or undefined when nothing answers. */
function ping(url: string, ca?: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { timeout: 1000, ...(ca !== undefined ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startRegistry(o: RegistryOptions = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-registry-'));
  const port = await freePort();
  const address = o.address ?? '127.0.0.1';
  let auth = '';
  if (o.user !== undefined && o.password !== undefined) {
    const r = spawnSync('htpasswd', ['-Bbn', o.user, o.password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    writeFileSync(join(dir, 'htpasswd'), r.stdout);
    auth = `auth:\n  htpasswd:\n    realm: cairn-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (o.token !== undefined) {
    const t = o.token;
    auth = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.rootCertBundle}\n`;
  }
  const tls = o.tls !== undefined ? `  tls:\n    certificate: ${o.tls.cert}\n    key: ${o.tls.key}\n` : '';
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${address}:${port}\n${tls}${auth}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const host = `${address}:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await ping(`${o.tls ? 'https' : 'http'}://${host}/v2/`, o.tls?.ca);
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`docker-registry did not start: ${stderr.slice(0, 2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    dir,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

/** Pushes a small single-platform image (its own config and one layer) and tags it. */
export async function pushImage(client: RegistryClient, ref: string, seed: string, platform = { architecture: 'amd64', os: 'linux' }): Promise<{ digest: string; size: number }> {
  const r = parseReference(ref);
  const config = Buffer.from(JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: [] }, config: { Labels: { seed } } }));
  const layer = Buffer.from(`layer of ${seed} ${platform.architecture}`);
  const c = await client.pushBlob(r, config);
  const l = await client.pushBlob(r, layer, { chunkBytes: 7 });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size }],
    }),
  );
  const put = await client.putManifest(r, r.tag ?? r.digest ?? 'latest', manifest, OCI_MANIFEST);
  return { digest: put.digest, size: manifest.length };
}

/** A two-platform index (linux/amd64, linux/arm64) tagged `ref`. */
export async function pushIndex(client: RegistryClient, ref: string, seed: string): Promise<{ digest: string; children: string[] }> {
  const r = parseReference(ref);
  const repo = `${r.registry}/${r.repository}`;
  const amd = await pushImage(client, `${repo}@sha256:${'0'.repeat(64)}`.replace(/@.*/, ':tmp-amd64'), seed, { architecture: 'amd64', os: 'linux' });
  const arm = await pushImage(client, `${repo}:tmp-arm64`, seed, { architecture: 'arm64', os: 'linux' });
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: OCI_MANIFEST, digest: arm.digest, size: arm.size, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }),
  );
  const put = await client.putManifest(r, r.tag ?? 'latest', index, OCI_INDEX);
  return { digest: put.digest, children: [amd.digest, arm.digest] };
}
