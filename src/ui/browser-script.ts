/**
 * The repository browser's script (inline in the page, pinned by its hash in the CSP). Plain
 * browser JavaScript in a string: no build step, nothing loaded from elsewhere.
 *
 * Everything comes from the registry API of the same origin with the user's credentials:
 * `_catalog` and the tags read page by page (`n` and `last`, following `Link`), so a
 * repository with 10,000 tags shows its first page after one small request. The tags come from
 * the usage extension's per-tag listing when the registry has it (each tag's last push and pull
 * come with the page), else from `tags/list` (the times then say unavailable). Manifests, image
 * configs (created time, labels) and the referrers API for the rows on screen only. Where the
 * registry behind cannot answer (an upstream without the referrers API, no usage figures) the
 * page says "unavailable" instead of failing. Data from the wire is only ever set through
 * textContent, never parsed as HTML.
 */
import { BROWSE_HEADER } from '../oci/browse-header.js';
import { REPOS_SCRIPT } from './browser-repos-script.js';
import { USAGE_SCRIPT } from './browser-usage-script.js';

export const SCRIPT = `
"use strict";
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const TAG_PAGE = 50;
const COLS = '8';
/** At most this many repository names in the list at once: typing narrows it. */
const RENDER_MAX = 500;
const $ = (id) => document.getElementById(id);
let auth = '';
let current = '';
let tagSeq = 0;
/** false once the registry answered the referrers API with 404: use the tag schema only. */
let referrersApi = true;
/** false once the registry answered the per-tag usage listing with 404 (an older portcullis): tags/list only. */
let tagTimesApi = true;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function human(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
}

/** A time as "5 min ago" (the exact UTC time in the title), or null when there is none. */
function ago(t) {
  const ms = typeof t === 'number' ? t : Date.parse(t || '');
  if (!Number.isFinite(ms)) return null;
  const s = Math.max(0, (Date.now() - ms) / 1000);
  const text = s < 60 ? 'just now' : s < 3600 ? Math.floor(s / 60) + ' min ago' : s < 86400 ? Math.floor(s / 3600) + ' h ago'
    : s < 86400 * 60 ? Math.floor(s / 86400) + ' d ago' : new Date(ms).toISOString().slice(0, 10);
  return { text, iso: new Date(ms).toISOString() };
}

function setTime(cell, t, missing, missingText) {
  const a = ago(t);
  cell.textContent = a ? a.text : missingText || '—';
  cell.title = a ? a.iso : missing;
  if (a) cell.dataset.time = a.iso; else cell.classList.add('muted');
}

function status(text, kind) {
  const s = $('status');
  s.textContent = text || '';
  s.className = text ? kind || 'info' : '';
}

/** A registry call with the user's credentials; a refusal becomes an Error that reads like the server's answer. */
async function api(path, init) {
  const headers = Object.assign({}, (init && init.headers) || {});
  if (auth) headers.Authorization = auth;
  const r = await fetch(path, Object.assign({}, init, { headers, credentials: 'omit', cache: 'no-store' }));
  if (!r.ok) {
    let detail = '';
    try { const body = await r.json(); detail = (body.errors || []).map((e) => e.code + ': ' + e.message).join('; '); } catch {}
    const err = new Error(r.status + (detail ? ' ' + detail : ' ' + r.statusText));
    err.status = r.status;
    err.code = detail.split(':')[0];
    throw err;
  }
  return r;
}

const nextLink = (r) => { const l = r.headers.get('Link'); const m = l && /<([^>]+)>/.exec(l); return m ? m[1] : ''; };
const byteOrder = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The last= that starts a listing just before the names beginning with prefix: the prefix with
 * its last character lowered by one and '~' (after every character a name can hold) added.
 */
function startBefore(prefix) {
  if (!prefix) return '';
  return prefix.slice(0, -1) + (prefix.at(-1) === '-' ? '' : String.fromCharCode(prefix.charCodeAt(prefix.length - 1) - 1) + '~');
}

const manifests = new Map();
/** A manifest by tag or digest, fetched once per page view. */
function getManifest(repo, ref) {
  const key = repo + '@' + ref;
  if (!manifests.has(key)) {
    manifests.set(key, api('/v2/' + repo + '/manifests/' + ref, { headers: { Accept: MANIFEST_TYPES, '${BROWSE_HEADER}': '1' } })
      .then(async (r) => {
        const body = await r.json();
        return { digest: r.headers.get('Docker-Content-Digest') || '', type: body.mediaType || r.headers.get('Content-Type') || '', body };
      }));
    manifests.get(key).catch(() => manifests.delete(key));
  }
  return manifests.get(key);
}

const configs = new Map();
/** An image config blob (created time, labels, platform); a digest never changes, so once is enough. */
function getConfig(repo, digest) {
  if (!configs.has(digest)) {
    // The browse header: under storage redirects the registry answers it here instead of sending
    // the page to the bucket's origin, where its Content-Security-Policy would not let it go.
    configs.set(digest, api('/v2/' + repo + '/blobs/' + digest, { headers: { '${BROWSE_HEADER}': '1' } }).then((r) => r.json()));
    configs.get(digest).catch(() => configs.delete(digest));
  }
  return configs.get(digest);
}

/**
 * The referrers of a manifest (signatures, SBOMs, attestations): the referrers API, or where the
 * registry has none (404) the referrers tag schema, an index tagged sha256-<hex> that clients
 * push for such registries. null when neither exists.
 */
async function getReferrers(repo, digest) {
  if (referrersApi) {
    try {
      const r = await api('/v2/' + repo + '/referrers/' + digest, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
      const body = await r.json();
      if (Array.isArray(body.manifests)) return { list: body.manifests, via: 'referrers API' };
    } catch (e) {
      if (e.status !== 404 && e.status !== 405) throw e;
    }
    referrersApi = false;
  }
  try {
    const m = await getManifest(repo, digest.replace(':', '-'));
    return { list: m.body.manifests || [], via: 'tag ' + digest.replace(':', '-').slice(0, 19) + '…' };
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

const isIndex = (m) => INDEX_TYPES.includes(m.type) || Array.isArray(m.body.manifests);
const imageBlobs = (m) => [m.config, ...(m.layers || [])].filter(Boolean);
const imageSize = (m) => imageBlobs(m).reduce((a, b) => a + b.size, 0);
const platformName = (p) => p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'unknown';
/** Referrers-tag-schema indexes (sha256-<hex>) are not images of their own: listed with their subject instead. */
const isReferrersTag = (tag) => /^sha256-[0-9a-f]{64}$/.test(tag);

/**
 * What a tag row and its details need: for an image its size (config + layers) and config; for
 * an index every platform's manifest and config, and its size with blobs the platforms share
 * counted once.
 */
async function describe(repo, ref) {
  const m = await getManifest(repo, ref);
  if (!isIndex(m)) {
    const config = m.body.config ? await getConfig(repo, m.body.config.digest).catch(() => null) : null;
    return { m, size: imageSize(m.body), config, created: config && config.created };
  }
  const children = (m.body.manifests || []).filter((d) => d.platform && d.platform.os !== 'unknown');
  const platforms = await Promise.all(children.map(async (d) => {
    try {
      const c = await getManifest(repo, d.digest);
      const config = c.body.config ? await getConfig(repo, c.body.config.digest).catch(() => null) : null;
      return { d, c, size: imageSize(c.body), config };
    } catch (e) { return { d, error: e.message }; }
  }));
  const blobs = new Map();
  for (const p of platforms) if (p.c) for (const b of imageBlobs(p.c.body)) blobs.set(b.digest, b.size);
  const created = platforms.map((p) => p.config && p.config.created).filter(Boolean).sort().pop();
  return { m, platforms, size: [...blobs.values()].reduce((a, b) => a + b, 0), created };
}

function msgRow(text) { return el('tr', {}, el('td', { colspan: COLS, class: 'empty' }, text)); }

async function openRepo(repo) {
  current = repo;
  renderRepos();
  $('repo-title').textContent = repo;
  $('tag-filter').value = '';
  $('tag-tools').hidden = false;
  $('tag-count').textContent = '';
  $('tag-count').title = '';
  $('repo-times').textContent = '';
  loadTags(repo, '');
  repoSummary(repo);
}

/** How many tags: one unpaged tags/list (names only, no manifests), after the first page is on screen. */
async function countTags(repo) {
  try {
    const r = await api('/v2/' + repo + '/tags/list');
    const n = ((await r.json()).tags || []).filter((t) => !isReferrersTag(t)).length;
    if (current === repo) $('tag-count').textContent = n + (n === 1 ? ' tag' : ' tags');
  } catch {}
}

/**
 * A reader of the tags that start with prefix, TAG_PAGE at a time, each as { tag, times } where
 * times is { lastPushed, lastPulled } from the per-tag usage listing, or null where the registry
 * does not keep them (then the reader uses tags/list). With a prefix it starts the listing just
 * before it (last=), so a search costs what the page holds, and stops at the first name past it.
 * A registry that ignores n or last still gives a correct list, only slower.
 */
function tagReader(repo, prefix) {
  const before = startBefore(prefix);
  const query = '?n=' + TAG_PAGE + (before ? '&last=' + encodeURIComponent(before) : '');
  const plain = '/v2/' + repo + '/tags/list' + query;
  let next = null;
  const buffer = [];
  const read = async () => {
    const r = await api(next);
    const body = await r.json();
    const entries = (body.tags || []).map((t) => (typeof t === 'string' ? { tag: t, times: null } : { tag: t.tag, times: t }));
    next = nextLink(r);
    return entries.sort((a, b) => byteOrder(a.tag, b.tag));
  };
  return async () => {
    if (next === null) {
      await usage.ready;
      next = tagTimesApi && usage.state === 'available' ? '/v2/' + repo + '/_portcullis/usage/tags' + query : plain;
    }
    while (buffer.length < TAG_PAGE && next) {
      let entries;
      try { entries = await read(); } catch (e) {
        // A registry with usage figures but no per-tag listing: the names from tags/list instead.
        if (next === plain || e.code !== 'NOT_FOUND') throw e;
        tagTimesApi = false;
        next = plain;
        entries = await read();
      }
      for (const e of entries) {
        if (!prefix || e.tag.startsWith(prefix)) buffer.push(e);
        else if (e.tag > prefix) next = '';
      }
    }
    const page = buffer.splice(0, TAG_PAGE).filter((e) => !isReferrersTag(e.tag));
    return { page, more: buffer.length > 0 || !!next };
  };
}

async function loadTags(repo, prefix) {
  const seq = ++tagSeq;
  const body = $('tags');
  const more = $('more-tags');
  body.replaceChildren(msgRow('loading…'));
  more.hidden = true;
  const read = tagReader(repo, prefix);
  let first = true;
  const step = async () => {
    more.disabled = true;
    let res;
    try { res = await read(); } catch (e) {
      if (seq !== tagSeq) return;
      if (first) body.replaceChildren(msgRow('cannot list tags'));
      status('Tags of ' + repo + ': ' + e.message, 'error');
      return;
    }
    if (seq !== tagSeq) return;
    if (first) body.replaceChildren();
    first = false;
    if (!res.page.length && !body.children.length) body.append(msgRow(prefix ? 'no tag starts with ' + prefix : 'no tags'));
    for (const e of res.page) body.append(tagRow(repo, e.tag, e.times));
    more.hidden = !res.more;
    more.disabled = false;
    more.onclick = step;
  };
  await step();
}

/** The last push and pull of a tag; "never" pulled when none is recorded, "—" where the registry keeps no times. */
function tagTimeCells(times) {
  const pushed = el('td', { class: 'pushed hide-sm' });
  const pulled = el('td', { class: 'pulled' });
  if (!times) {
    for (const c of [pushed, pulled]) setTime(c, null, 'unavailable: this registry does not report push and pull times');
    return [pushed, pulled];
  }
  setTime(pushed, times.lastPushed, 'no push time recorded');
  setTime(pulled, times.lastPulled, 'not pulled since pull times were recorded (a look in this browser is not a pull)', 'never');
  return [pushed, pulled];
}

function tagRow(repo, tag, times) {
  const kind = el('div', { class: 'kind muted' });
  const digestCell = el('td', { class: 'mono digest hide-sm' }, '…');
  const sizeCell = el('td', { class: 'num size' }, '…');
  const createdCell = el('td', { class: 'created' }, '…');
  const platCell = el('td', { class: 'platforms hide-sm' });
  const del = el('button', { type: 'button', class: 'danger', 'data-delete': tag }, 'Delete');
  const row = el('tr', { class: 'tag-row', 'data-tag': tag },
    el('td', { class: 'mono tag' }, el('div', {}, tag), kind), digestCell, sizeCell, createdCell, ...tagTimeCells(times),
    platCell, el('td', { class: 'num' }, del));
  const detailRow = el('tr', { class: 'detail-row', hidden: '' });
  let info = null;
  describe(repo, tag).then((d) => {
    info = d;
    digestCell.textContent = d.m.digest.slice(0, 19);
    digestCell.title = d.m.digest;
    row.dataset.digest = d.m.digest;
    sizeCell.textContent = human(d.size);
    sizeCell.title = d.size + ' bytes' + (d.platforms ? ', blobs the platforms share counted once' : '');
    sizeCell.dataset.bytes = String(d.size);
    setTime(createdCell, d.created, 'the image config records no creation time');
    if (d.platforms) {
      kind.textContent = 'index · ' + d.platforms.length + ' platforms';
      for (const p of d.platforms) platCell.append(el('span', { class: 'chip' }, platformName(p.d.platform)));
    } else {
      platCell.append(el('span', { class: 'muted' }, (d.config && platformName(d.config)) || 'single image'));
    }
    return getReferrers(repo, d.m.digest).then((r) => {
      if (r && r.list.length) kind.append(el('span', { class: 'chip referrer-count' }, r.list.length + (r.list.length === 1 ? ' referrer' : ' referrers')));
    }, () => {});
  }, (e) => { digestCell.textContent = e.message; sizeCell.textContent = ''; createdCell.textContent = ''; });
  row.addEventListener('click', (ev) => {
    if (ev.target === del) return;
    if (!detailRow.hidden) { detailRow.hidden = true; return; }
    detailRow.hidden = false;
    detailRow.replaceChildren(el('td', { colspan: COLS }, details(repo, tag, info, times)));
  });
  del.addEventListener('click', () => removeTag(repo, tag, info && info.m));
  const frag = document.createDocumentFragment();
  frag.append(row, detailRow);
  return frag;
}

function table(cls, head, rows) {
  return el('div', { class: 'scroll' }, el('table', { class: cls },
    head ? el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { class: h === 'size' ? 'num' : '' }, h)))) : null,
    el('tbody', {}, ...rows)));
}

function kvRows(obj) {
  return Object.keys(obj).sort().map((k) => el('tr', {}, el('td', { class: 'mono key' }, k), el('td', { class: 'mono value' }, String(obj[k]))));
}

function details(repo, tag, d, times) {
  const box = el('div', { class: 'details' });
  const cmd = 'docker pull ' + location.host + '/' + repo + ':' + tag;
  const code = el('code', { class: 'mono pull-cmd' }, cmd);
  const copy = el('button', { type: 'button', onclick: async () => {
    try { await navigator.clipboard.writeText(cmd); copy.textContent = 'Copied'; }
    catch { getSelection().selectAllChildren(code); copy.textContent = 'Press Ctrl+C'; }
  } }, 'Copy');
  box.append(el('div', { class: 'pull' }, code, copy));
  box.append(el('div', { class: 'untag' }, el('button', { type: 'button', class: 'danger', 'data-untag': tag,
    onclick: () => untag(repo, tag) }, 'Remove tag only'),
    el('span', { class: 'muted' }, ' the manifest stays, reachable by digest and by other tags')));
  // The times again, for a phone, where the row has no room for the push time.
  if (times) {
    const [pushed, pulled] = [ago(times.lastPushed), ago(times.lastPulled)];
    box.append(el('div', { class: 'muted tag-times' }, 'this tag last pushed ', pushed ? pushed.text : 'never', ' · last pulled ',
      pulled ? pulled.text : 'never'));
  }
  if (!d) { box.append(el('div', { class: 'muted' }, 'manifest not loaded')); return box; }
  const m = d.m;
  box.append(el('div', { class: 'mono full-digest' }, m.digest), el('div', { class: 'muted' }, m.type));
  if (d.platforms) {
    box.append(el('h3', {}, 'Platforms'), table('platform-list', ['platform', 'digest', 'created', 'size'], d.platforms.map((p) => {
      const created = el('td', {});
      setTime(created, p.config && p.config.created, 'unknown');
      return el('tr', {}, el('td', {}, platformName(p.d.platform)), el('td', { class: 'mono' }, p.d.digest), created,
        el('td', { class: 'num' }, p.error || human(p.size)));
    })));
    box.append(el('div', { class: 'muted' }, 'Size ' + human(d.size) + ': layers the platforms share counted once.'));
  } else {
    const b = m.body;
    const labels = (d.config && d.config.config && d.config.config.Labels) || {};
    box.append(el('h3', {}, 'Labels'), Object.keys(labels).length ? table('labels', null, kvRows(labels))
      : el('div', { class: 'muted no-labels' }, d.config ? 'no labels' : 'image config unavailable'));
    const rows = [];
    if (b.config) rows.push(el('tr', {}, el('td', {}, 'config'), el('td', { class: 'mono' }, b.config.digest), el('td', { class: 'num' }, human(b.config.size))));
    (b.layers || []).forEach((l, i) => rows.push(el('tr', {}, el('td', {}, 'layer ' + (i + 1)), el('td', { class: 'mono' }, l.digest), el('td', { class: 'num' }, human(l.size)))));
    box.append(el('h3', {}, 'Config and layers'), table('layers', null, rows));
  }
  if (m.body.annotations && Object.keys(m.body.annotations).length) box.append(el('h3', {}, 'Annotations'), table('annotations', null, kvRows(m.body.annotations)));
  const refs = el('div', { class: 'referrers' }, el('span', { class: 'muted' }, 'loading…'));
  box.append(el('h3', {}, 'Referrers (signatures, SBOMs, attestations)'), refs);
  getReferrers(repo, m.digest).then((r) => {
    if (!r) { refs.replaceChildren(el('span', { class: 'muted unavailable' }, 'none (this registry has no referrers API and no referrers tag)')); return; }
    if (!r.list.length) { refs.replaceChildren(el('span', { class: 'muted' }, 'none')); return; }
    refs.replaceChildren(table('referrer-list', ['type', 'digest', 'created', 'size'], r.list.map((x) => {
      const created = el('td', {});
      setTime(created, x.annotations && x.annotations['org.opencontainers.image.created'], 'not annotated');
      return el('tr', { 'data-digest': x.digest }, el('td', { class: 'mono' }, x.artifactType || x.mediaType || ''),
        el('td', { class: 'mono' }, x.digest), created, el('td', { class: 'num' }, human(x.size || 0)));
    })), el('div', { class: 'muted' }, 'from the ' + r.via));
  }, (e) => refs.replaceChildren(el('span', { class: 'muted' }, 'unavailable: ' + e.message)));
  return box;
}

async function removeTag(repo, tag, m) {
  if (!m || !m.digest) { status('The digest of ' + tag + ' is not known yet', 'error'); return; }
  const ok = confirm('Delete ' + repo + ':' + tag + '?\\n\\nThis deletes manifest ' + m.digest +
    ' and every tag that points to it.');
  if (!ok) return;
  try {
    await api('/v2/' + repo + '/manifests/' + m.digest, { method: 'DELETE' });
    manifests.clear();
    status('Deleted ' + repo + ':' + tag + ' (' + m.digest + ')', 'info');
    await openRepo(repo);
  } catch (e) {
    status('Delete refused: ' + e.message, 'error');
  }
}

/** DELETE of the tag itself ("Deleting tags" in the distribution spec); registry:2 2.8 refuses it (UNSUPPORTED). */
async function untag(repo, tag) {
  if (!confirm('Remove tag ' + repo + ':' + tag + '?\\n\\nThe manifest stays, reachable by its digest and by any other tag.')) return;
  try {
    await api('/v2/' + repo + '/manifests/' + tag, { method: 'DELETE' });
    manifests.clear();
    status('Removed tag ' + repo + ':' + tag, 'info');
    await openRepo(repo);
  } catch (e) {
    status('Removing the tag refused: ' + e.message, 'error');
  }
}

${USAGE_SCRIPT}
${REPOS_SCRIPT}
let typing = 0;
$('host').textContent = location.host;
$('filter').addEventListener('input', searchRepos);
$('tag-filter').addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(() => current && loadTags(current, $('tag-filter').value.trim()), 150);
});
$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const user = $('user').value;
  auth = user ? 'Basic ' + btoa(unescape(encodeURIComponent(user + ':' + $('password').value))) : '';
  $('password').value = '';
  $('who').textContent = user ? 'signed in as ' + user : 'anonymous';
  current = '';
  manifests.clear();
  configs.clear();
  $('repo-title').textContent = 'Tags';
  $('tag-tools').hidden = true;
  $('tag-count').textContent = '';
  $('repo-times').textContent = '';
  $('more-tags').hidden = true;
  $('tags').replaceChildren(msgRow('choose a repository'));
  loadCatalog();
});
loadCatalog();
`;
