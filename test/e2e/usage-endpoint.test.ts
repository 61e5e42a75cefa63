/**
 * The usage extension through the gateway, with images pushed by skopeo and users from an
 * htpasswd file and access rules: the listing shows only repositories the caller may pull,
 * a repository's figures need pull on it, sizes are what was pushed (a layer shared by two
 * tags once), and with --upstream (registry:2) the gateway answers a registry-style 404.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { fetchInsecure, hasCommand } from '../helpers/processes.js';
import { scratchDir } from '../helpers/scoped.js';
import {
  ADMIN,
  VIEWER,
  basicAuth,
  gatewayWithUsers,
  pushAs,
  registry2Backend,
  type Credentials,
} from '../helpers/gateway-users.js';

/** viewer may pull team/* only. */
const VIEWER_PULLS_TEAM = `
rules:
  - repository: "*"
    users: [admin]
    actions: ["*"]
  - repository: "team/*"
    users: [viewer]
    actions: [pull]
`;

const missing = !hasCommand('skopeo')
  ? 'skopeo not installed'
  : !hasCommand('htpasswd')
    ? 'htpasswd (apache2-utils) not installed'
    : undefined;

if (missing) {
  t.plan(0, missing);
} else {
  const work = await scratchDir(t, 'usage-endpoint-');

  t.test('embedded core: figures filtered by the access rules', async (t) => {
    const gw = await gatewayWithUsers(t, work, ['--storage', join(work, 'data')], { access: VIEWER_PULLS_TEAM });
    const registry = gw.origin;
    const image = await makeOciImage(join(work, 'img'), { layerSizes: [4000, 60_000] });
    await pushAs(ADMIN, image, `${gw.host}/team/app:v1`);
    await pushAs(ADMIN, image, `${gw.host}/team/app:v2`); // the same image again: its layers count once
    await pushAs(ADMIN, image, `${gw.host}/secret/db:1`);

    const get = async (path: string, user?: Credentials) => {
      const r = await fetchInsecure(`${registry}${path}`, {
        headers: user ? { authorization: basicAuth(user) } : {},
      });
      return { status: r.status, json: JSON.parse(r.body) };
    };
    const imageBytes = image.manifest.size + image.config.size + image.layers.reduce((a, l) => a + l.size, 0);

    const all = await get('/v2/_portcullis/usage', ADMIN);
    t.equal(all.status, 200);
    t.same(
      all.json.repositories.map((r: { name: string; tags: number; bytes: number }) => [r.name, r.tags, r.bytes]),
      [
        ['secret/db', 1, imageBytes],
        ['team/app', 2, imageBytes],
      ],
      'admin sees every repository; two tags of one image store it once',
    );
    const viewer = await get('/v2/_portcullis/usage', VIEWER);
    t.same(
      viewer.json.repositories.map((r: { name: string }) => r.name),
      ['team/app'],
      'viewer sees only what it may pull',
    );
    const search = async (user: Credentials) =>
      (await get('/v2/_portcullis/usage?q=e', user)).json.repositories.map((r: { name: string }) => r.name);
    t.same(await search(ADMIN), ['secret/db', 'team/app'], 'a search finds every name holding the text');
    t.same(await search(VIEWER), ['team/app'], 'but only those the caller may pull');
    t.equal((await get('/v2/team/app/_portcullis/usage', VIEWER)).json.bytes, imageBytes);
    const denied = await get('/v2/secret/db/_portcullis/usage', VIEWER);
    t.equal(denied.status, 403);
    t.equal(denied.json.errors[0].code, 'DENIED');
    t.equal((await get('/v2/_portcullis/usage')).status, 401, 'anonymous callers are challenged');

    // Per tag: the same rights as the repository's figures, pages with a Link like tags/list.
    const tags = await get('/v2/team/app/_portcullis/usage/tags?n=1', VIEWER);
    t.equal(tags.status, 200);
    t.same(
      tags.json.tags.map((x: { tag: string; digest: string; lastPulled: null }) => [x.tag, x.digest, x.lastPulled]),
      [['v1', image.manifest.digest, null]],
      'a page of one tag: its digest, never pulled',
    );
    const page2 = await fetchInsecure(`${registry}/v2/team/app/_portcullis/usage/tags?n=1&last=v1`, {
      headers: { authorization: basicAuth(VIEWER) },
    });
    t.equal(JSON.parse(page2.body).tags[0].tag, 'v2');
    const deniedTags = await get('/v2/secret/db/_portcullis/usage/tags', VIEWER);
    t.equal(deniedTags.status, 403, 'tags of a repository the viewer may not pull');
    t.equal(deniedTags.json.errors[0].code, 'DENIED');
    t.equal((await get('/v2/team/app/_portcullis/usage/tags')).status, 401);
  });

  t.test('--upstream: a registry-style 404 the browser can recognise', async (t) => {
    const gw = await gatewayWithUsers(t, await scratchDir(t), await registry2Backend(t));
    for (const path of [
      '/v2/_portcullis/usage',
      '/v2/team/app/_portcullis/usage',
      '/v2/team/app/_portcullis/usage/tags',
    ]) {
      const r = await fetchInsecure(`${gw.origin}${path}`, { headers: { authorization: basicAuth(ADMIN) } });
      t.equal(r.status, 404, path);
      const err = JSON.parse(r.body).errors[0];
      t.equal(err.code, 'NOT_FOUND');
      t.equal(err.detail.usage, 'unavailable');
    }
  });
}
