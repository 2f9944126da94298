/**
 * `cairn intoto`: in-toto links and layouts that the Debian/python in-toto 1.3.1 reference reads
 * and writes (classic envelope), plus DSSE envelopes and keyless links in the transparency log.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isCairnError, systemClock } from '@cairn/shared';
import { CliError, type CliIO, type Command } from '../command.ts';
import {
  IntotoError,
  generateKeyFiles,
  linkFileName,
  loadDescription,
  loadMetadata,
  loadPublicKey,
  loadSigningKey,
  recordStart,
  recordStop,
  runStep,
  signLinkKeyless,
  signMetadata,
  unsignedMetadataText,
  verifyLayout,
  type IntotoPublicKey,
  type Link,
} from '@cairn/intoto';
import { writeText } from '@cairn/intoto';
import { MAX_EXCLUDE_PATTERNS } from '@cairn/intoto';

const USAGE = `Usage: cairn intoto <subcommand> [options]

Subcommands:
  keygen   generate a functionary key in in-toto-keygen's formats
  run      run a step's command and record a signed link
  record   record a step in two phases: record start (materials), record stop (products)
  layout   build an unsigned layout from a YAML/JSON description
  sign     sign a layout (or link) with one or more keys
  verify   verify a final product against a signed layout and its links

Keys are read in the reference's formats: securesystemslib JSON (ed25519, ecdsa) or PEM
(RSA 'RSA PRIVATE KEY' PKCS#1, SEC1, PKCS#8, and SPKI public keys); the type is detected,
so no -t flag is needed. Key IDs are computed exactly as securesystemslib computes them.

cairn intoto keygen [-t ed25519|ecdsa|rsa] [-b BITS] OUT
  Writes OUT (private, mode 0600) and OUT.pub. ed25519 and ecdsa are securesystemslib JSON,
  rsa (the default, as in-toto-keygen; -b 2048|3072|4096, default 3072) is PEM. Prints the keyid.

cairn intoto run --step NAME (--key K | --keyless) [options] -- CMD [ARGS...]
  -n, --step NAME              step name (the link is written as NAME.<keyid[:8]>.link)
  -k, --key FILE               signing key
  -m, --materials PATH...      files/directories recorded before the command (walked recursively)
  -p, --products PATH...       files/directories recorded after the command
                               A PATH oci://REGISTRY/REPO[:TAG|@DIGEST] is a container image: recorded
                               under that name with {sha256: its manifest digest}, resolved through the
                               registry (materials before the command, products after it; also in
                               record start/stop). Registry flags: --allow-http-registry,
                               --registry-ca-file F, --registry-username U --registry-password-file F
                               (else ~/.docker/config.json), as in 'cairn image'.
  -s, --record-streams         record stdout and stderr in the byproducts (the default)
      --no-record-streams      record empty stdout/stderr (the reference's default)
  -x, --no-command             record materials and products only, run nothing
      --base-path DIR          record paths relative to DIR (the command still runs in the
                               current directory, as with in-toto-run)  [IN_TOTO_ARTIFACT_BASE_PATH]
      --lstrip-paths P...      strip these prefixes from recorded paths
      --exclude PATTERN...     gitwildmatch exclude patterns (replace the default
                               '*.link*' '.git' '*.pyc' '*~')   [IN_TOTO_ARTIFACT_EXCLUDE_PATTERNS,
                               colon-separated]
      --record-environment     record {"workdir": ...} in the link's environment
  -d, --metadata-directory D   where to write the link (default: the current directory)
      --timeout SECONDS        command time limit (default 600; the reference's default is 10)
                               [IN_TOTO_LINK_CMD_EXEC_TIMEOUT]
      --dsse                   write a DSSE envelope instead of the classic envelope
      --keyless                sign with a short-lived certificate from Cairn's CA and record the
                               link in the transparency log (dsse 0.0.1); writes the DSSE link and
                               NAME.<keyid[:8]>.link.sigstore.json (a Sigstore bundle) next to it.
                               The bundle verifies with 'sigstore verify BUNDLE' (its payload is the
                               link itself, not an in-toto Statement). Layouts name functionary
                               keys, so 'cairn intoto verify' does not count keyless links.
      --identity-token JWT     OIDC token for --keyless (default: $SIGSTORE_ID_TOKEN)
      --url URL                Cairn base URL for --keyless (default: $CAIRN_URL)
      --fulcio-url URL         CA URL (default: --url)
      --rekor-url URL          transparency log URL (default: --url)
  The command's exit status is recorded as byproducts.return-value, not judged (as the reference).

cairn intoto record start --step NAME --key K [-m PATH...] [--base-path D] [--exclude P...]
                           [--lstrip-paths P...] [--record-environment]
cairn intoto record stop  --step NAME --key K [-p PATH...] [--base-path D] [--exclude P...]
                           [--lstrip-paths P...] [-d DIR]
  For steps that are not one command. start writes the signed preliminary link
  .NAME.<keyid[:8]>.link-unfinished in the current directory; stop checks it was signed by the same
  key, records the products, writes NAME.<keyid[:8]>.link and removes the preliminary file. The
  files are in-toto-record's: either tool can start a step and the other stop it.

cairn intoto layout DESCRIPTION [--out FILE]
  Builds an unsigned classic layout from a description (YAML or JSON):
    expires: 2027-01-01T00:00:00Z      # or expires_in_days: 30 (default 30 days)
    readme: text
    keys: {alice: keys/alice.pub, bob: keys/bob.pub}    # paths relative to DESCRIPTION
    steps:
      - {name: build, functionaries: [alice], threshold: 1,
         expected_command: "tar -czf dist/app.tar.gz src",
         expected_materials: ["ALLOW src/*", "DISALLOW *"],
         expected_products: ["CREATE dist/app.tar.gz", "DISALLOW *"]}
    inspect:
      - {name: untar, run: "tar -xzf dist/app.tar.gz", expected_materials: [...], expected_products: [...]}
  Writes to FILE or standard output. Sign it with 'cairn intoto sign'.

cairn intoto sign (--layout FILE | --file FILE) --key K... [--out FILE] [--dsse] [--append]
  Signs in place (or to --out). Classic signatures replace existing ones unless --append;
  --dsse writes a DSSE envelope (application/vnd.in-toto+json). A link without --out is written
  to NAME.<keyid[:8]>.link in the current directory, as in-toto-sign does.

cairn intoto verify --layout FILE --layout-key K... [--link-dir DIR] [options]
      --link-dir DIR           where the links are (default: the current directory)
      --artifact-dir DIR       the final product directory inspections start from (default: the
                               current directory)
      --inspection-timeout S   per inspection command (default 600)
      --image oci://REF...     delivered container images: each resolved once to its digest and
                               added to every inspection's materials and products under that name,
                               so an inspection rule 'MATCH oci://REF WITH PRODUCTS FROM build'
                               checks the image in the registry is the one the build step produced
  -v, --verbose                print each verification stage
  Verifies in the reference's order: layout signatures (every --layout-key must have signed),
  expiry, links and thresholds, sublayouts, command alignment (a warning only), step rules,
  inspections, inspection rules. Exit 0 on success, 1 on failure (error code and the step,
  rule and artifacts named), 2 on usage errors.
  DIFFERENCE from in-toto-verify: inspections run in a fresh temporary COPY of the artifact
  directory, not in the current directory, so nothing is left behind and verifying twice gives
  the same result; inspection links are not written to disk.`;

/** Registry flags of the steps and verifications that name images (`oci://REF` artifacts). */
const IMAGE_REGISTRY_FLAGS = {
  'allow-http-registry': { kind: 'boolean' },
  'registry-ca-file': { kind: 'string' },
  'registry-username': { kind: 'string' },
  'registry-password-file': { kind: 'string' },
} as const;

/** `oci://REF` artifacts resolved through the registry; the image code is loaded only when one is named. */
async function imageArtifacts(names: string[], values: Record<string, string | boolean | string[]>, io: CliIO): Promise<Record<string, Record<string, string>>> {
  if (names.length === 0) return {};
  const { resolveImageArtifacts } = await import('./image-common.ts');
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  return resolveImageArtifacts(names, { 'allow-http-registry': values['allow-http-registry'] === true, 'registry-ca-file': s('registry-ca-file'), 'registry-username': s('registry-username'), 'registry-password-file': s('registry-password-file') }, io);
}

function splitImageArtifacts(args: string[]): { files: string[]; images: string[] } {
  return { files: args.filter((a) => !a.startsWith('oci://')), images: args.filter((a) => a.startsWith('oci://')) };
}

type FlagSpec = Record<string, { kind: 'string' | 'boolean' | 'list'; short?: string }>;

/** argparse-like flags: `list` flags take every following argument up to the next flag (nargs='+'). */
function parseNargs(args: string[], spec: FlagSpec): { values: Record<string, string | boolean | string[]>; positionals: string[] } {
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([k, s]) => [s.short!, k]));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq > 0 ? a.slice(eq + 1) : undefined;
    } else if (a.startsWith('-') && a.length === 2) {
      name = byShort.get(a[1]!);
      if (!name) throw new CliError('USAGE', `unknown option ${a}`);
    } else {
      positionals.push(a);
      continue;
    }
    const s = spec[name];
    if (!s) throw new CliError('USAGE', `unknown option --${name}`);
    if (s.kind === 'boolean') {
      if (inline !== undefined) throw new CliError('USAGE', `--${name} takes no value`);
      values[name] = true;
    } else if (s.kind === 'string') {
      const v = inline ?? args[++i];
      if (v === undefined) throw new CliError('USAGE', `--${name} needs a value`);
      values[name] = v;
    } else {
      const list = (values[name] as string[] | undefined) ?? [];
      if (inline !== undefined) list.push(inline);
      while (i + 1 < args.length && !args[i + 1]!.startsWith('-')) list.push(args[++i]!);
      if (list.length === 0) throw new CliError('USAGE', `--${name} needs at least one value`);
      values[name] = list;
    }
  }
  return { values, positionals };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

/**
 * Exclude patterns: --exclude, else $IN_TOTO_ARTIFACT_EXCLUDE_PATTERNS (colon-separated, as
 * in-toto's user_settings reads it), else the defaults. Bounded in number.
 */
function excludes(v: unknown, io: CliIO): string[] {
  const given = list(v);
  const fromEnv = io.env.IN_TOTO_ARTIFACT_EXCLUDE_PATTERNS;
  const patterns = given.length > 0 ? given : fromEnv ? fromEnv.split(':') : [];
  if (patterns.length > MAX_EXCLUDE_PATTERNS) throw new CliError('USAGE', `at most ${MAX_EXCLUDE_PATTERNS} exclude patterns`);
  return patterns;
}

/** --base-path, else $IN_TOTO_ARTIFACT_BASE_PATH, else the current directory. */
function basePathOf(v: unknown, io: CliIO): string {
  const p = str(v) ?? io.env.IN_TOTO_ARTIFACT_BASE_PATH;
  return p !== undefined && p !== '' ? resolve(io.cwd, p) : io.cwd;
}

function seconds(v: unknown, flag: string, dflt: number): number {
  if (v === undefined) return dflt * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new CliError('USAGE', `${flag} must be a number of seconds from 1 to 86400`);
  return Math.round(n * 1000);
}

function keygen(args: string[], io: CliIO): Promise<number> {
  return Promise.resolve().then(() => keygenSync(args, io));
}

function keygenSync(args: string[], io: CliIO): number {
  const { values, positionals } = parseNargs(args, { type: { kind: 'string', short: 't' }, bits: { kind: 'string', short: 'b' } });
  const type = str(values.type) ?? 'rsa';
  if (type !== 'ed25519' && type !== 'ecdsa' && type !== 'rsa') throw new CliError('USAGE', '-t must be ed25519, ecdsa or rsa');
  if (positionals.length !== 1) throw new CliError('USAGE', 'cairn intoto keygen needs one OUT path');
  const out = resolve(io.cwd, positionals[0]!);
  const bits = values.bits === undefined ? 3072 : Number(values.bits);
  const pub = generateKeyFiles(type, out, bits);
  io.stdout(`${pub.keyid}\n`);
  return 0;
}

async function run(args: string[], io: CliIO): Promise<number> {
  const dash = args.indexOf('--');
  const flagArgs = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1) : [];
  const { values, positionals } = parseNargs(flagArgs, {
    step: { kind: 'string', short: 'n' },
    'step-name': { kind: 'string' },
    key: { kind: 'string', short: 'k' },
    materials: { kind: 'list', short: 'm' },
    products: { kind: 'list', short: 'p' },
    'record-streams': { kind: 'boolean', short: 's' },
    'no-record-streams': { kind: 'boolean' },
    'no-command': { kind: 'boolean', short: 'x' },
    'base-path': { kind: 'string' },
    'lstrip-paths': { kind: 'list' },
    exclude: { kind: 'list' },
    'record-environment': { kind: 'boolean' },
    'metadata-directory': { kind: 'string', short: 'd' },
    timeout: { kind: 'string' },
    dsse: { kind: 'boolean' },
    keyless: { kind: 'boolean' },
    'identity-token': { kind: 'string' },
    url: { kind: 'string' },
    'fulcio-url': { kind: 'string' },
    'rekor-url': { kind: 'string' },
    ...IMAGE_REGISTRY_FLAGS,
  });
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument '${positionals[0]}' (put the command after --)`);
  const name = str(values.step) ?? str(values['step-name']);
  if (!name) throw new CliError('USAGE', 'cairn intoto run needs --step NAME');
  if (name.includes('/') || name === '.' || name === '..') throw new CliError('USAGE', '--step must be usable as a file name');
  const keyless = values.keyless === true;
  const keyPath = str(values.key);
  if (keyless === (keyPath !== undefined)) throw new CliError('USAGE', 'give exactly one of --key FILE or --keyless');
  if (values['no-command'] === true ? command.length > 0 : command.length === 0) {
    throw new CliError('USAGE', 'give a command after -- (or --no-command to record without one)');
  }
  // Load the key before running anything: a bad key must not leave a half-done step.
  const key = keyPath !== undefined ? loadSigningKey(resolve(io.cwd, keyPath)) : undefined;
  let keylessConf: { token: string; fulcio: string; rekor: string } | undefined;
  if (keyless) {
    const token = str(values['identity-token']) ?? io.env.SIGSTORE_ID_TOKEN;
    if (!token) throw new IntotoError('NO_IDENTITY_TOKEN', '--keyless needs --identity-token or SIGSTORE_ID_TOKEN');
    const base = str(values.url) ?? io.env.CAIRN_URL;
    const fulcio = str(values['fulcio-url']) ?? base;
    const rekor = str(values['rekor-url']) ?? base;
    if (!fulcio || !rekor) throw new CliError('USAGE', '--keyless needs --url (or --fulcio-url and --rekor-url)');
    // Checked before the step runs, so a typo does not cost a whole build.
    for (const u of [fulcio, rekor]) if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) throw new CliError('USAGE', `not an http(s) URL: ${u}`);
    keylessConf = { token, fulcio, rekor };
  }
  const basePath = basePathOf(values['base-path'], io);
  const materials = splitImageArtifacts(list(values.materials));
  const products = splitImageArtifacts(list(values.products));
  // Images among the materials are resolved before the command, those among the products after it.
  const imageMaterials = await imageArtifacts(materials.images, values, io);
  const link: Link = runStep({
    name,
    materials: materials.files,
    products: products.files,
    command,
    basePath,
    cwd: io.cwd,
    excludePatterns: excludes(values.exclude, io),
    lstripPaths: list(values['lstrip-paths']),
    recordStreams: values['no-record-streams'] !== true,
    recordEnvironment: values['record-environment'] === true,
    timeoutMs: seconds(values.timeout ?? io.env.IN_TOTO_LINK_CMD_EXEC_TIMEOUT, '--timeout', 600),
    env: io.env,
    onOutput: (o, e) => {
      if (o) io.stdout(o);
      if (e) io.stderr(e);
    },
  });
  link.materials = { ...link.materials, ...imageMaterials };
  link.products = { ...link.products, ...(await imageArtifacts(products.images, values, io)) };
  const outDir = str(values['metadata-directory']) !== undefined ? resolve(io.cwd, str(values['metadata-directory'])!) : io.cwd;
  if (keylessConf) {
    const r = await signLinkKeyless(link, { identityToken: keylessConf.token, fulcioUrl: keylessConf.fulcio, rekorUrl: keylessConf.rekor });
    const file = join(outDir, linkFileName(name, r.keyid));
    writeText(file, r.envelopeText);
    writeText(`${file}.sigstore.json`, r.bundleText);
    io.stderr(`cairn intoto run: signed '${name}' as ${r.identity}; transparency log index ${r.logIndex}\n`);
    io.stdout(`${file}\n${file}.sigstore.json\n`);
    return 0;
  }
  const signed = await signMetadata(link, key!, { dsse: values.dsse === true });
  const file = join(outDir, linkFileName(name, key!.publicKey.keyid));
  writeText(file, signed.text);
  io.stdout(`${file}\n`);
  return 0;
}

async function record(args: string[], io: CliIO): Promise<number> {
  const [phase, ...rest] = args;
  if (phase !== 'start' && phase !== 'stop') throw new CliError('USAGE', 'cairn intoto record start|stop ...');
  const { values, positionals } = parseNargs(rest, {
    step: { kind: 'string', short: 'n' },
    'step-name': { kind: 'string' },
    key: { kind: 'string', short: 'k' },
    materials: { kind: 'list', short: 'm' },
    products: { kind: 'list', short: 'p' },
    'base-path': { kind: 'string' },
    'lstrip-paths': { kind: 'list' },
    exclude: { kind: 'list' },
    'record-environment': { kind: 'boolean' },
    'metadata-directory': { kind: 'string', short: 'd' },
    ...IMAGE_REGISTRY_FLAGS,
  });
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument '${positionals[0]}'`);
  const name = str(values.step) ?? str(values['step-name']);
  if (!name || name.includes('/') || name === '.' || name === '..') throw new CliError('USAGE', 'cairn intoto record needs --step NAME (usable as a file name)');
  const keyPath = str(values.key);
  if (!keyPath) throw new CliError('USAGE', 'cairn intoto record needs --key FILE');
  if (phase === 'start' && values.products !== undefined) throw new CliError('USAGE', 'products are recorded by record stop');
  if (phase === 'stop' && values.materials !== undefined) throw new CliError('USAGE', 'materials are recorded by record start');
  const key = loadSigningKey(resolve(io.cwd, keyPath));
  const common = { name, key, dir: io.cwd, basePath: basePathOf(values['base-path'], io), excludePatterns: excludes(values.exclude, io), lstripPaths: list(values['lstrip-paths']) };
  if (phase === 'start') {
    const m = splitImageArtifacts(list(values.materials));
    const extra = await imageArtifacts(m.images, values, io);
    io.stdout(`${await recordStart({ ...common, materials: m.files, ...(m.images.length > 0 ? { extraArtifacts: extra } : {}), recordEnvironment: values['record-environment'] === true, cwd: io.cwd })}\n`);
  } else {
    const md = str(values['metadata-directory']);
    const p = splitImageArtifacts(list(values.products));
    const extra = await imageArtifacts(p.images, values, io);
    io.stdout(`${await recordStop({ ...common, products: p.files, ...(p.images.length > 0 ? { extraArtifacts: extra } : {}), metadataDirectory: md !== undefined ? resolve(io.cwd, md) : undefined })}\n`);
  }
  return 0;
}

function layout(args: string[], io: CliIO): Promise<number> {
  return Promise.resolve().then(() => layoutSync(args, io));
}

function layoutSync(args: string[], io: CliIO): number {
  const { values, positionals } = parseNargs(args, { out: { kind: 'string', short: 'o' } });
  if (positionals.length !== 1) throw new CliError('USAGE', 'cairn intoto layout needs one DESCRIPTION file');
  const l = loadDescription(resolve(io.cwd, positionals[0]!), systemClock);
  const text = unsignedMetadataText(l);
  const out = str(values.out);
  if (out) writeText(resolve(io.cwd, out), text);
  else io.stdout(text + '\n');
  return 0;
}

async function sign(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseNargs(args, {
    layout: { kind: 'string', short: 'l' },
    file: { kind: 'string', short: 'f' },
    key: { kind: 'list', short: 'k' },
    out: { kind: 'string', short: 'o' },
    dsse: { kind: 'boolean' },
    append: { kind: 'boolean', short: 'a' },
  });
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument '${positionals[0]}'`);
  const target = str(values.layout) ?? str(values.file);
  if (!target || (values.layout !== undefined && values.file !== undefined)) throw new CliError('USAGE', 'give one of --layout FILE or --file FILE');
  const keys = list(values.key).map((k) => loadSigningKey(resolve(io.cwd, k)));
  if (keys.length === 0) throw new CliError('USAGE', 'cairn intoto sign needs --key FILE...');
  const path = resolve(io.cwd, target);
  const md = loadMetadata(path, values.layout !== undefined ? 'layout' : undefined);
  const obj = md.type === 'layout' ? md.layout : md.link;
  const dsse = values.dsse === true;
  if (values.append === true && md.kind !== (dsse ? 'dsse' : 'classic')) throw new CliError('USAGE', '--append needs the file to be in the same envelope already');
  let existing = values.append === true ? [...md.signatures] : [];
  let text = '';
  for (const k of keys) {
    const s = await signMetadata(obj, k, { dsse, existing });
    existing = dsse ? [...existing, s.signature] : [...existing.filter((x) => x.keyid !== s.signature.keyid), s.signature];
    text = s.text;
  }
  let out = str(values.out) !== undefined ? resolve(io.cwd, str(values.out)!) : path;
  if (str(values.out) === undefined && md.type === 'link') out = join(io.cwd, linkFileName(md.link.name, keys[0]!.publicKey.keyid));
  writeText(out, text);
  io.stdout(`${out}\n`);
  return 0;
}

async function verify(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseNargs(args, {
    layout: { kind: 'string', short: 'l' },
    'layout-key': { kind: 'list', short: 'k' },
    'link-dir': { kind: 'string', short: 'd' },
    'artifact-dir': { kind: 'string' },
    'inspection-timeout': { kind: 'string' },
    verbose: { kind: 'boolean', short: 'v' },
    image: { kind: 'list' },
    ...IMAGE_REGISTRY_FLAGS,
  });
  const images = list(values.image);
  for (const i of images) if (!i.startsWith('oci://')) throw new CliError('USAGE', `--image takes oci://REGISTRY/REPO[:TAG|@DIGEST], not ${i}`);
  // The delivered images are resolved once, before anything is verified.
  const finalProducts = await imageArtifacts(images, values, io);
  return verifyResolved(values, positionals, finalProducts, io);
}

function verifyResolved(values: Record<string, string | boolean | string[]>, positionals: string[], finalProducts: Record<string, Record<string, string>>, io: CliIO): number {
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument '${positionals[0]}'`);
  const layoutPath = str(values.layout);
  const keyPaths = list(values['layout-key']);
  if (!layoutPath || keyPaths.length === 0) throw new CliError('USAGE', 'cairn intoto verify needs --layout FILE and --layout-key FILE...');
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(io.cwd, p));
  const linkDir = at(str(values['link-dir']) ?? '.');
  const artifactDir = at(str(values['artifact-dir']) ?? '.');
  if (!existsSync(linkDir)) throw new CliError('USAGE', `link directory ${linkDir} does not exist`);
  const verbose = values.verbose === true;
  try {
    const keys: IntotoPublicKey[] = keyPaths.map((k) => loadPublicKey(at(k)));
    const md = loadMetadata(at(layoutPath), 'layout');
    if (md.type !== 'layout') throw new IntotoError('MALFORMED_LAYOUT', `${layoutPath} is not a layout`);
    verifyLayout({
      layout: md,
      layoutKeys: keys,
      linkDir,
      artifactDir,
      finalProducts,
      inspectionTimeoutMs: seconds(values['inspection-timeout'], '--inspection-timeout', 600),
      env: io.env,
      log: (level, m) => {
        if (level === 'warn') io.stderr(`cairn intoto verify: warning: ${m}\n`);
        else if (verbose) io.stderr(`${m}\n`);
      },
    });
    io.stdout('The software product passed all verification.\n');
    return 0;
  } catch (e) {
    if (!isCairnError(e) || e instanceof CliError) throw e;
    io.stderr(`cairn intoto verify: FAILED [${e.code}]: ${e.message}\n`);
    const d = e.details ?? {};
    if (e.code === 'RULE_VIOLATION') {
      io.stderr(`  item: ${String(d.item)}\n  rule: ${String(d.list)}: ${String(d.rule)}\n  artifacts: ${JSON.stringify(d.artifacts)}\n`);
      if (typeof d.trace === 'string') io.stderr(d.trace.replace(/^/gm, '  | '));
    } else if (typeof d.step === 'string') io.stderr(`  step: ${d.step}\n`);
    else if (typeof d.inspection === 'string') io.stderr(`  inspection: ${d.inspection}\n`);
    return 1;
  }
}

const SUBCOMMANDS: Record<string, (args: string[], io: CliIO) => Promise<number>> = { keygen, run, record, layout, sign, verify };

export const command: Command = {
  summary: 'in-toto: keygen, run, record, layout, sign, verify',
  usage: USAGE,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === undefined) throw new CliError('USAGE', `cairn intoto needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    const fn = SUBCOMMANDS[sub];
    if (!fn) throw new CliError('USAGE', `unknown subcommand '${sub}'; one of ${Object.keys(SUBCOMMANDS).join(', ')}`);
    return fn(rest, io);
  },
};

