/**
 * The repository browser's repository list (part of the page's one inline script): a page of
 * repositories at a time, **More repositories** following the `Link` header, and a search that
 * asks the registry. A store can hold 100,000 repositories, so the page never reads them all:
 * typing shows at once the names already listed that contain the text, and after a pause in
 * typing (one request per pause) asks the registry for the rest.
 *
 * Where the registry keeps usage figures the pages come from the usage listing
 * (`/v2/_portcullis/usage`), which brings each repository's tag count and size with its name,
 * and the search asks it for the names containing the text anywhere (`q=`). Elsewhere the pages
 * come from `/v2/_catalog`, which can only start at a name: the search then asks for the names
 * that start with the text (`last=` set just before it) and adds the listed names containing it.
 *
 * Clearing the search shows the list as it was before, with no request: the listing and its
 * **More repositories** position are kept while a search is shown.
 */
export const REPOS_SCRIPT = `
/** Names per page: the usage listing reads two small documents per name. */
const REPO_PAGE = 500;
const SEARCH_DELAY_MS = 150;
/** The listing as read so far (no search), and the names found by the current search (null: none). */
let repos = [];
let found = null;
let searching = 0;
/** The listing's reading state, and the one shown (the listing, a search, or null while typing). */
let listing = null;
let shown = null;

/**
 * A reader of the repositories matching text ('' = all), REPO_PAGE at a time, like tagReader.
 * wanted() turns false when the page stops showing this reader's names: it then reads no further.
 */
function repoReader(text, wanted) {
  let next = null;
  let substring = false;
  const buffer = [];
  return async () => {
    if (next === null) {
      await usage.ready;
      substring = usage.state === 'available';
      const before = substring ? '' : startBefore(text);
      next = (substring ? '/v2/_portcullis/usage' : '/v2/_catalog') + '?n=' + REPO_PAGE
        + (substring && text ? '&q=' + encodeURIComponent(text) : '')
        + (before ? '&last=' + encodeURIComponent(before) : '');
    }
    // A page may come back short (names the access rules hide), so read on until one is full.
    while (buffer.length < REPO_PAGE && next && wanted()) {
      const r = await api(next);
      const listed = (await r.json()).repositories || [];
      next = nextLink(r);
      // The usage listing gives figures with each name: keep them for the list and the tag view.
      const names = listed.map((x) => { if (typeof x === 'string') return x; usage.repos.set(x.name, x); return x.name; });
      for (const name of names.sort(byteOrder)) {
        if (!text || substring || name.startsWith(text)) buffer.push(name);
        else if (name > text) next = '';
      }
    }
    return { page: buffer.splice(0, REPO_PAGE), more: buffer.length > 0 || !!next, substring };
  };
}

/** Show a view's More repositories button (hidden when it has read everything). */
function showMore(view) {
  const more = $('more-repos');
  more.hidden = !view.more;
  more.disabled = view.busy;
  more.onclick = () => readRepos(view);
}

/** Read a view's next page; the names show if the view is still the one on screen. */
async function readRepos(view) {
  view.busy = true;
  if (shown === view) $('more-repos').disabled = true;
  let res;
  try { res = await view.read(); } catch (e) {
    view.busy = false;
    if (shown !== view) return;
    if (!view.text) {
      $('repos').replaceChildren(el('li', { class: 'empty' }, e.status === 401 ? 'sign in to list repositories' : 'cannot list'));
      status((e.status === 401 ? 'Sign in: ' : 'Catalog: ') + e.message, 'error');
    } else {
      status('Search: ' + e.message, 'error');
    }
    return;
  }
  view.busy = false;
  view.names.push(...res.page);
  view.more = res.more;
  if (!view.text) repos = view.names;
  if (shown !== view) return;
  // The registry's substring search found every match so far; the catalog's prefix search did not.
  if (view.text) found = res.substring ? view.names.slice() : merged(view.names, localMatches(view.text));
  showMore(view);
  renderRepos();
  if (!view.text) status('');
}

/** Start reading the repositories matching text ('' = the listing) and show them. */
function listRepos(text) {
  const view = { text, names: [], more: false, busy: false, read: null };
  view.read = repoReader(text, () => shown === view);
  if (!text) listing = view;
  shown = view;
  $('more-repos').hidden = true;
  return readRepos(view);
}

/** Names in the listing read so far that contain the text anywhere (what can be shown at once). */
const localMatches = (q) => repos.filter((r) => r.includes(q));
const merged = (a, b) => [...new Set([...a, ...b])].sort(byteOrder);

async function loadCatalog() {
  $('repos').replaceChildren(el('li', { class: 'empty' }, 'loading…'));
  repos = [];
  found = null;
  listing = null;
  $('filter').value = '';
  usage.ready = loadUsage();
  await listRepos('');
}

function searchRepos() {
  const q = $('filter').value.trim().toLowerCase();
  clearTimeout(searching);
  if (!q) {
    // Back to the list as it was before the search: no request.
    found = null;
    if (!listing) { listRepos(''); return; }
    shown = listing;
    showMore(listing);
    renderRepos();
    return;
  }
  found = localMatches(q);
  shown = null; // a page still on its way belongs to an older search
  $('more-repos').hidden = true;
  renderRepos();
  searching = setTimeout(() => listRepos(q), SEARCH_DELAY_MS);
}

function renderRepos() {
  const shownNames = found || repos;
  const plus = $('more-repos').hidden ? '' : '+';
  $('repo-count').textContent = found ? shownNames.length + plus + ' found' : shownNames.length + plus;
  const items = shownNames.slice(0, RENDER_MAX).map((r) => el('li', {}, el('button', {
    class: r === current ? 'sel' : '', type: 'button', title: r, 'data-repo': r, onclick: () => openRepo(r) },
    el('span', { class: 'name' }, r), repoMeta(r))));
  if (shownNames.length > RENDER_MAX) items.push(el('li', { class: 'empty' }, (shownNames.length - RENDER_MAX) + ' more: type to narrow'));
  $('repos').replaceChildren(...(items.length ? items
    : [el('li', { class: 'empty' }, found ? 'no repository matches' : listing && listing.busy ? 'loading…' : 'no repositories')]));
}
`;
