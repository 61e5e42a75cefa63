/**
 * A portcullis with two users, as the usage-endpoint and repository-browser tests need it: admin
 * (every action everywhere) and viewer (pull, on every repository unless other access rules
 * are given), from an htpasswd file and an access file; on the embedded core or in front of a
 * fresh registry:2; and images pushed as one of them with skopeo.
 */
import type { Test } from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileP, skopeoPush, startRegistry2 } from './processes.js';
import { portcullisFor, type ScopedPortcullis } from './scoped.js';

export type Credentials = [user: string, password: string];
export const ADMIN: Credentials = ['admin', 'admin-pw'];
export const VIEWER: Credentials = ['viewer', 'viewer-pw'];

/** admin may do everything, viewer pull anything. */
export const VIEWER_PULLS_ALL = `
rules:
  - repository: "*"
    users: [admin]
    actions: ["*"]
  - repository: "*"
    users: [viewer]
    actions: [pull]
`;

export const basicAuth = ([user, password]: Credentials) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** `--htpasswd` and `--access` flags for admin and viewer, their files written in dir. */
export async function userFlags(dir: string, access = VIEWER_PULLS_ALL): Promise<string[]> {
  const htpasswd = join(dir, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, ...ADMIN]);
  await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, ...VIEWER]);
  const file = join(dir, 'access.yaml');
  await writeFile(file, access);
  return ['--htpasswd', htpasswd, '--access', file];
}

/** portcullis with admin and viewer on `backend` (e.g. `--storage DIR`), stopped when t ends. */
export async function gatewayWithUsers(
  t: Test,
  dir: string,
  backend: string[],
  opts: { access?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ScopedPortcullis> {
  return portcullisFor(t, [...backend, '--access-log', 'off', ...(await userFlags(dir, opts.access))], {
    env: opts.env,
  });
}

/** `--upstream` flags for a fresh registry:2 (Debian's docker-registry), stopped when t ends. */
export async function registry2Backend(t: Test): Promise<string[]> {
  const upstream = await startRegistry2();
  t.teardown(() => upstream.stop());
  return ['--upstream', upstream.url];
}

/** skopeo copy of a generated image (its layout and tag) to `host/repo:tag` as `user`; `all` copies every platform. */
export function pushAs(
  user: Credentials,
  image: { dir: string; tag: string },
  ref: string,
  opts: { all?: boolean } = {},
) {
  return skopeoPush(`${image.dir}:${image.tag}`, ref, [
    '--quiet',
    ...(opts.all ? ['--all'] : []),
    '--dest-creds',
    user.join(':'),
  ]);
}
