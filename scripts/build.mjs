#!/usr/bin/env node
// Builds the `cairn` command into runnable JavaScript (client/cli/dist/), so the bin starts
// without a TypeScript loader. Runs at `npm install` (the root `prepare` script), before
// `npm start` and before `npm test`; it takes well under a second.
//
// One esbuild bundle for the workspace code, split into chunks at every dynamic import, so a
// command loads only its own modules (`cairn --version` loads main alone, `cairn verify` no server
// code). npm dependencies stay external and load from node_modules as usual (better-sqlite3 is a
// native addon; the others keep their own module graphs). The log's worker threads are entry
// points of their own, named as the code that starts them expects next to its chunk:
// `new URL('./prepare.worker.js', import.meta.url)` finds dist/prepare.worker.js.
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}client/cli/dist`;

let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  // An install without devDependencies (npm ci --omit=dev after a build) keeps the built files.
  if (existsSync(`${outdir}/cairn.js`)) process.exit(0);
  console.error('cairn: esbuild (a devDependency) is missing and client/cli/dist is not built: run a full `npm install`');
  process.exit(1);
}

/** Workspace packages (@cairn/*) and relative files are bundled; every other bare import is external. */
const externalDependencies = {
  name: 'external-dependencies',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@cairn/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

// Built into a folder of its own and swapped in by rename, so a `cairn` process started while
// another build runs (two test runs at once) finds either the old build or the new, never half.
const staging = `${root}client/cli/.dist-build-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
const started = process.hrtime.bigint();
const result = await build({
  absWorkingDir: root,
  entryPoints: [
    { in: 'client/cli/src/bin.ts', out: 'cairn' },
    { in: 'services/log/src/prepare-worker.ts', out: 'prepare.worker' },
    { in: 'services/log/src/store/writer.worker.js', out: 'writer.worker' },
    { in: 'services/log/src/store/pg.worker.js', out: 'pg.worker' },
  ],
  outdir: staging,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.17',
  sourcemap: 'linked',
  legalComments: 'none',
  // Class names survive bundling (CairnError names itself after new.target; a renamed class would print as IoError2).
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [externalDependencies],
});
const retired = `${root}client/cli/.dist-old-${process.pid}`;
if (existsSync(outdir)) renameSync(outdir, retired);
renameSync(staging, outdir);
rmSync(retired, { recursive: true, force: true });

// The explorer (client/explorer/src/app): one browser bundle, its stylesheet and index.html,
// into client/explorer/dist, swapped in the same way. No external dependency: everything it
// runs is in app.js, served by cairn itself (no CDN, no web font).
const uiOut = `${root}client/explorer/dist`;
const uiStaging = `${root}client/explorer/.dist-build-${process.pid}`;
rmSync(uiStaging, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: [
    { in: 'client/explorer/src/app/main.ts', out: 'app' },
    { in: 'client/explorer/static/style.css', out: 'style' },
  ],
  outdir: uiStaging,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome120', 'firefox120', 'safari17'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(`${root}client/explorer/static/index.html`, `${uiStaging}/index.html`);
const uiRetired = `${root}client/explorer/.dist-old-${process.pid}`;
if (existsSync(uiOut)) renameSync(uiOut, uiRetired);
renameSync(uiStaging, uiOut);
rmSync(uiRetired, { recursive: true, force: true });

const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js')).length;
const ms = Number(process.hrtime.bigint() - started) / 1e6;
if (!process.argv.includes('--quiet')) console.log(`cairn: built client/cli/dist (${files} files) and client/explorer/dist in ${ms.toFixed(0)} ms`);
