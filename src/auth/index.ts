/**
 * Authentication and authorization for the registry API: htpasswd Basic auth,
 * the Docker token protocol for --anonymous-read, per-repository access rules, brute-force
 * throttling. The gateway calls createAuth() once, check() per request, and
 * handleTokenRequest() for `tokenPath`; SIGHUP calls reload().
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RegistryRoute } from '../oci/route.js';
import type { RegistryError } from '../oci/errors.js';
import { HtpasswdStore } from './htpasswd-store.js';
import { AccessStore } from './access-store.js';
import { BruteForceGuard } from './brute-force.js';
import { TokenSigner } from './token-jwt.js';
import {
  TokenKeyError,
  ensureTokenKeyFile,
  keysFromText,
  randomKeyText,
  readTokenKeyFile,
  readableByOthers,
} from './token-keys.js';
import type { AuthCore } from './auth-core.js';
import { checkRequest } from './request-check.js';
import { handleTokenRequest } from './token-endpoint.js';
import type { FileWatchOptions } from './file-watch.js';
import { OptionError } from '../startup-error.js';

export interface AuthOptions {
  htpasswdFile?: string; // undefined => auth disabled (everything allowed)
  allowPlain: boolean; // --htpasswd-allow-plain
  realm: string; // --realm (default "portcullis")
  anonymousRead: boolean; // --anonymous-read
  scheme: 'basic' | 'token'; // resolved by the gateway: token when anonymousRead unless set explicitly
  accessFile?: string; // --access YAML
  tokenTtlMs: number; // default 5 min
  /** --token-key: keys shared with every instance given the same file (created if missing). */
  tokenKeyFile?: string;
  /** Without a file: a key the workers of one group share (lost on restart); random if unset. */
  tokenKeyText?: string;
  service: string; // token service name (default: public host)
  bruteForce: { maxFailures: number; windowMs: number; blockMs: number }; // defaults 10 / 60s / 300s
  logger: Logger;
  /** With --workers: report wrong passwords to the primary, which counts them for the group. */
  onAuthFailure?: (clientIp: string) => void;
  /** Tests only: file-watch timing, or false to rely on reload(). */
  watch?: FileWatchOptions | false;
}

export interface AuthRequest {
  method: string;
  headers: IncomingHttpHeaders;
  clientIp: string;
  publicOrigin: string /* e.g. https://reg.example:8443 */;
  route: RegistryRoute;
  /** The request lists repositories whatever its path (docker search): it needs what the catalog needs. */
  listing?: boolean;
  /** The connection the request came on (its socket): Basic credentials verified on it are remembered for it. */
  connection?: object;
}

export type AuthResult =
  | { ok: true; user?: string }
  | { ok: false; error: RegistryError; reason: 'missing' | 'invalid' | 'denied' | 'throttled' };

export interface AuthService {
  readonly enabled: boolean;
  readonly tokenPath: string;
  check(r: AuthRequest): Promise<AuthResult>;
  handleTokenRequest(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: { clientIp: string; publicOrigin: string },
  ): Promise<void>;
  filterCatalog(user: string | undefined, repositories: string[]): string[];
  reload(): Promise<void>;
  /** Refuse credentials from this IP for `ms` (the group's primary saw too many failures). */
  blockClient(clientIp: string, ms: number): void;
  close(): void;
}

const TOKEN_PATH = '/token';

export async function createAuth(opts: AuthOptions): Promise<AuthService> {
  if (!opts.htpasswdFile) {
    if (opts.accessFile) throw new OptionError('access', 'needs --htpasswd (there are no users to apply it to)');
    return disabledAuth();
  }
  const htpasswd = await HtpasswdStore.open({
    file: opts.htpasswdFile,
    allowPlain: opts.allowPlain,
    logger: opts.logger,
    watch: opts.watch,
  });
  let access: AccessStore;
  try {
    access = await AccessStore.open({
      file: opts.accessFile,
      anonymousRead: opts.anonymousRead,
      logger: opts.logger,
      knownUser: (u) => htpasswd.has(u),
      watch: opts.watch,
    });
  } catch (err) {
    htpasswd.close();
    throw err;
  }
  const core: AuthCore = {
    realm: opts.realm,
    scheme: opts.scheme,
    service: opts.service,
    tokenPath: TOKEN_PATH,
    anonymousRead: opts.anonymousRead,
    htpasswd,
    access,
    brute: new BruteForceGuard(opts.bruteForce),
    signer: new TokenSigner(opts.service, opts.tokenTtlMs, loadSigningKeys(opts)),
    logger: opts.logger,
    onAuthFailure: opts.onAuthFailure,
  };
  opts.logger.info(
    {
      scheme: opts.scheme,
      anonymousRead: opts.anonymousRead,
      accessFile: opts.accessFile ?? null,
      users: htpasswd.size,
    },
    'authentication enabled',
  );
  return {
    enabled: true,
    tokenPath: TOKEN_PATH,
    check: (r) => checkRequest(core, r),
    handleTokenRequest: (req, res, ctx) => handleTokenRequest(core, req, res, ctx),
    filterCatalog: (user, repositories) => repositories.filter((name) => access.allows(user, name, 'pull')),
    async reload() {
      await htpasswd.reload();
      await access.reload();
      if (opts.tokenKeyFile) {
        try {
          core.signer.setKeys(readTokenKeyFile(opts.tokenKeyFile));
          opts.logger.info({ file: opts.tokenKeyFile }, 'reloaded token keys');
        } catch (e) {
          opts.logger.error({ error: (e as Error).message }, 'token key reload failed; keeping the previous keys');
        }
      }
    },
    blockClient: (ip, ms) => core.brute.block(ip, ms),
    close() {
      htpasswd.close();
      access.close();
    },
  };
}

function loadSigningKeys(opts: AuthOptions) {
  const file = opts.tokenKeyFile;
  if (!file) return keysFromText(opts.tokenKeyText ?? randomKeyText(), 'token key');
  try {
    if (ensureTokenKeyFile(file))
      opts.logger.info({ file }, 'created a token key file (mode 0600); give it to every instance');
    else if (readableByOthers(file))
      opts.logger.warn({ file }, 'the token key file is readable by other users; they could mint tokens');
    return readTokenKeyFile(file);
  } catch (e) {
    // One line naming --token-key, exit 2 (the CLI prints OptionErrors that way).
    throw e instanceof TokenKeyError ? new OptionError('tokenKey', e.message) : e;
  }
}

function disabledAuth(): AuthService {
  return {
    enabled: false,
    tokenPath: TOKEN_PATH,
    check: async () => ({ ok: true }),
    async handleTokenRequest(_req, res) {
      const { sendError } = await import('../oci/errors.js');
      sendError(res, 'NOT_FOUND', 'authentication is not enabled (no --htpasswd)');
    },
    filterCatalog: (_user, repositories) => repositories,
    reload: async () => undefined,
    blockClient: () => undefined,
    close: () => undefined,
  };
}
