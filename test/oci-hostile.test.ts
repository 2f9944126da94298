/**
 * A hostile registry (a loopback HTTP server written here: the faults cannot be caused with a
 * real registry) and a clearly labelled TEST SHIM for the native referrers API, which
 * distribution 2.8.2 lacks: the shim answers GET /v2/<name>/referrers/<digest> per
 * distribution-spec 1.1 (an image index, Link paging, OCI-Subject on manifest PUTs) and passes
 * everything else to the real docker-registry behind it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { generateKey, LocalSigner } from '@cairn/shared';
import { parseTrustedRootJson } from '@cairn/verify';
import { RegistryClient, OciError, parseReference, verifyImage, signImage, attestImage, digestTag, OCI_MANIFEST, OCI_INDEX } from '@cairn/oci';
import { pushImage, startRegistry, type Registry } from './oci-fixtures.ts';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const EMPTY_TRUST = parseTrustedRootJson(JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] }));

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; host: string }> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, host: `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
    });
  });
}

let hostile: { server: Server; host: string };
const subjectDigest = sha('the image');
const sigConfig = Buffer.from('{}');
const manyLayers = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(sigConfig), size: 2 },
    layers: Array.from({ length: 10_000 }, (_, i) => ({ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha(String(i)), size: 1, annotations: { 'dev.cosignproject.cosign/signature': 'MEUC' } })),
  }),
);
const good = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(sigConfig), size: 2 }, layers: [] }));
const hanging: ServerResponse[] = [];

before(async () => {
  hostile = await listen((req, res) => {
    const url = req.url ?? '';
    const send = (status: number, body: Buffer | string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, headers);
      res.end(body);
    };
    if (url === '/v2/lie/manifests/v1') return send(200, good, { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha('something else') });
    if (url === `/v2/lie/manifests/${sha('asked for')}`) return send(200, good, { 'content-type': OCI_MANIFEST });
    if (url === '/v2/big/manifests/v1') return send(200, Buffer.alloc(5 * 1024 * 1024, 0x20), { 'content-type': OCI_MANIFEST });
    if (url.startsWith('/v2/big/blobs/')) return send(200, Buffer.alloc(1024 * 1024, 1));
    if (url === `/v2/many/manifests/${subjectDigest}`) return send(200, good, { 'content-type': OCI_MANIFEST });
    if (url === `/v2/many/manifests/${digestTag(subjectDigest, 'sig')}`) return send(200, manyLayers, { 'content-type': OCI_MANIFEST });
    if (url === '/v2/loop/manifests/v1') return send(302, '', { location: '/v2/loop/manifests/v1' });
    if (url === '/v2/away/manifests/v1') return send(302, '', { location: 'http://127.0.0.2:9/v2/x/manifests/v1' });
    if (url === '/v2/downgrade/manifests/v1') return send(302, '', { location: 'http://10.255.255.1/v2/x/manifests/v1' });
    if (url.startsWith('/v2/tok/')) return send(401, '{}', { 'www-authenticate': `Bearer realm="http://${hostile.host}/token",service="hostile"` });
    if (url.startsWith('/token')) {
      hanging.push(res); // never answers
      return;
    }
    if (url === `/v2/dangling/manifests/${subjectDigest}`) return send(200, good, { 'content-type': OCI_MANIFEST });
    if (url.startsWith(`/v2/dangling/referrers/${subjectDigest}`)) {
      const idx = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [1, 2, 3].map((i) => ({ mediaType: OCI_MANIFEST, digest: sha(`missing ${i}`), size: 100, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' })) };
      return send(200, JSON.stringify(idx), { 'content-type': OCI_INDEX });
    }
    return send(404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', { 'content-type': 'application/json' });
  });
});

after(() => {
  for (const r of hanging) r.destroy();
  hostile.server.closeAllConnections();
  hostile.server.close();
});

const client = (): RegistryClient => new RegistryClient({ dockerConfig: false, timeoutMs: 3_000, retries: 0 });
const repo = (name: string) => parseReference(`${hostile.host}/${name}`);
const code = (c: string) => (e: unknown) => e instanceof OciError && e.code === c;

test('hostile: a manifest whose bytes do not match the announced or asked-for digest is DIGEST_MISMATCH', async () => {
  await assert.rejects(client().getManifest(repo('lie'), 'v1'), code('DIGEST_MISMATCH'));
  await assert.rejects(client().getManifest(repo('lie'), sha('asked for')), code('DIGEST_MISMATCH'));
});

test('hostile: an oversized manifest and a blob longer than its descriptor are TOO_LARGE (the body is not read to its end)', async () => {
  await assert.rejects(client().getManifest(repo('big'), 'v1'), code('TOO_LARGE'));
  await assert.rejects(client().getBlob(repo('big'), { digest: sha('x'), size: 10 }), code('TOO_LARGE'));
  await assert.rejects(new RegistryClient({ dockerConfig: false, limits: { blobBytes: 100 } }).getBlob(repo('big'), { digest: sha('x'), size: 1000 }), code('TOO_LARGE'));
});

test('hostile: a signature manifest with 10,000 layers is refused with TOO_MANY_DESCRIPTORS', async () => {
  const r = await verifyImage({ client: client(), reference: repo('many'), digest: subjectDigest, trustedRoot: EMPTY_TRUST, policy: { publicKeys: [new LocalSigner(generateKey('ecdsa-p256')).publicKey.toPem()] } });
  assert.equal(r.verified, false);
  assert.equal(r.signatures.length, 1);
  assert.equal(r.signatures[0]?.code, 'TOO_MANY_DESCRIPTORS');
});

test('hostile: a redirect loop is TOO_MANY_REDIRECTS; a manifest redirect to another host is REDIRECT_REFUSED', async () => {
  await assert.rejects(client().getManifest(repo('loop'), 'v1'), code('TOO_MANY_REDIRECTS'));
  await assert.rejects(client().getManifest(repo('away'), 'v1'), code('REDIRECT_REFUSED'));
});

test('hostile: a token endpoint that never answers ends at the deadline with TIMEOUT', async () => {
  await assert.rejects(new RegistryClient({ dockerConfig: false, timeoutMs: 500 }).getManifest(repo('tok'), 'v1'), code('TIMEOUT'));
});

test('hostile: a referrers index pointing at missing manifests gives one NOT_FOUND finding each, nothing verified', async () => {
  const r = await verifyImage({ client: client(), reference: repo('dangling'), digest: subjectDigest, trustedRoot: EMPTY_TRUST, policy: { publicKeys: [new LocalSigner(generateKey('ecdsa-p256')).publicKey.toPem()] } });
  assert.equal(r.referrersVia, 'api');
  assert.equal(r.verified, false);
  assert.deepEqual(r.signatures.map((f) => f.code), ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
});

test('plain http to a non-loopback host is INSECURE_REFUSED (here: a redirect to one), unless allowHttp', async () => {
  await assert.rejects(client().getManifest(repo('downgrade'), 'v1'), code('INSECURE_REFUSED'));
  // With allowHttp the scheme passes and the cross-host rule refuses it instead.
  await assert.rejects(new RegistryClient({ dockerConfig: false, allowHttp: true, retries: 0 }).getManifest(repo('downgrade'), 'v1'), code('REDIRECT_REFUSED'));
});

// ---- TEST SHIM: the native referrers API in front of the real docker-registry 2.8.2 ----
let real: Registry;
let shim: { server: Server; host: string };
const referrers = new Map<string, { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }[]>();

before(async () => {
  real = await startRegistry();
  shim = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url ?? '/', `http://${shim.host}`);
        const m = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
        if (m && req.method === 'GET') {
          const all = referrers.get(`${m[1]}@${m[2]}`) ?? [];
          const page = Number(url.searchParams.get('page') ?? '0');
          const next = page + 1 < all.length ? { link: `</v2/${m[1]}/referrers/${m[2]}?page=${page + 1}>; rel="next"` } : {};
          res.writeHead(200, { 'content-type': OCI_INDEX, ...next });
          res.end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: all.slice(page, page + 1) }));
          return;
        }
        const up = await fetch(`http://${real.host}${req.url ?? '/'}`, {
          method: req.method,
          headers: Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && k !== 'host' && k !== 'content-length')) as Record<string, string>,
          ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
          redirect: 'manual',
        });
        const headers: Record<string, string> = {};
        up.headers.forEach((v, k) => {
          if (k === 'location') headers[k] = v.replace(real.host, shim.host);
          else if (k !== 'content-encoding' && k !== 'transfer-encoding') headers[k] = v;
        });
        const mm = /^\/v2\/(.+)\/manifests\//.exec(url.pathname);
        if (mm && req.method === 'PUT' && up.status === 201) {
          const j = JSON.parse(body.toString('utf8'));
          if (j.subject?.digest) {
            const key = `${mm[1]}@${j.subject.digest}`;
            referrers.set(key, [...(referrers.get(key) ?? []), { mediaType: j.mediaType, digest: sha(body), size: body.length, ...(j.artifactType ? { artifactType: j.artifactType } : {}), ...(j.annotations ? { annotations: j.annotations } : {}) }]);
            headers['oci-subject'] = j.subject.digest;
          }
        }
        res.writeHead(up.status, headers);
        res.end(Buffer.from(await up.arrayBuffer()));
      })();
    });
  });
});

after(async () => {
  shim.server.close();
  await real.stop();
});

test('TEST SHIM referrers API: signatures and attestations are pushed as referrers (OCI-Subject, no fallback tag) and found through paged referrers', async () => {
  const c = new RegistryClient({ dockerConfig: false });
  const ref = `${shim.host}/native:v1`;
  const img = await pushImage(c, ref, 'native');
  const signer = new LocalSigner(generateKey('ecdsa-p256'));
  const signed = await signImage({ client: c, reference: ref, sign: { signer, tlogUpload: false } });
  assert.equal(signed[0]?.via, 'api');
  await attestImage({ client: c, reference: ref, sign: { signer, tlogUpload: false }, predicateType: 'slsaprovenance', predicate: { buildDefinition: { buildType: 'x' } } });
  await assert.rejects(c.getManifest(parseReference(ref), digestTag(img.digest)), code('NOT_FOUND'));
  const r = await verifyImage({
    client: c,
    reference: ref,
    trustedRoot: EMPTY_TRUST,
    policy: { publicKeys: [signer.publicKey.toPem()], tlogThreshold: 0, timestampThreshold: 0 },
    attestations: [{ predicateType: 'slsaprovenance', conditions: ['buildDefinition.buildType=x'] }],
  });
  assert.equal(r.referrersVia, 'api');
  assert.equal(r.verified, true, JSON.stringify(r));
  assert.equal(r.signatures.length, 1);
  assert.equal(r.attestations.length, 1);
  assert.equal(r.requirements[0]?.satisfied, true);
});
