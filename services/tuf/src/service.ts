/**
 * The tuf component: serves a published repository at /tuf/ in the layout @sigstore/tuf and
 * tuf-js read (DESIGN.md; TUF §5 with consistent snapshots), re-signs snapshot and timestamp with
 * the online keys before they expire, and serves only what verified (never a role below threshold).
 *
 * Config (section `tuf`): repoDir (default <dataDir>/repository), onlineKeyDir (default
 * <dataDir>/online), snapshotExpires / timestampExpires (durations, default from ceremony.json),
 * refreshIntervalSeconds (default 10: how often the published directory is re-read and the online
 * roles checked).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Router } from 'express';
import { section, sectionNumber, sectionString, type Peers, type ReadyStatus, type Service, type ServiceContext } from '@cairn/shared';
import { TufError } from '@cairn/shared/tuf';
import { DEFAULT_EXPIRY, ONLINE_DIR, PUBLISHED_DIR, parseDuration, readCeremonyConfig, type Expiry } from './repository/layout.ts';
import { expiredRoles, refreshOnlineRoles, verifyPublished, type OnlineSigners, type PublishedState } from './repository/published.ts';
import { loadOnlineSigners } from './repository/ceremony.ts';

const MAX_PATH_CHARS = 300;

export interface TufServiceOptions {
  repoDir: string;
  onlineKeyDir: string;
  expiry: Expiry;
  refreshIntervalMs: number;
}

export function tufOptions(ctx: ServiceContext): TufServiceOptions {
  const s = section(ctx.config, 'tuf');
  const repoDir = sectionString(s, 'repoDir', join(ctx.dataDir, PUBLISHED_DIR));
  const ceremony = readCeremonyConfig(dirname(repoDir)) ?? readCeremonyConfig(ctx.dataDir);
  const expiry: Expiry = { ...(ceremony?.expiry ?? DEFAULT_EXPIRY) };
  const snap = sectionString(s, 'snapshotExpires');
  const ts = sectionString(s, 'timestampExpires');
  if (snap !== undefined) expiry.snapshot = parseDuration(snap);
  if (ts !== undefined) expiry.timestamp = parseDuration(ts);
  return {
    repoDir,
    onlineKeyDir: sectionString(s, 'onlineKeyDir', join(ctx.dataDir, ONLINE_DIR)),
    expiry,
    refreshIntervalMs: sectionNumber(s, 'refreshIntervalSeconds', 10, 1, 3600) * 1000,
  };
}

export function createTufService(ctx: ServiceContext, options: TufServiceOptions = tufOptions(ctx)): Service {
  const log = ctx.logger;
  let state: PublishedState | undefined;
  let problem: string | undefined = 'repository not loaded yet';
  /** The stable code of `problem` (REPOSITORY_NOT_LOADED, REPOSITORY_MISSING, REPOSITORY_INVALID). */
  let problemCode: string | undefined = 'REPOSITORY_NOT_LOADED';
  /** Set while the published directory does not verify: not ready, though the last good state is served. */
  let broken = false;
  let signers: OnlineSigners = {};
  let signerStamp = '';
  /** Re-reads the online key files only when they changed (a rotation moved new ones in). */
  const loadSigners = (): void => {
    const files = { snapshot: join(options.onlineKeyDir, 'snapshot.pem'), timestamp: join(options.onlineKeyDir, 'timestamp.pem') };
    const stamp = Object.values(files)
      .map((f) => {
        if (!existsSync(f)) return '-';
        const st = statSync(f);
        return `${st.ino}:${st.mtimeMs}`;
      })
      .join('/');
    if (stamp === signerStamp) return;
    signers = loadOnlineSigners(options.onlineKeyDir, files);
    signerStamp = stamp;
  };
  const resigned = ctx.metrics.counter('cairn_tuf_resign_total', 'online TUF roles re-signed');
  // Seconds until each served role expires: the alert that matters for a TUF repository.
  const expiry = ctx.metrics.gauge('cairn_tuf_expires_in_seconds', 'seconds until the served TUF metadata of each role expires');
  const secondsLeft = (role: 'root' | 'timestamp' | 'snapshot' | 'targets') => (): number => {
    if (!state) return 0;
    const signed = role === 'root' ? state.root : state[role].envelope.signed;
    return Math.round((new Date(signed.expires).getTime() - ctx.clock.now().getTime()) / 1000);
  };
  for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as const) expiry.set(secondsLeft(role), { role });
  let busy = false;

  /** Re-signs online roles if due, then re-reads and re-verifies what is served. */
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      if (!existsSync(join(options.repoDir, '1.root.json'))) {
        // Moved away or deleted (a failed import, an operator): the last state may still be
        // served, but a component that cannot re-read what it serves is not ready.
        problem = `no published repository at ${options.repoDir}`;
        problemCode = 'REPOSITORY_MISSING';
        broken = true;
        return;
      }
      try {
        loadSigners();
        if (signers.snapshot || signers.timestamp) {
          const r = await refreshOnlineRoles(options.repoDir, signers, options.expiry, ctx.clock.now());
          if (r.resignedSnapshot) resigned.inc({ role: 'snapshot' });
          if (r.resignedTimestamp) {
            resigned.inc({ role: 'timestamp' });
            log.info('re-signed timestamp', { timestampVersion: r.timestampVersion, snapshotVersion: r.snapshotVersion });
          }
        }
      } catch (e) {
        log.warn('cannot refresh online roles', { code: e instanceof TufError ? e.code : 'INTERNAL', error: e instanceof Error ? e.message : String(e) });
      }
      try {
        state = verifyPublished(options.repoDir);
        broken = false;
        const expired = expiredRoles(state, ctx.clock.now());
        problem = expired.length > 0 ? `expired metadata: ${expired.join(', ')}` : undefined;
        problemCode = expired.length > 0 ? 'METADATA_EXPIRED' : undefined;
      } catch (e) {
        // Keep serving the last state that verified (clients that have it stay consistent), but
        // report not ready: a half-written or tampered directory is never served.
        const code = e instanceof TufError ? e.code : 'INTERNAL';
        const message = e instanceof Error ? e.message : String(e);
        problem = `published repository does not verify (${code}): ${message}`;
        problemCode = 'REPOSITORY_INVALID';
        broken = true;
        log.error('published repository does not verify', {
          code,
          error: message,
          repoDir: options.repoDir,
          action:
            code === 'ONLINE_KEY_MISSING' || code === 'REPO_NOT_FOUND'
              ? `put the online keys the root names in ${options.onlineKeyDir}, or re-import the coordinator's archive: cairn tuf import --in repo.tar.gz --dir ${dirname(options.repoDir)} --server`
              : `do not edit ${options.repoDir} by hand; re-import the coordinator's archive: cairn tuf import --in repo.tar.gz --dir ${dirname(options.repoDir)} --server`,
        });
      }
    } finally {
      busy = false;
    }
  };

  const router = Router();
  router.get(/^\/tuf\/(.+)$/, (req, res) => {
    const path = (req.params as Record<string, string>)[0] ?? '';
    const bytes = path.length <= MAX_PATH_CHARS ? state?.files.get(path) : undefined;
    if (!bytes) {
      res.status(404).json({ code: 'NOT_FOUND', message: 'no such TUF file' });
      return;
    }
    res.setHeader('Cache-Control', path === 'timestamp.json' || path === 'root.json' ? 'no-cache' : 'public, max-age=300');
    res.type('application/json').send(bytes);
  });

  let timer: NodeJS.Timeout | undefined = setInterval(() => void tick(), options.refreshIntervalMs);
  timer.unref();
  const first = tick();

  return {
    name: 'tuf',
    router,
    ready(): ReadyStatus {
      if (!state) return { ok: false, reason: problem ?? 'no repository', code: problemCode ?? 'REPOSITORY_NOT_LOADED' };
      if (broken) return { ok: false, reason: problem ?? 'published repository does not verify', code: problemCode ?? 'REPOSITORY_INVALID' };
      const expired = expiredRoles(state, ctx.clock.now());
      if (expired.length > 0) return { ok: false, reason: `expired metadata: ${expired.join(', ')}`, code: 'METADATA_EXPIRED' };
      // Every problem above is "not ready": ready never comes with a reason.
      return { ok: true };
    },
    trustInfo: () => [],
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await first;
    },
    /** Test and bootstrap hook: re-read the published directory now. */
    refresh: tick,
  } as Service & { refresh(): Promise<void> };
}

/** The tuf component's ServiceFactory (see shared/src/service.ts). */
export async function createService(ctx: ServiceContext, _peers: Peers): Promise<Service> {
  const svc = createTufService(ctx) as Service & { refresh(): Promise<void> };
  await svc.refresh();
  return svc;
}
