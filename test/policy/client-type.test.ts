/** Client names and versions for logs and metrics, from real User-Agent strings. */
import t from 'tap';
import { identifyClient } from '../../src/policy/client-type.js';

const TABLE: Array<[string | undefined, { type: string; version?: string }]> = [
  [
    'docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/5.15.0-119-generic os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))',
    { type: 'docker', version: '27.3.1' },
  ],
  ['docker/1.5.0-dev go/go1.4.1', { type: 'docker', version: '1.5.0-dev' }],
  ['containerd/2.1.6+bottlerocket', { type: 'containerd', version: '2.1.6' }],
  ['containerd/v1.7.2', { type: 'containerd', version: '1.7.2' }],
  ['buildkit/v0.10', { type: 'buildkit', version: '0.10' }],
  ['libpod/4.9.3', { type: 'podman', version: '4.9.3' }],
  ['containers/5.29.2 (github.com/containers/image)', { type: 'podman', version: '5.29.2' }],
  ['skopeo/1.13.3', { type: 'skopeo', version: '1.13.3' }],
  ['Buildah/1.33.7', { type: 'buildah', version: '1.33.7' }],
  ['crane/v0.19.1 go-containerregistry/v0.19.1', { type: 'crane', version: '0.19.1' }],
  ['oras/1.2.0+Homebrew', { type: 'oras', version: '1.2.0' }],
  ['Go-http-client/1.1', { type: 'go-http-client', version: '1.1' }],
  ['Go 1.1 package http', { type: 'go-http-client', version: '1.1' }],
  ['curl/7.58.0', { type: 'curl', version: '7.58.0' }],
  [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    { type: 'browser', version: 'Chrome 126' },
  ],
  [
    'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    { type: 'browser', version: 'Firefox 128' },
  ],
  ['python-requests/2.31.0', { type: 'other' }],
  [undefined, { type: 'other' }],
];

t.test('identifyClient', (t) => {
  for (const [ua, want] of TABLE) t.same(identifyClient(ua), want, String(ua));
  t.end();
});

t.test('results are cached and the cache is bounded', (t) => {
  const ua = 'skopeo/1.13.3';
  t.equal(identifyClient(ua), identifyClient(ua), 'same object on a hit');
  for (let i = 0; i < 5000; i++) identifyClient(`curl/7.${i}.0`);
  t.same(identifyClient('curl/7.4999.0'), { type: 'curl', version: '7.4999.0' });
  t.end();
});
