/**
 * Serves the explorer: the files scripts/build.mjs wrote to client/explorer/dist, read once into
 * memory, at /ui/ (and `/` redirects there). Every answer carries a strict Content-Security-Policy:
 * scripts, styles and fetches from this origin only, no inline code, no frames, and Trusted Types
 * required, so no string from the log can ever become markup or script (the app renders text only).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router, type Response } from 'express';

export const EXPLORER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** The folder the build writes the explorer to (resolved through the workspace link, so the same from sources and from the bundled CLI). */
export function explorerDistDir(): string {
  const pkg = createRequire(import.meta.url).resolve('@cairn/explorer/package.json');
  return join(dirname(pkg), 'dist');
}

interface Asset {
  type: string;
  bytes: Buffer;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const ext = name.slice(name.lastIndexOf('.'));
    const p = join(dir, name);
    if (!statSync(p).isFile() || TYPES[ext] === undefined) continue;
    assets.set(name, { type: TYPES[ext], bytes: readFileSync(p) });
  }
  return assets;
}

function secure(res: Response): void {
  res.setHeader('Content-Security-Policy', EXPLORER_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
}

/** `/` -> `/ui/`, and the explorer's files under `/ui/`. UI_NOT_BUILT (503) when the build has not run. */
export function explorerRouter(dir: string = explorerDistDir()): Router {
  const assets = loadAssets(dir);
  const router = Router();
  router.get('/', (_req, res) => {
    res.redirect(302, '/ui/');
  });
  router.get(/^\/ui(\/.*)?$/, (req, res) => {
    secure(res);
    const rest = req.path === '/ui' || req.path === '/ui/' ? 'index.html' : req.path.slice('/ui/'.length);
    if (req.path === '/ui') {
      res.redirect(301, '/ui/');
      return;
    }
    if (assets.size === 0) {
      res.status(503).json({ code: 'UI_NOT_BUILT', message: 'the explorer is not built: run `npm run build`' });
      return;
    }
    const asset = assets.get(rest);
    if (!asset) {
      res.status(404).json({ code: 'NOT_FOUND', message: 'no such explorer file' });
      return;
    }
    res.setHeader('Cache-Control', rest === 'index.html' ? 'no-cache' : 'public, max-age=300');
    res.type(asset.type).send(asset.bytes);
  });
  return router;
}
