/**
 * The repository browser's usage figures (part of the page's one inline script): tag count,
 * bytes stored and last push/pull of each repository, and the store total, from portcullis'
 * usage extension of the API (`/v2/_portcullis/usage`, `/v2/<name>/_portcullis/usage`; see
 * docs/registry.md). The embedded core keeps these figures as content changes, so asking costs
 * a few small reads. A registry that does not keep them (portcullis with --upstream answers 404)
 * leaves the page with what the standard API gives: the tag count from tags/list, and a note
 * that the rest is unavailable, not an error.
 */
export const USAGE_SCRIPT = `
const usage = { state: 'unknown', repos: new Map(), pending: new Map(), store: null, error: '', ready: null };

/**
 * The store total; also tells whether the registry reports figures at all. (The repository list
 * reads the figures page by page with the names, see REPOS_SCRIPT.)
 */
async function loadUsage() {
  usage.state = 'unknown';
  usage.repos.clear();
  usage.pending.clear();
  usage.store = null;
  try {
    const r = await api('/v2/_portcullis/usage?n=0');
    const body = await r.json();
    usage.store = body.store || null;
    usage.state = 'available';
  } catch (e) {
    usage.state = e.status === 404 || e.status === 405 || e.status === 501 ? 'unavailable' : 'error';
    usage.error = e.message;
  }
  renderStoreNote();
}

/** One repository's figures: from the first page, or asked for on their own; null when there are none. */
async function repoUsage(name) {
  await usage.ready;
  if (usage.state !== 'available') return null;
  if (usage.repos.has(name)) return usage.repos.get(name);
  if (!usage.pending.has(name)) {
    usage.pending.set(name, api('/v2/' + name + '/_portcullis/usage').then((r) => r.json())
      .then((f) => { usage.repos.set(name, f); return f; }, () => null));
  }
  return usage.pending.get(name);
}

const usageText = (f) => f.tags + (f.tags === 1 ? ' tag' : ' tags') + ' · ' + human(f.bytes);

/** The figures next to a repository's name in the list, filled in when they arrive. */
function repoMeta(name) {
  const meta = el('span', { class: 'meta' });
  repoUsage(name).then((f) => {
    if (!f) return;
    meta.textContent = usageText(f);
    meta.dataset.tags = String(f.tags);
    meta.dataset.bytes = String(f.bytes);
    meta.title = f.bytes + ' bytes; a layer its images share counted once';
  });
  return meta;
}

function renderStoreNote() {
  const note = $('store-note');
  note.dataset.state = usage.state;
  if (usage.state === 'available') {
    // The store total is null until a store written before it existed has been counted once.
    const store = usage.store && typeof usage.store.bytes === 'number' ? 'Store: ' + human(usage.store.bytes) + ', every blob once. '
      : 'Store total not counted yet. ';
    note.textContent = store + 'Sizes count a layer shared by a repository\\'s images once; a layer shared between repositories counts in each.';
  } else if (usage.state === 'unavailable') {
    note.textContent = 'Repository sizes, tag counts and push/pull times are unavailable: this registry does not report them.';
  } else {
    note.textContent = usage.state === 'error' ? 'Repository sizes: ' + usage.error : '';
  }
}

/** Above a repository's tags: its figures, or the tag count tags/list gives and a note. */
async function repoSummary(repo) {
  const f = await repoUsage(repo);
  if (current !== repo) return;
  const times = $('repo-times');
  if (!f) {
    times.textContent = usage.state === 'unavailable' ? 'last push and pull times unavailable from this registry' : '';
    countTags(repo);
    return;
  }
  $('tag-count').textContent = usageText(f);
  $('tag-count').title = f.bytes + ' bytes in ' + f.manifests + ' manifests and ' + f.blobs + ' configs and layers, shared layers counted once';
  const pushed = ago(f.lastPushed);
  const pulled = ago(f.lastPulled);
  times.replaceChildren(
    'last pushed ', el('span', { class: 'last-pushed', title: pushed ? pushed.iso : 'none recorded' }, pushed ? pushed.text : 'never'),
    ' · last pulled ', el('span', { class: 'last-pulled', title: pulled ? pulled.iso : 'none recorded' }, pulled ? pulled.text : 'never'),
  );
}
`;
