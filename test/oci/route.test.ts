import t from 'tap';
import { classifyRoute } from '../../src/oci/route.js';

t.test('registry routes are classified with repository and action', async (t) => {
  t.match(classifyRoute('GET', '/v2/'), { operation: 'ping', api: true });
  t.match(classifyRoute('GET', '/v2/_catalog?n=10'), { operation: 'catalog' });
  t.match(classifyRoute('HEAD', '/v2/team/app/manifests/v1'), {
    operation: 'manifest_head',
    repository: 'team/app',
    reference: 'v1',
    action: 'pull',
  });
  t.match(classifyRoute('PUT', '/v2/app/manifests/sha256:ab'), { operation: 'manifest_put', action: 'push' });
  t.match(classifyRoute('DELETE', '/v2/app/manifests/v1'), { operation: 'manifest_delete', action: 'delete' });
  t.match(classifyRoute('GET', '/v2/app/blobs/sha256:ab'), { operation: 'blob_get', action: 'pull' });
  t.match(classifyRoute('PATCH', '/v2/app/blobs/uploads/uuid-1?_state=x'), {
    operation: 'blob_upload',
    reference: 'uuid-1',
    action: 'push',
  });
  t.match(classifyRoute('POST', '/v2/app/blobs/uploads/?mount=sha256:ab&from=other'), {
    operation: 'blob_upload',
    action: 'push',
  });
  t.match(classifyRoute('GET', '/v2/app/tags/list?n=5'), { operation: 'tags_list', action: 'pull' });
  t.match(classifyRoute('GET', '/v2/app/referrers/sha256:ab'), { operation: 'referrers', action: 'pull' });
  t.match(classifyRoute('GET', '/nginx_status'), { operation: 'other', api: false });
});

t.test('path tricks never produce a repository name', async (t) => {
  for (const p of [
    '/v2/../etc/manifests/x',
    '/v2/a%2Fb/manifests/x',
    '/v2/%2e%2e/manifests/x',
    '/v2/A/manifests/x',
    '/v2/a//b/manifests/x',
  ]) {
    t.equal(classifyRoute('GET', p).repository, undefined, p);
  }
});

t.test('one reading of each path, the same as registry:2 and the embedded core', async (t) => {
  // A tag named like an endpoint is still a manifest of the repository before it: the gateway
  // once read this as the `blobs` endpoint of `secret/manifests` and asked for no pull right.
  t.match(classifyRoute('GET', '/v2/secret/manifests/blobs'), {
    operation: 'manifest_get',
    repository: 'secret',
    reference: 'blobs',
    action: 'pull',
  });
  t.match(classifyRoute('GET', '/v2/a/manifests/tags/list'), { operation: 'tags_list', repository: 'a/manifests' });
  t.match(classifyRoute('GET', '/v2/a/blobs/uploads'), { endpoint: 'upload', repository: 'a', reference: undefined });
  t.match(classifyRoute('GET', '/v2/a/blobs/uploads/'), { endpoint: 'upload', strayTrailingSlash: false });
});

t.test('a stray trailing slash keeps the endpoint for policy and is marked for the core', async (t) => {
  t.match(classifyRoute('GET', '/v2/a/manifests/v1/'), {
    operation: 'manifest_get',
    repository: 'a',
    reference: 'v1',
    strayTrailingSlash: true,
  });
  t.match(classifyRoute('GET', '/v2/a/tags/list/'), { operation: 'tags_list', strayTrailingSlash: true });
});

t.test('path and query are parsed once', async (t) => {
  const r = classifyRoute('POST', '/v2/app/blobs/uploads/?mount=sha256:ab&from=other');
  t.equal(r.path, '/v2/app/blobs/uploads/');
  t.equal(r.query.get('from'), 'other');
  t.equal(classifyRoute('GET', '/v2/_catalog').query.size, 0);
});
