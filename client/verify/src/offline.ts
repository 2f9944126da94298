/**
 * The `--offline` guarantee: after `forbidNetwork()`, any attempt to use `fetch` in this process
 * fails with NETWORK_FORBIDDEN. The verify module graph never fetches; this makes that a hard
 * guarantee for everything else a command loads (trust cache readers included).
 */
import { VerifyError } from './errors.ts';

/** Blocks `fetch` until the returned function restores it (a command blocks it for its run). */
export function forbidNetwork(): () => void {
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  const blocked = (): Promise<never> =>
    Promise.reject(new VerifyError('NETWORK_FORBIDDEN', 'network access attempted while running with --offline'));
  Object.defineProperty(globalThis, 'fetch', { value: blocked, writable: false, configurable: true });
  return () => {
    if (previous) Object.defineProperty(globalThis, 'fetch', previous);
    else Reflect.deleteProperty(globalThis, 'fetch');
  };
}
