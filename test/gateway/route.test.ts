import t from 'tap';
import { classifyRoute } from '../../src/gateway/route.js';

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
