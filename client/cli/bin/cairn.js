#!/usr/bin/env node
// The `cairn` command: the bundle built from the TypeScript sources by `npm run build` (run by
// `npm install`, `npm start` and `npm test`). No TypeScript loader at run time.
try {
  await import('../dist/cairn.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('/dist/cairn.js')) {
    process.stderr.write('cairn: the command is not built: run `npm run build` in the repository (npm install does it)\n');
    process.exit(1);
  }
  throw e;
}
