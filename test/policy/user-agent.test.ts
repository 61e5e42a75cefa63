/** The default block rule of the nginx recipe against real User-Agent strings (docs/pitfalls.md: "Old docker clients"). */
import t from 'tap';
import { createUserAgentPolicy, DEFAULT_UA_RULE } from '../../src/policy/user-agent.js';

const TABLE: Array<[string | undefined, boolean]> = [
  [
    'docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/5.15.0-119-generic os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))',
    false,
  ],
  ['docker/1.6.0 go/go1.4.2 git-commit/4749651 kernel/3.16.0 os/linux arch/amd64', false],
  ['docker/1.5.0 go/go1.4.1 git-commit/a8a31ef kernel/3.13.0 os/linux arch/amd64', true],
  ['docker/1.5.0-dev go/go1.4.1 git-commit/a8a31ef kernel/3.13.0 os/linux arch/amd64', false],
  ['docker/1.4.1 go/go1.3.3 git-commit/5bc2ff8 kernel/3.13.0 os/linux arch/amd64', true],
  ['docker/1.3.2 go/go1.3.3 git-commit/39fa2fa kernel/3.13.0 os/linux arch/amd64', true],
  ['Go 1.1 package http', true],
  ['Go-http-client/1.1', false],
  ['containerd/2.1.6+bottlerocket', false],
  ['skopeo/1.13.3', false],
  ['buildkit/v0.10', false],
  ['curl/7.58.0', false],
  ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', false],
  [undefined, false],
  ['', false],
];

t.test('default rule', (t) => {
  const policy = createUserAgentPolicy({ extra: [], defaultRule: true });
  for (const [ua, blocked] of TABLE) t.equal(policy.blockedBy(ua), blocked ? DEFAULT_UA_RULE : undefined, String(ua));
  t.end();
});

t.test('--no-default-ua-block lets everything through; --block-user-agent adds rules', (t) => {
  t.equal(createUserAgentPolicy({ extra: [], defaultRule: false }).blockedBy('docker/1.5.0'), undefined);
  const p = createUserAgentPolicy({ extra: ['^curl/', 'python-requests'], defaultRule: true });
  t.equal(p.blockedBy('curl/7.58.0'), '^curl/');
  t.equal(p.blockedBy('my python-requests/2.31'), 'python-requests');
  t.equal(p.blockedBy('Go 1.1 package http'), DEFAULT_UA_RULE, 'default rule checked first');
  t.end();
});

t.test('a bad regular expression is a one-line start-up error naming the flag', (t) => {
  t.throws(() => createUserAgentPolicy({ extra: ['(unclosed'], defaultRule: true }), {
    message: /^--block-user-agent: invalid regular expression "\(unclosed": /,
  });
  t.end();
});
