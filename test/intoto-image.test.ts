/**
 * The seed's build -> scan -> sign pipeline with a container image as the product: the build step
 * pushes the image (skopeo copies an OCI layout written by `cairn image save` into Debian's
 * docker-registry) and records `oci://REGISTRY/app:v1` with its manifest digest; scan and sign
 * take it as a material; the owner's layout binds them with MATCH rules, and `cairn intoto verify
 * --image oci://...` checks that the image in the registry now is the one the build produced.
 * A tag moved after delivery fails the inspection rule; a scan of the moved tag fails the scan
 * step's MATCH rule. Both name the image.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '@cairn/oci';
import { cairnIn, failureCode, type CliResult } from './intoto-cli.ts';
import { pushImage, startRegistry, type Registry } from './oci-fixtures.ts';

let reg: Registry;
let root: string;
const client = new RegistryClient({ dockerConfig: false });

before(async () => {
  reg = await startRegistry();
  root = mkdtempSync(join(tmpdir(), 'cairn-intoto-image-'));
});

after(async () => {
  await reg?.stop();
});

async function ok(p: Promise<CliResult>): Promise<CliResult> {
  const r = await p;
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return r;
}

const layoutFor = (image: string): string => `expires_in_days: 7
readme: build pushes the image, scan and sign take it by digest
keys: {build-runner: keys/build.pub, scan-runner: keys/scan.pub, signing: keys/sign.pub}
steps:
  - name: build
    functionaries: [build-runner]
    expected_materials: ["DISALLOW *"]
    expected_products: ["CREATE ${image}", "DISALLOW *"]
  - name: scan
    functionaries: [scan-runner]
    expected_materials: ["MATCH ${image} WITH PRODUCTS FROM build", "DISALLOW *"]
    expected_products: ["CREATE scan-report.json", "DISALLOW *"]
  - name: sign
    functionaries: [signing]
    expected_materials: ["MATCH ${image} WITH PRODUCTS FROM build", "MATCH scan-report.json WITH PRODUCTS FROM scan", "DISALLOW *"]
    expected_products: ["DISALLOW *"]
inspect:
  - name: no-critical
    run: sh -c "! grep -q CRITICAL scan-report.json"
    expected_materials:
      - REQUIRE ${image}
      - MATCH ${image} WITH PRODUCTS FROM build
      - MATCH scan-report.json WITH PRODUCTS FROM scan
      - DISALLOW *
    expected_products: ["ALLOW *"]
`;

test('in-toto layout with an image digest as the product: build pushes (skopeo, from a cairn image save layout), scan and sign take oci://REF; verify --image passes, then a moved tag fails naming the image', async () => {
  const image = `oci://${reg.host}/app:v1`;
  const keys = join(root, 'keys');
  mkdirSync(keys);
  for (const n of ['owner', 'build', 'scan', 'sign']) await ok(cairnIn(root, ['intoto', 'keygen', '-t', 'ed25519', `keys/${n}`]));
  writeFileSync(join(root, 'layout.yaml'), layoutFor(image));
  await ok(cairnIn(root, ['intoto', 'layout', 'layout.yaml', '--out', 'root.layout']));
  await ok(cairnIn(root, ['intoto', 'sign', '--layout', 'root.layout', '--key', 'keys/owner']));

  // What the build produces, as an OCI layout on disk: an image staged in the registry and saved.
  const staged = await pushImage(client, `${reg.host}/staging:v1`, 'the built image');
  const build = join(root, 'build');
  mkdirSync(build);
  await ok(cairnIn(build, ['image', 'save', `${reg.host}/staging:v1`, '--dir', 'image']));

  // build: the step's command pushes the image; its product is the image, resolved after the command.
  await ok(
    cairnIn(build, ['intoto', 'run', '--step', 'build', '--key', '../keys/build', '-p', image, '--', 'skopeo', 'copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', 'oci:image:v1', `docker://${reg.host}/app:v1`]),
  );
  const buildLink = readdirSync(build).find((f) => f.startsWith('build.') && f.endsWith('.link'))!;
  const recorded = JSON.parse(readFileSync(join(build, buildLink), 'utf8')).signed.products;
  assert.deepEqual(recorded, { [image]: { sha256: staged.digest.slice(7) } });

  // scan: the image as a material (resolved before the command), a report as the product.
  const scan = join(root, 'scan');
  mkdirSync(scan);
  const scanCmd = `skopeo inspect --raw --tls-verify=false docker://${reg.host}/app:v1 >/dev/null && echo '{"severity":"LOW"}' > scan-report.json`;
  await ok(cairnIn(scan, ['intoto', 'run', '--step', 'scan', '--key', '../keys/scan', '-m', image, '-p', 'scan-report.json', '--', 'sh', '-c', scanCmd]));

  // sign: the image and the report as materials (record only).
  const sign = join(root, 'sign');
  mkdirSync(sign);
  copyFileSync(join(scan, 'scan-report.json'), join(sign, 'scan-report.json'));
  await ok(cairnIn(sign, ['intoto', 'run', '--step', 'sign', '--key', '../keys/sign', '-m', image, 'scan-report.json', '-x']));

  const links = join(root, 'links');
  const final = join(root, 'final');
  mkdirSync(links);
  mkdirSync(final);
  for (const d of [build, scan, sign]) for (const f of readdirSync(d).filter((x) => x.endsWith('.link'))) copyFileSync(join(d, f), join(links, f));
  copyFileSync(join(scan, 'scan-report.json'), join(final, 'scan-report.json'));
  const verifyArgs = ['intoto', 'verify', '--layout', 'root.layout', '--layout-key', 'keys/owner.pub', '--link-dir', 'links', '--artifact-dir', 'final'];
  const passed = await cairnIn(root, [...verifyArgs, '--image', image]);
  assert.equal(passed.code, 0, passed.stderr);
  assert.match(passed.stdout, /passed all verification/);

  // Without --image the inspection's REQUIRE rule fails: a MATCH alone would match nothing and pass.
  const without = await cairnIn(root, verifyArgs);
  assert.equal(without.code, 1);
  assert.equal(failureCode(without), 'RULE_VIOLATION');

  // The tag is moved after delivery (registry write access): the delivered image is not the built one.
  await pushImage(client, `${reg.host}/app:v1`, 'a backdoored image');
  const moved = await cairnIn(root, [...verifyArgs, '--image', image]);
  assert.equal(moved.code, 1);
  assert.equal(failureCode(moved), 'RULE_VIOLATION');
  assert.match(moved.stderr, /no-critical/);
  assert.ok(moved.stderr.includes(image), moved.stderr);

  // A scan run against the moved tag records another digest: the scan step's MATCH with build fails.
  await ok(cairnIn(scan, ['intoto', 'run', '--step', 'scan', '--key', '../keys/scan', '-m', image, '-p', 'scan-report.json', '--', 'sh', '-c', scanCmd]));
  for (const f of readdirSync(scan).filter((x) => x.endsWith('.link'))) copyFileSync(join(scan, f), join(links, f));
  const rescanned = await cairnIn(root, [...verifyArgs, '--image', image]);
  assert.equal(rescanned.code, 1);
  assert.equal(failureCode(rescanned), 'RULE_VIOLATION');
  assert.match(rescanned.stderr, /item: scan/);
  assert.ok(rescanned.stderr.includes(image), rescanned.stderr);

  // Bad input: --image must name an oci:// reference; an image that is not there is NOT_FOUND.
  const usage = await cairnIn(root, [...verifyArgs, '--image', `${reg.host}/app:v1`]);
  assert.equal(usage.code, 2);
  const missing = await cairnIn(root, [...verifyArgs, '--image', `oci://${reg.host}/nothing:v1`]);
  assert.equal(missing.code, 1);
  assert.equal(failureCode(missing), 'NOT_FOUND');
});

test('skopeo reads a cairn image save layout: the image and its cosign .sig tag copy into a registry with their digests', async () => {
  const src = `${reg.host}/carry-skopeo:v1`;
  const img = await pushImage(client, src, 'carried by skopeo');
  const { generateKey, LocalSigner } = await import('@cairn/shared');
  const { signImage, digestTag } = await import('@cairn/oci');
  await signImage({ client, reference: src, sign: { signer: new LocalSigner(generateKey('ecdsa-p256')), tlogUpload: false }, format: 'legacy' });
  const dir = join(root, 'skopeo-layout');
  await ok(cairnIn(root, ['image', 'save', src, '--dir', dir]));
  for (const tag of ['v1', digestTag(img.digest, 'sig')]) {
    const r = spawnSync('skopeo', ['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', `oci:${dir}:${tag}`, `docker://${reg.host}/inner-skopeo:${tag}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
  }
  const inspect = spawnSync('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/inner-skopeo:v1`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.equal(JSON.parse(inspect.stdout).Digest, img.digest);
});

test('cairn intoto run: the default command timeout is 600 seconds (a step of more than 600 ms is not cut short)', async () => {
  const d = mkdtempSync(join(tmpdir(), 'cairn-intoto-timeout-'));
  await ok(cairnIn(d, ['intoto', 'keygen', '-t', 'ed25519', 'k']));
  const env = { ...process.env };
  delete env.IN_TOTO_LINK_CMD_EXEC_TIMEOUT;
  const r = await cairnIn(d, ['intoto', 'run', '--step', 'slowish', '--key', 'k', '--', 'sleep', '1.2'], env);
  assert.equal(r.code, 0, r.stderr);
  const link = JSON.parse(readFileSync(join(d, readdirSync(d).find((f) => f.startsWith('slowish.'))!), 'utf8'));
  assert.equal(link.signed.byproducts['return-value'], 0);
});
