/**
 * The repository browser's repository list (part of the page's one inline script): a page of
 * repositories at a time, **More repositories** following the `Link` header, and a search that
 * asks the registry. A store can hold 100,000 repositories, so the page never reads them all:
 * typing shows at once the names already listed that contain the text, and after a pause in
 * typing (one request per pause) asks the registry for the names that start with it, with
 * `last=` set just before the text, so a search costs one page whatever the size of the store.
 *
 * Where the registry keeps usage figures the pages come from the usage listing
 * (`/v2/_portcullis/usage`), which brings each repository's tag count and size with its name;
 * elsewhere from `/v2/_catalog`.
 */
export const REPOS_SCRIPT = `
/** Names per page: the usage listing reads two small documents per name. */
const REPO_PAGE = 500;
const SEARCH_DELAY_MS = 150;
/** The listing as read so far (no search), and the names found by the current search (null: none). */
let repos = [];
let found = null;
let repoSeq = 0;
let searching = 0;

/** A reader of the repositories starting with prefix, REPO_PAGE at a time, like tagReader. */
function repoReader(prefix) {
  const before = startBefore(prefix);
  const query = '?n=' + REPO_PAGE + (before ? '&last=' + encodeURIComponent(before) : '');
  let next = null;
  const buffer = [];
  return async () => {
    if (next === null) {
      await usage.ready;
      next = (usage.state === 'available' ? '/v2/_portcullis/usage' : '/v2/_catalog') + query;
    }
    while (buffer.length < REPO_PAGE && next) {
      const r = await api(next);
      const listed = (await r.json()).repositories || [];
      next = nextLink(r);
      // The usage listing gives figures with each name: keep them for the list and the tag view.
      const names = listed.map((x) => { if (typeof x === 'string') return x; usage.repos.set(x.name, x); return x.name; });
      for (const name of names.sort(byteOrder)) {
        if (!prefix || name.startsWith(prefix)) buffer.push(name);
        else if (name > prefix) next = '';
      }
    }
    return { page: buffer.splice(0, REPO_PAGE), more: buffer.length > 0 || !!next };
  };
}

/** Read the repositories starting with prefix ('' = the listing) a page at a time; More repositories reads on. */
async function listRepos(prefix) {
  const seq = ++repoSeq;
  const more = $('more-repos');
  more.hidden = true;
  const read = repoReader(prefix);
  const names = [];
  const step = async () => {
    more.disabled = true;
    let res;
    try { res = await read(); } catch (e) {
      if (seq !== repoSeq) return;
      if (!prefix) {
        $('repos').replaceChildren(el('li', { class: 'empty' }, e.status === 401 ? 'sign in to list repositories' : 'cannot list'));
        status((e.status === 401 ? 'Sign in: ' : 'Catalog: ') + e.message, 'error');
      } else {
        status('Search: ' + e.message, 'error');
      }
      return;
    }
    if (seq !== repoSeq) return;
    names.push(...res.page);
    if (prefix) found = merged(names, localMatches(prefix));
    else repos = names.slice();
    more.hidden = !res.more;
    more.disabled = false;
    more.onclick = step;
    renderRepos();
    if (!prefix) status('');
  };
  await step();
}

/** Names in the listing read so far that contain the text anywhere (what can be shown at once). */
const localMatches = (q) => repos.filter((r) => r.includes(q));
const merged = (a, b) => [...new Set([...a, ...b])].sort(byteOrder);

async function loadCatalog() {
  $('repos').replaceChildren(el('li', { class: 'empty' }, 'loading…'));
  repos = [];
  found = null;
  $('filter').value = '';
  usage.ready = loadUsage();
  await listRepos('');
}

function searchRepos() {
  const q = $('filter').value.trim().toLowerCase();
  clearTimeout(searching);
  if (!q) { found = null; listRepos(''); return; }
  found = localMatches(q);
  ++repoSeq; // a page still on its way belongs to an older search
  $('more-repos').hidden = true;
  renderRepos();
  searching = setTimeout(() => listRepos(q), SEARCH_DELAY_MS);
}

function renderRepos() {
  const shown = found || repos;
  const plus = $('more-repos').hidden ? '' : '+';
  $('repo-count').textContent = found ? shown.length + plus + ' found' : shown.length + plus;
  const items = shown.slice(0, RENDER_MAX).map((r) => el('li', {}, el('button', {
    class: r === current ? 'sel' : '', type: 'button', title: r, 'data-repo': r, onclick: () => openRepo(r) },
    el('span', { class: 'name' }, r), repoMeta(r))));
  if (shown.length > RENDER_MAX) items.push(el('li', { class: 'empty' }, (shown.length - RENDER_MAX) + ' more: type to narrow'));
  $('repos').replaceChildren(...(items.length ? items
    : [el('li', { class: 'empty' }, found ? 'no repository matches' : 'no repositories')]));
}
`;
