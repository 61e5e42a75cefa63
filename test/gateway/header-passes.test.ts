import t from 'tap';
import {
  rewriteUrl,
  rewriteLink,
  rewriteAuthenticate,
  upstreamRequestHeaders,
  clientResponseHeaders,
} from '../../src/gateway/headers.js';
import type { ClientView } from '../../src/gateway/forwarded.js';

const client: ClientView = {
  ip: '203.0.113.7',
  peer: '203.0.113.7',
  scheme: 'https',
  host: 'registry.example.com:8443',
};
const internal = new Set(['http://127.0.0.1:5000']);

t.test('Location at the upstream origin becomes the public origin, query kept byte for byte', async (t) => {
  const loc = 'http://127.0.0.1:5000/v2/app/blobs/uploads/0b1f?_state=abc%3D%3D&digest=sha256%3Aff';
  t.equal(
    rewriteUrl(loc, internal, client),
    'https://registry.example.com:8443/v2/app/blobs/uploads/0b1f?_state=abc%3D%3D&digest=sha256%3Aff',
  );
});

t.test('http:// Location for the public host is upgraded when the client used https (distribution#2225)', async (t) => {
  t.equal(
    rewriteUrl('http://registry.example.com:8443/v2/x/blobs/uploads/1', internal, client),
    'https://registry.example.com:8443/v2/x/blobs/uploads/1',
  );
});

t.test('relative and foreign Locations are left alone (presigned storage URLs)', async (t) => {
  t.equal(rewriteUrl('/v2/x/blobs/uploads/1?_state=a', internal, client), '/v2/x/blobs/uploads/1?_state=a');
  const s3 = 'https://bucket.s3.amazonaws.com/docker/registry/v2/blobs/sha256/ab/abcd/data?X-Amz-Signature=1';
  t.equal(rewriteUrl(s3, internal, client), s3);
});

t.test('Link pagination and Bearer realm are rewritten like Location', async (t) => {
  t.equal(
    rewriteLink('<http://127.0.0.1:5000/v2/_catalog?last=b&n=2>; rel="next"', internal, client),
    '<https://registry.example.com:8443/v2/_catalog?last=b&n=2>; rel="next"',
  );
  t.equal(
    rewriteAuthenticate(
      'Bearer realm="http://127.0.0.1:5000/token",service="reg",scope="repository:a:pull"',
      internal,
      client,
    ),
    'Bearer realm="https://registry.example.com:8443/token",service="reg",scope="repository:a:pull"',
  );
});

t.test(
  'request headers: Host verbatim, forwarding headers single-valued and computed, hop-by-hop dropped',
  async (t) => {
    const out = upstreamRequestHeaders(
      {
        host: 'registry.example.com:8443',
        'x-forwarded-proto': 'http',
        'x-forwarded-for': '1.2.3.4',
        forwarded: 'proto=http',
        'transfer-encoding': 'chunked',
        connection: 'keep-alive, x-secret',
        'x-secret': 'hop',
        accept: ['a', 'b'] as unknown as string,
        expect: '100-continue',
        authorization: 'Basic dTpw',
      },
      client,
      '/v2/x/blobs/uploads/1?_state=z',
    );
    t.equal(out.host, 'registry.example.com:8443');
    t.equal(out['x-forwarded-proto'], 'https');
    t.equal(out['x-forwarded-host'], 'registry.example.com:8443');
    t.equal(
      out['x-forwarded-for'],
      '203.0.113.7',
      'client-supplied X-Forwarded-For from an untrusted peer is replaced',
    );
    t.equal(out['x-real-ip'], '203.0.113.7');
    t.equal(out['x-original-uri'], '/v2/x/blobs/uploads/1?_state=z');
    t.equal(out.forwarded, undefined, 'a client Forwarded header would win in distribution: dropped');
    t.equal(out['transfer-encoding'], undefined);
    t.equal(out['x-secret'], undefined, 'headers named in Connection are hop-by-hop');
    t.equal(out.expect, undefined);
    t.same(out.accept, ['a', 'b'], 'repeated Accept headers all kept');
    t.equal(out.authorization, 'Basic dTpw', 'credentials reach the upstream (it may check them too)');
  },
);

t.test('trusted proxy chain: prior X-Forwarded-For is extended with the peer', async (t) => {
  const out = upstreamRequestHeaders(
    { host: 'h' },
    { ...client, ip: '198.51.100.1', peer: '10.0.0.2', priorForwardedFor: '198.51.100.1' },
    '/v2/',
  );
  t.equal(out['x-forwarded-for'], '198.51.100.1, 10.0.0.2');
  t.equal(out['x-real-ip'], '198.51.100.1');
});

t.test(
  'response headers: API version added once, Content-Length and digest kept, Location on 202 rewritten',
  async (t) => {
    const out = clientResponseHeaders(
      {
        'content-length': '1234',
        'docker-content-digest': 'sha256:ab',
        location: 'http://127.0.0.1:5000/v2/a/blobs/uploads/9',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
      },
      internal,
      client,
    );
    t.equal(out['docker-distribution-api-version'], 'registry/2.0');
    t.equal(out['content-length'], '1234');
    t.equal(out['docker-content-digest'], 'sha256:ab');
    t.equal(out.location, 'https://registry.example.com:8443/v2/a/blobs/uploads/9');
    t.equal(out['keep-alive'], undefined);
    t.equal(out['transfer-encoding'], undefined);
    const kept = clientResponseHeaders({ 'docker-distribution-api-version': 'registry/2.0' }, internal, client);
    t.equal(kept['docker-distribution-api-version'], 'registry/2.0');
  },
);
