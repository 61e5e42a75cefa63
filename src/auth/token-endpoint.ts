/**
 * The built-in token service (Docker registry token authentication, distribution
 * docs/spec/auth/token.md): `GET /token?service=&scope=&account=` with Basic credentials or
 * none, answered with `{"token","access_token","expires_in","issued_at"}`. Also the OAuth2
 * password grant (`POST /token`, form body), which containerd tries first when it has
 * credentials (distribution docs/spec/auth/oauth.md).
 *
 * Wrong credentials get 401 here: in the token scheme this is where `docker login` learns
 * that the password is wrong. No credentials get an anonymous token carrying whatever the
 * policy grants anonymous clients (possibly nothing: the registry then answers 401 and
 * docker says "pull access denied ... may require 'docker login'", as Docker Hub does).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError, sendRegistryError } from '../oci/errors.js';
import { parseAuthorization, type Credentials } from './authorization-header.js';
import { verifyBasic, type AuthCore } from './auth-core.js';
import { basicChallenge, unauthorized } from './challenge.js';
import { isRepositoryName, parseScopes, requestedActions, type GrantedAccess } from './token-scope.js';

const MAX_FORM_BYTES = 16 * 1024;

export async function handleTokenRequest(
  core: AuthCore,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: { clientIp: string; publicOrigin: string },
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://token.invalid');
  let creds: Credentials;
  let scopes = url.searchParams.getAll('scope');
  if (req.method === 'GET' || req.method === 'HEAD') {
    creds = parseAuthorization(req.headers.authorization);
  } else if (req.method === 'POST') {
    const form = await readForm(req);
    if (!form)
      return sendError(res, 'BAD_REQUEST', 'expected an application/x-www-form-urlencoded body of at most 16 KiB');
    if (form.get('grant_type') !== 'password') {
      // refresh_token grants would need stored refresh tokens; we never hand one out, so a
      // client never has one. Answer in OAuth2's format so the client reports it.
      return sendJson(res, 400, {
        error: 'unsupported_grant_type',
        error_description: 'only grant_type=password is supported',
      });
    }
    const user = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    creds = user === '' && password === '' ? { kind: 'none' } : { kind: 'basic', user, password };
    scopes = scopes.concat(form.getAll('scope'));
  } else {
    return sendError(res, 'UNSUPPORTED', `${req.method} is not supported on the token endpoint`, null, {
      status: 405,
      headers: { allow: 'GET, HEAD, POST' },
    });
  }

  let user: string | undefined;
  if (creds.kind === 'basic') {
    const out = await verifyBasic(core, creds, ctx.clientIp);
    if (!out.ok)
      return sendRegistryError(
        res,
        out.error ?? unauthorized(basicChallenge(core.realm), 'invalid username or password'),
      );
    user = out.user;
  } else if (creds.kind !== 'none') {
    return sendRegistryError(
      res,
      unauthorized(basicChallenge(core.realm), 'the token endpoint takes Basic credentials'),
    );
  }

  const access: GrantedAccess[] = [];
  for (const s of parseScopes(scopes)) {
    if (s.type === 'repository' && isRepositoryName(s.name)) {
      const actions = core.access.allowedActions(user, s.name, requestedActions(s.actions));
      if (actions.length) access.push({ type: 'repository', name: s.name, actions });
    } else if (s.type === 'registry' && s.name === 'catalog' && (user !== undefined || core.anonymousRead)) {
      access.push({ type: 'registry', name: 'catalog', actions: ['*'] });
    }
  }
  const { token, expiresIn, issuedAt } = await core.signer.sign({ subject: user ?? '', access });
  core.logger.debug({ clientIp: ctx.clientIp, user, access }, 'token issued');
  sendJson(res, 200, { token, access_token: token, expires_in: expiresIn, issued_at: issuedAt });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  // Tokens are credentials: no shared cache may keep them.
  res.setHeader('cache-control', 'no-store');
  res.setHeader('pragma', 'no-cache');
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
