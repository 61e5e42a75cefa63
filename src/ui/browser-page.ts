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
import { SCRIPT } from './browser-script.js';
import { STYLE } from './browser-style.js';

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
    <input id="filter" type="search" placeholder="search repositories" aria-label="search repositories">
    <ul id="repos"></ul>
    <button type="button" id="more-repos" hidden>More repositories</button>
    <p id="store-note" class="muted"></p>
  </section>
  <section class="card">
    <h2><span id="repo-title">Tags</span><span id="tag-count"></span></h2>
    <div id="repo-times" class="muted"></div>
    <div id="tag-tools" hidden><input id="tag-filter" type="search" placeholder="tags starting with…" aria-label="tags starting with"></div>
    <div class="scroll"><table id="tag-table">
      <thead><tr><th>tag</th><th class="hide-sm">digest</th><th class="num">size</th><th>created</th><th class="hide-sm">pushed</th><th>pulled</th><th class="hide-sm">platforms</th><th></th></tr></thead>
      <tbody id="tags"><tr><td colspan="8" class="empty">choose a repository</td></tr></tbody>
    </table></div>
    <button type="button" id="more-tags" hidden>More tags</button>
  </section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

export const BROWSER_HTML = HTML;
export const BROWSER_CSP = inlinePageCsp(SCRIPT);
