/**
 * The only way the explorer builds its pages: elements with text children. Strings become text
 * nodes (never markup), links point inside the app (`#/...`) only, and no property that parses
 * HTML is ever set, so a log entry holding `<script>` or `javascript:` shows as those characters.
 */
export type Child = Node | string | number | null | undefined | false | Child[];

export interface Props {
  class?: string;
  id?: string;
  href?: string;
  title?: string;
  type?: string;
  name?: string;
  value?: string;
  placeholder?: string;
  rows?: number;
  data?: Record<string, string>;
  on?: Partial<Record<'click' | 'submit' | 'input' | 'change' | 'keydown', (ev: Event) => void>>;
}

function append(el: Element, c: Child): void {
  if (c === null || c === undefined || c === false) return;
  if (Array.isArray(c)) for (const x of c) append(el, x);
  else if (typeof c === 'string' || typeof c === 'number') el.appendChild(document.createTextNode(String(c)));
  else el.appendChild(c);
}

export function h(tag: string, props: Props | null = null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  if (props) {
    if (props.class) el.className = props.class;
    if (props.id) el.id = props.id;
    if (props.href !== undefined) {
      if (!props.href.startsWith('#/')) throw new Error('links stay inside the explorer');
      el.setAttribute('href', props.href);
    }
    if (props.title) el.title = props.title;
    if (props.type) el.setAttribute('type', props.type);
    if (props.name) el.setAttribute('name', props.name);
    if (props.value !== undefined) (el as HTMLInputElement).value = props.value;
    if (props.placeholder) el.setAttribute('placeholder', props.placeholder);
    if (props.rows) el.setAttribute('rows', String(props.rows));
    for (const [k, v] of Object.entries(props.data ?? {})) el.dataset[k] = v;
    for (const [k, f] of Object.entries(props.on ?? {})) el.addEventListener(k, f);
  }
  append(el, children);
  return el;
}

/** A link to an app route built from parts (each part URI-encoded). */
export function route(...parts: string[]): string {
  return `#/${parts.map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join('/')}`;
}

export const link = (href: string, ...children: Child[]): HTMLElement => h('a', { href }, ...children);

/** A definition list from [label, value] rows (rows with an empty value are left out). */
export function fields(rows: [string, Child][]): HTMLElement {
  return h(
    'dl',
    { class: 'fields' },
    rows.filter(([, v]) => v !== '' && v !== undefined && v !== null).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
  );
}

export function table(head: string[], rows: Child[][], cls = ''): HTMLElement {
  return h('table', { class: cls }, h('thead', null, h('tr', null, head.map((c) => h('th', null, c)))), h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))));
}

export function mark(ok: boolean, yes: string, no: string): HTMLElement {
  return h('span', { class: ok ? 'mark ok' : 'mark bad', data: { verified: String(ok) } }, ok ? `\u2713 ${yes}` : `\u2717 ${no}`);
}

export function errorBox(e: unknown): HTMLElement {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown })?.code;
  return h('p', { class: 'error', data: { code: typeof code === 'string' ? code : 'ERROR' } }, typeof code === 'string' ? `${code}: ${msg}` : msg);
}

export const code = (s: string): HTMLElement => h('code', null, s);

export function when(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} days`;
}
