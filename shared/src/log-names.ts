/**
 * The names a transparency log may sign its checkpoints under (C2SP signed-note key names and
 * origins), derived from the log's baseUrl in the trust root: the URL itself, its host (with and
 * without the port) and host + path. No imports: the browser explorer uses it as the verifier does.
 */
export function logNames(baseUrl: string): string[] {
  const names = [baseUrl.replace(/\/+$/, '')];
  try {
    const u = new URL(baseUrl);
    names.push(u.host, u.hostname, `${u.host}${u.pathname}`.replace(/\/+$/, ''));
  } catch {
    // a scheme-less baseUrl is itself the name
  }
  return [...new Set(names.filter((n) => n !== ''))];
}
