/**
 * Repository globs for the access file: `*` matches any run of characters, including `/`
 * (so `team-a/*` covers `team-a/app` and `team-a/tools/lint`, and `*` covers everything);
 * every other character matches itself. Deliberately tiny: no `?`, classes or braces,
 * because repository names only contain `[a-z0-9._/-]` and an ACL should read plainly.
 */

export function compileGlob(pattern: string): (name: string) => boolean {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`, 's');
  return (name) => re.test(name);
}
