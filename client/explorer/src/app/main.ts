/** The explorer's router: `#/search/<q>`, `#/entry/<uuid>`, `#/identity/<id>`, `#/log`, `#/trust`. */
import { h, link, type Child } from './dom.ts';
import { entryPage, logPage, trustPage } from './pages.ts';
import { identityPage, searchForm, searchPage } from './search.ts';

function parse(hash: string): { parts: string[]; page: number } {
  const raw = hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?', 2) as [string, string | undefined];
  const page = Number(new URLSearchParams(qs ?? '').get('page') ?? '1');
  const parts = path.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, page: Number.isSafeInteger(page) && page >= 1 ? page : 1 };
}

async function render(): Promise<void> {
  const view = document.getElementById('view')!;
  document.body.dataset.state = 'loading';
  const { parts, page } = parse(location.hash);
  const [name = '', ...rest] = parts;
  const arg = rest.join('/');
  let content: Child;
  const started = performance.now();
  try {
    if (name === 'entry') content = await entryPage(arg);
    else if (name === 'identity') content = await identityPage(arg, page);
    else if (name === 'log') content = await logPage();
    else if (name === 'trust') content = await trustPage();
    else content = await searchPage(name === 'search' ? arg : '', page);
  } catch (e) {
    content = h('p', { class: 'error' }, e instanceof Error ? e.message : String(e));
  }
  view.replaceChildren(h('div', null, content));
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
  document.body.dataset.state = 'ready';
  // For the browser tests and `npm run bench -- ui`: how long this route took, and how many routes rendered.
  document.body.dataset.renderMs = String(Math.round(performance.now() - started));
  document.body.dataset.renders = String(Number(document.body.dataset.renders ?? '0') + 1);
  document.body.dataset.readyAt ??= String(Math.round(performance.now()));
}

document.getElementById('nav')!.replaceChildren(link('#/search', 'Search'), link('#/log', 'Log'), link('#/trust', 'Trust root'));
document.getElementById('search-slot')!.replaceChildren(searchForm(''));
window.addEventListener('hashchange', () => void render());
void render();
