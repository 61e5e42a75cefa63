/**
 * Every option portcullis has, defined once. `--help`, environment variables
 * (PORTCULLIS_<NAME>), the config file's keys, `check-config` and `config-schema` are all
 * derived from this table, so they cannot drift apart.
 *
 * The config file uses the camelCase keys; flags use kebab-case; env uses SCREAMING_SNAKE.
 */

/** `rules`: structured (a YAML/JSON list in the file; YAML or JSON text in a flag or env). */
export type OptionType = 'string' | 'boolean' | 'number' | 'duration' | 'list' | 'rules';

export interface OptionSpec {
  type: OptionType;
  describe: string;
  group: string;
  default?: unknown;
  /** Allowed values for a string option. */
  choices?: readonly string[];
  /** Masked in check-config output. */
  secret?: boolean;
}

const SERVER = 'Listeners and TLS';
const BACKEND = 'Backend';
const PROXY = 'Proxying';
const AUTH = 'Authentication and policy';
const STATS = 'Stats';
const LOG = 'Logging';
const CORS = 'CORS';
const NOTIFY = 'Notifications';
const MIRROR = 'Pull-through mirrors';
const RETENTION = 'Retention';

export const OPTIONS = {
  config: { type: 'string', group: SERVER, describe: 'YAML or JSON config file (keys are the camelCase option names)' },
  flavor: { type: 'string', group: SERVER, describe: 'section of the config file to use on top of "common"' },
  listen: {
    type: 'list',
    group: SERVER,
    default: ['127.0.0.1:5000'],
    describe: 'address to listen on, HOST:PORT (repeatable)',
  },
  publicUrl: {
    type: 'string',
    group: SERVER,
    describe: 'public origin clients use (https://host[:port]); default: from each request',
  },
  tlsCert: {
    type: 'string',
    group: SERVER,
    describe: 'TLS certificate chain (PEM); enables HTTPS on every --listen address',
  },
  tlsKey: { type: 'string', group: SERVER, describe: 'TLS private key (PEM)' },
  tlsSelfSigned: {
    type: 'boolean',
    group: SERVER,
    default: false,
    describe: 'generate a self-signed certificate for the listen hosts (quick start)',
  },
  tlsMinVersion: {
    type: 'string',
    group: SERVER,
    default: 'TLSv1.2',
    choices: ['TLSv1.2', 'TLSv1.3'],
    describe: 'lowest TLS version accepted',
  },
  hsts: {
    type: 'boolean',
    group: SERVER,
    default: false,
    describe: 'send Strict-Transport-Security on HTTPS responses',
  },
  redirectHttp: {
    type: 'string',
    group: SERVER,
    describe: 'also listen on HOST:PORT for plain HTTP and redirect to HTTPS',
  },
  user: { type: 'string', group: SERVER, describe: 'drop privileges to this user after binding (e.g. port 443)' },
  group: { type: 'string', group: SERVER, describe: 'drop privileges to this group after binding' },
  workers: {
    type: 'string',
    group: SERVER,
    default: '1',
    describe:
      'worker processes sharing the listeners, or "auto" for one per core (like nginx worker_processes); a primary supervises them',
  },
  shutdownGrace: {
    type: 'duration',
    group: SERVER,
    default: 30_000,
    describe: 'on SIGTERM, how long in-flight transfers may finish',
  },

  upstream: {
    type: 'list',
    group: BACKEND,
    default: [],
    describe: 'upstream registry URL (repeatable); without it the embedded registry serves',
  },
  upstreamBalance: {
    type: 'string',
    group: BACKEND,
    default: 'round-robin',
    choices: ['round-robin', 'least-conn'],
    describe: 'how new requests pick an upstream member',
  },
  healthInterval: {
    type: 'duration',
    group: BACKEND,
    default: 10_000,
    describe: 'active health check interval for upstream members',
  },
  storage: {
    type: 'string',
    group: BACKEND,
    default: './data',
    describe:
      'embedded registry storage: a directory, or s3://BUCKET/PREFIX for an S3-compatible bucket (AWS credential chain)',
  },
  s3Endpoint: {
    type: 'string',
    group: BACKEND,
    describe: 'S3-compatible endpoint URL (Ceph, MinIO, Swift s3api); default: AWS',
  },
  s3Region: { type: 'string', group: BACKEND, describe: 'S3 region (default: AWS_REGION, else us-east-1)' },
  s3ForcePathStyle: {
    type: 'boolean',
    group: BACKEND,
    describe: 'path-style bucket addressing (default: on with --s3-endpoint, off for AWS)',
  },
  s3ChecksumMode: {
    type: 'string',
    group: BACKEND,
    choices: ['WHEN_REQUIRED', 'WHEN_SUPPORTED'],
    describe:
      'when to send request checksums (default: WHEN_REQUIRED with --s3-endpoint, since Swift and others reject aws-chunked payloads; WHEN_SUPPORTED for AWS)',
  },
  storageRedirect: {
    type: 'boolean',
    group: BACKEND,
    default: false,
    describe: 'blob GETs answer 307 to a presigned bucket URL, so bytes bypass portcullis (S3 storage)',
  },
  storageRedirectBase: {
    type: 'string',
    group: BACKEND,
    describe: 'with --storage-redirect: redirect to this CDN origin + object key instead of a presigned URL',
  },
  storageCacheTtl: {
    type: 'duration',
    group: BACKEND,
    default: 0,
    describe:
      "cache tags, manifests and links in memory this long per instance (others' changes show up within it); 0 = off",
  },
  readOnly: {
    type: 'boolean',
    group: BACKEND,
    default: false,
    describe: 'embedded registry refuses pushes and deletes',
  },
  delete: {
    type: 'boolean',
    group: BACKEND,
    default: true,
    describe: 'embedded registry allows deletes (--no-delete to refuse)',
  },
  insecureNoAuth: {
    type: 'boolean',
    group: BACKEND,
    default: false,
    describe: 'allow listening on a non-loopback address without --htpasswd',
  },

  mirror: {
    type: 'list',
    group: MIRROR,
    default: [],
    describe: 'PREFIX=URL: pull HOST/PREFIX/NAME from the registry at URL, cached in the embedded storage (repeatable)',
  },
  mirrorDefault: {
    type: 'string',
    group: MIRROR,
    describe:
      "mirror PREFIX that serves names outside every prefix and not in local storage (docker's registry-mirrors)",
  },
  mirrorTagTtl: {
    type: 'duration',
    group: MIRROR,
    default: 300_000,
    describe: 'how long a cached tag is served before it is checked again with a HEAD to the remote',
  },
  mirrorMaxSize: {
    type: 'string',
    group: MIRROR,
    describe: 'cache budget (e.g. 20GiB): gc evicts the least recently pulled mirrored images beyond it',
  },
  retention: {
    type: 'rules',
    group: RETENTION,
    describe:
      'retention rules: a list of {repositories, keepLast, keepPushedWithin, keepPulledWithin, keepTags, deleteUntaggedAfter, deleteOrphanReferrers} (docs/retention.md)',
  },
  retentionInterval: {
    type: 'duration',
    group: RETENTION,
    default: 3_600_000,
    describe:
      'how often the server applies the retention rules and then runs gc (0: never; `portcullis retention` runs once)',
  },
  retentionGracePeriod: {
    type: 'duration',
    group: RETENTION,
    default: 3_600_000,
    describe: 'gc after retention never deletes anything younger than this (pushes in flight)',
  },
  mirrorCredentials: {
    type: 'string',
    group: MIRROR,
    describe:
      'YAML/JSON file mapping mirror PREFIX to {username, password} for the remote (or PORTCULLIS_MIRROR_AUTH_<PREFIX>=user:password)',
  },

  idleTimeout: {
    type: 'duration',
    group: PROXY,
    default: 900_000,
    describe: 'cut a transfer after this long without a byte in either direction (like proxy_read_timeout 900)',
  },
  headerTimeout: {
    type: 'duration',
    group: PROXY,
    default: 60_000,
    describe: 'cut clients that take longer to send request headers (slowloris)',
  },
  keepAliveTimeout: {
    type: 'duration',
    group: PROXY,
    default: 75_000,
    describe: "idle keep-alive connections are closed after this (keep above your load balancer's)",
  },
  lingeringTime: {
    type: 'duration',
    group: PROXY,
    default: 30_000,
    describe:
      'after answering a request whose body is still arriving (413, 401, ...), read and drop the rest this long at most, so the client sees the answer (like nginx lingering_time)',
  },
  lingeringTimeout: {
    type: 'duration',
    group: PROXY,
    default: 5_000,
    describe: 'and stop sooner once the client sends nothing for this long (like nginx lingering_timeout)',
  },
  trustedProxies: {
    type: 'list',
    group: PROXY,
    default: [],
    describe: 'CIDRs whose X-Forwarded-*/Forwarded headers are trusted (e.g. your TLS terminator)',
  },

  htpasswd: { type: 'string', group: AUTH, describe: 'htpasswd file enabling basic auth (bcrypt, apr1, {SHA}, crypt)' },
  htpasswdAllowPlain: {
    type: 'boolean',
    group: AUTH,
    default: false,
    describe: 'accept plain-text passwords in the htpasswd file',
  },
  realm: { type: 'string', group: AUTH, default: 'portcullis', describe: 'realm in the WWW-Authenticate challenge' },
  anonymousRead: {
    type: 'boolean',
    group: AUTH,
    default: false,
    describe: 'pulls need no credentials; pushes and deletes do',
  },
  authScheme: {
    type: 'string',
    group: AUTH,
    choices: ['basic', 'token'],
    describe: 'challenge scheme (default: basic, token with --anonymous-read)',
  },
  access: { type: 'string', group: AUTH, describe: 'YAML access rules: who may pull, push, delete which repositories' },
  tokenTtl: {
    type: 'duration',
    group: AUTH,
    default: 300_000,
    describe: 'lifetime of tokens issued by the built-in token service',
  },
  tokenKey: {
    type: 'string',
    group: AUTH,
    describe:
      'file of token signing keys, one per line, the first signs (created 0600 if missing); give every instance the same file so tokens work on all of them and survive restarts',
  },
  bruteForceMax: {
    type: 'number',
    group: AUTH,
    default: 10,
    describe: 'wrong passwords from one IP within --brute-force-window before 429',
  },
  bruteForceWindow: { type: 'duration', group: AUTH, default: 60_000, describe: 'window for counting wrong passwords' },
  bruteForceBlock: {
    type: 'duration',
    group: AUTH,
    default: 300_000,
    describe: 'how long an IP is refused after too many wrong passwords',
  },
  blockUserAgent: {
    type: 'list',
    group: AUTH,
    default: [],
    describe: 'extra user-agent regular expression to refuse (repeatable)',
  },
  defaultUaBlock: {
    type: 'boolean',
    group: AUTH,
    default: true,
    describe: 'refuse clients too old for API v2 (docker 1.3-1.5, bare Go); --no-default-ua-block to allow',
  },

  statsAllow: {
    type: 'list',
    group: STATS,
    default: ['127.0.0.0/8', '::1/128'],
    describe: 'CIDRs allowed to read the stats endpoints',
  },
  statsPath: { type: 'string', group: STATS, default: '/nginx_status', describe: 'path of the nginx stub_status page' },
  metricsPath: { type: 'string', group: STATS, default: '/metrics', describe: 'path of the Prometheus metrics' },
  dashboardPath: { type: 'string', group: STATS, default: '/-/stats', describe: 'path of the live dashboard' },

  corsOrigin: {
    type: 'list',
    group: CORS,
    default: [],
    describe: 'origin allowed to call the API from a browser (repeatable; * only without credentials)',
  },
  corsCredentials: { type: 'boolean', group: CORS, default: true, describe: 'allow credentials in CORS requests' },
  corsMaxAge: {
    type: 'duration',
    group: CORS,
    default: 1_728_000_000,
    describe: 'how long browsers may cache a preflight',
  },

  webhook: {
    type: 'list',
    group: NOTIFY,
    default: [],
    describe: 'URL that receives push/pull/delete events in the registry:2 notifications format (repeatable)',
  },
  webhookTimeout: {
    type: 'duration',
    group: NOTIFY,
    default: 5_000,
    describe: 'how long one webhook delivery may take',
  },
  webhookQueue: {
    type: 'number',
    group: NOTIFY,
    default: 1000,
    describe: 'events kept per endpoint while it is unreachable; the oldest are dropped (and counted) beyond this',
  },
  errorWebhook: {
    type: 'string',
    group: NOTIFY,
    describe: 'URL that receives internal errors (JSON with the stack), replacing email/bugsnag reporting',
  },

  logLevel: {
    type: 'string',
    group: LOG,
    default: 'info',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    describe: 'log level',
  },
  logFormat: {
    type: 'string',
    group: LOG,
    default: 'json',
    choices: ['json', 'combined'],
    describe: 'access log format: pino JSON or Apache/nginx combined',
  },
  accessLog: {
    type: 'string',
    group: LOG,
    default: '-',
    describe: 'access log file ("-" for stdout, "off" to disable); reopened on SIGUSR1',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

export function flagName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function envName(name: string): string {
  return `PORTCULLIS_${flagName(name).replace(/-/g, '_').toUpperCase()}`;
}
