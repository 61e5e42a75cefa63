/**
 * The repository browser: one self-contained HTML page (inline CSS and JS, nothing loaded
 * from anywhere else) so it works on an offline registry host and behind any proxy.
 *
 * The page holds no data and no privileges of its own: everything it shows comes from the
 * ordinary registry API of the same origin (`/v2/_catalog`, `tags/list`, manifests), called
 * with the Authorization header the user typed in (or none, anonymously). So the access rules
 * apply exactly as they do to docker: a user sees the repositories the catalog filter lets
 * through, and a delete by a user without the right is refused by the server with 403, which
 * the page shows. Data from the wire is only ever set through textContent, never as HTML.
 *
 * The Content-Security-Policy pins the inline script by hash: the page can run its own code
 * and nothing injected into it.
 */
import { inlinePageCsp } from '../web/page-csp.js';

const STYLE = `
:root{color-scheme:dark light;--bg:#0f1419;--panel:#171e26;--panel2:#1d2630;--line:#2a3542;--text:#e6edf3;--muted:#8b98a5;
--accent:#4cc2ff;--ok:#3fb950;--bad:#f85149;--radius:10px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Ubuntu,sans-serif}
@media (prefers-color-scheme:light){:root{--bg:#f4f6f8;--panel:#fff;--panel2:#f0f3f6;--line:#d8dee4;--text:#1f2328;--muted:#59636e;--accent:#0969da}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font-size:14px;line-height:1.4}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;padding:12px 20px;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{font-size:18px;margin:0}
header .host{color:var(--muted);font-size:13px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
form.login{margin-left:auto;display:flex;gap:6px;flex-wrap:wrap;align-items:center}
input{background:var(--panel2);color:var(--text);border:1px solid var(--line);border-radius:6px;padding:6px 8px;font:inherit;min-width:0}
button{background:var(--panel2);color:var(--text);border:1px solid var(--line);border-radius:6px;padding:5px 10px;font:inherit;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{color:var(--bad);border-color:color-mix(in srgb,var(--bad) 50%,var(--line))}
.who{color:var(--muted);font-size:13px}
#status{margin:10px 20px 0;padding:8px 12px;border-radius:6px;display:none}
#status.error{display:block;background:color-mix(in srgb,var(--bad) 15%,transparent);color:var(--bad)}
#status.info{display:block;background:var(--panel2);color:var(--muted)}
main{display:grid;grid-template-columns:minmax(220px,320px) minmax(0,1fr);gap:14px;padding:14px 20px 28px;max-width:1500px;margin:0 auto}
.card{background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);padding:12px 14px;min-width:0}
.card h2{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0 0 10px;font-weight:600;display:flex;justify-content:space-between;gap:8px}
#filter{width:100%;margin-bottom:8px}
ul{list-style:none;margin:0;padding:0}
#repos li button{display:block;width:100%;text-align:left;border:0;border-radius:6px;background:none;padding:6px 8px;
font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#repos li button:hover{background:var(--panel2)}#repos li button.sel{background:var(--panel2);color:var(--accent)}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:500;font-size:12px;padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top;font-variant-numeric:tabular-nums}
td.num,th.num{text-align:right;white-space:nowrap}
tr.tag-row{cursor:pointer}tr.tag-row:hover td{background:var(--panel2)}
.chip{display:inline-block;font-size:11.5px;padding:1px 7px;border-radius:10px;background:var(--panel2);border:1px solid var(--line);margin:0 4px 2px 0}
.pull{display:flex;gap:6px;align-items:center;margin:6px 0}
.pull code{flex:1;min-width:0;overflow-x:auto;white-space:nowrap;background:var(--panel2);padding:5px 8px;border-radius:6px}
.details{background:var(--panel2);border-radius:6px;padding:8px 10px;margin-top:4px}
.details h3{font-size:12px;color:var(--muted);margin:8px 0 4px;font-weight:600}
.details td{border-bottom-color:var(--line);padding:4px 6px}
.details .mono{word-break:break-all}
#repo-title{text-transform:none;letter-spacing:0;font-size:14px;color:var(--text);font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.empty{color:var(--muted);padding:14px 0;text-align:center}
.scroll{overflow-x:auto}
@media (max-width:720px){main{grid-template-columns:1fr;padding:10px;gap:10px}header{padding:10px}form.login{margin-left:0;width:100%}
form.login input{flex:1 1 120px}#repos{max-height:30vh;overflow:auto}.hide-sm{display:none}
.card{padding:10px}td,th{padding:6px 5px}.details{max-width:calc(100vw - 66px)}}
`;

const SCRIPT = `
"use strict";
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const $ = (id) => document.getElementById(id);
let auth = '';
let repos = [];
let current = '';

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
    throw err;
  }
  return r;
}

/** The whole catalog, page by page, following the Link header the registry sends. */
async function loadCatalog() {
  const list = $('repos');
  list.replaceChildren(el('li', { class: 'empty' }, 'loading…'));
  repos = [];
  let next = '/v2/_catalog?n=200';
  try {
    while (next) {
      const r = await api(next);
      const body = await r.json();
      repos.push(...(body.repositories || []));
      const link = r.headers.get('Link');
      const m = link && /<([^>]+)>/.exec(link);
      next = m ? m[1] : '';
      renderRepos();
    }
    renderRepos();
    status('');
  } catch (e) {
    list.replaceChildren(el('li', { class: 'empty' }, e.status === 401 ? 'sign in to list repositories' : 'cannot list'));
    status((e.status === 401 ? 'Sign in: ' : 'Catalog: ') + e.message, 'error');
  }
}

function renderRepos() {
  const q = $('filter').value.trim().toLowerCase();
  const shown = repos.filter((r) => r.toLowerCase().includes(q));
  $('repo-count').textContent = shown.length === repos.length ? String(repos.length) : shown.length + ' of ' + repos.length;
  $('repos').replaceChildren(
    ...(shown.length ? shown.map((r) => el('li', {}, el('button', {
      class: r === current ? 'sel' : '', type: 'button', title: r, 'data-repo': r, onclick: () => openRepo(r) }, r)))
      : [el('li', { class: 'empty' }, repos.length ? 'no repository matches' : 'no repositories')]),
  );
}

async function getManifest(repo, ref) {
  const r = await api('/v2/' + repo + '/manifests/' + encodeURIComponent(ref), { headers: { Accept: MANIFEST_TYPES } });
  const body = await r.json();
  const type = body.mediaType || r.headers.get('Content-Type') || '';
  return { digest: r.headers.get('Docker-Content-Digest') || '', type, body };
}

const imageSize = (m) => (m.config ? m.config.size : 0) + (m.layers || []).reduce((a, l) => a + l.size, 0);
const platformName = (p) => p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'unknown';

async function openRepo(repo) {
  current = repo;
  renderRepos();
  $('repo-title').textContent = repo;
  const body = $('tags');
  body.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'loading…')));
  let tags = [];
  try {
    const r = await api('/v2/' + repo + '/tags/list');
    tags = ((await r.json()).tags || []).slice().sort();
  } catch (e) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'cannot list tags')));
    status('Tags of ' + repo + ': ' + e.message, 'error');
    return;
  }
  if (current !== repo) return;
  if (!tags.length) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'no tags')));
    return;
  }
  body.replaceChildren(...tags.map((tag) => tagRow(repo, tag)));
}

function tagRow(repo, tag) {
  const digestCell = el('td', { class: 'mono digest hide-sm' }, '…');
  const sizeCell = el('td', { class: 'num size' }, '…');
  const platCell = el('td', { class: 'platforms hide-sm' });
  const del = el('button', { type: 'button', class: 'danger', 'data-delete': tag }, 'Delete');
  const row = el('tr', { class: 'tag-row', 'data-tag': tag },
    el('td', { class: 'mono' }, tag), digestCell, sizeCell, platCell, el('td', { class: 'num' }, del));
  const detailRow = el('tr', { class: 'detail-row', hidden: '' });
  let manifest = null;
  getManifest(repo, tag).then(async (m) => {
    manifest = m;
    digestCell.textContent = m.digest.slice(0, 19);
    digestCell.title = m.digest;
    row.dataset.digest = m.digest;
    if (INDEX_TYPES.includes(m.type)) {
      for (const d of m.body.manifests || []) platCell.append(el('span', { class: 'chip' }, platformName(d.platform)));
      sizeCell.textContent = (m.body.manifests || []).length + ' platforms';
    } else {
      const n = imageSize(m.body);
      sizeCell.textContent = human(n);
      sizeCell.title = n + ' bytes';
      sizeCell.dataset.bytes = String(n);
      platCell.append(el('span', { class: 'muted' }, 'single image'));
    }
  }, (e) => { digestCell.textContent = e.message; });
  row.addEventListener('click', (ev) => {
    if (ev.target === del) return;
    if (!detailRow.hidden) { detailRow.hidden = true; return; }
    detailRow.hidden = false;
    detailRow.replaceChildren(el('td', { colspan: '5' }, details(repo, tag, manifest)));
  });
  del.addEventListener('click', () => removeTag(repo, tag, manifest));
  const frag = document.createDocumentFragment();
  frag.append(row, detailRow);
  return frag;
}

function details(repo, tag, m) {
  const box = el('div', { class: 'details' });
  const cmd = 'docker pull ' + location.host + '/' + repo + ':' + tag;
  const code = el('code', { class: 'mono pull-cmd' }, cmd);
  const copy = el('button', { type: 'button', onclick: async () => {
    try { await navigator.clipboard.writeText(cmd); copy.textContent = 'Copied'; }
    catch { getSelection().selectAllChildren(code); copy.textContent = 'Press Ctrl+C'; }
  } }, 'Copy');
  box.append(el('div', { class: 'pull' }, code, copy));
  if (!m) { box.append(el('div', { class: 'muted' }, 'manifest not loaded')); return box; }
  box.append(el('div', { class: 'mono full-digest' }, m.digest), el('div', { class: 'muted' }, m.type));
  if (INDEX_TYPES.includes(m.type)) {
    const rows = el('tbody');
    box.append(el('h3', {}, 'Platforms'), el('div', { class: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, el('th', {}, 'platform'), el('th', {}, 'digest'), el('th', { class: 'num' }, 'size'))), rows)));
    for (const d of m.body.manifests || []) {
      const size = el('td', { class: 'num' }, '…');
      rows.append(el('tr', {}, el('td', {}, platformName(d.platform)), el('td', { class: 'mono' }, d.digest), size));
      getManifest(repo, d.digest).then((c) => { size.textContent = human(imageSize(c.body)); }, (e) => { size.textContent = e.message; });
    }
  } else {
    const b = m.body;
    const rows = el('tbody');
    if (b.config) rows.append(el('tr', {}, el('td', {}, 'config'), el('td', { class: 'mono' }, b.config.digest), el('td', { class: 'num' }, human(b.config.size))));
    (b.layers || []).forEach((l, i) => rows.append(el('tr', {}, el('td', {}, 'layer ' + (i + 1)), el('td', { class: 'mono' }, l.digest), el('td', { class: 'num' }, human(l.size)))));
    box.append(el('h3', {}, 'Config and layers'), el('div', { class: 'scroll' }, el('table', { class: 'layers' }, rows)));
  }
  return box;
}

async function removeTag(repo, tag, m) {
  if (!m || !m.digest) { status('The digest of ' + tag + ' is not known yet', 'error'); return; }
  const ok = confirm('Delete ' + repo + ':' + tag + '?\\n\\nThis deletes manifest ' + m.digest +
    ' and every tag that points to it.');
  if (!ok) return;
  try {
    await api('/v2/' + repo + '/manifests/' + m.digest, { method: 'DELETE' });
    status('Deleted ' + repo + ':' + tag + ' (' + m.digest + ')', 'info');
    await openRepo(repo);
  } catch (e) {
    status('Delete refused: ' + e.message, 'error');
  }
}

$('host').textContent = location.host;
$('filter').addEventListener('input', renderRepos);
$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const user = $('user').value;
  auth = user ? 'Basic ' + btoa(unescape(encodeURIComponent(user + ':' + $('password').value))) : '';
  $('password').value = '';
  $('who').textContent = user ? 'signed in as ' + user : 'anonymous';
  current = '';
  $('repo-title').textContent = 'Tags';
  $('tags').replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'choose a repository')));
  loadCatalog();
});
loadCatalog();
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>portcullis · repositories</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>Repositories</h1><span class="host" id="host"></span>
  <form class="login" id="login" autocomplete="off">
    <span class="who" id="who">anonymous</span>
    <input id="user" name="user" placeholder="user" aria-label="user">
    <input id="password" name="password" type="password" placeholder="password or token" aria-label="password">
    <button class="primary" type="submit" id="sign-in">Sign in</button>
  </form>
</header>
<div id="status" role="status" aria-live="polite"></div>
<main>
  <section class="card">
    <h2><span>Repositories</span><span id="repo-count"></span></h2>
    <input id="filter" type="search" placeholder="filter repositories" aria-label="filter repositories">
    <ul id="repos"></ul>
  </section>
  <section class="card">
    <h2><span id="repo-title">Tags</span></h2>
    <div class="scroll"><table>
      <thead><tr><th>tag</th><th class="hide-sm">digest</th><th class="num">size</th><th class="hide-sm">platforms</th><th></th></tr></thead>
      <tbody id="tags"><tr><td colspan="5" class="empty">choose a repository</td></tr></tbody>
    </table></div>
  </section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

export const BROWSER_HTML = HTML;
export const BROWSER_CSP = inlinePageCsp(SCRIPT);
