/**
 * Types for the three password-hash packages that ship none. Only what portcullis calls.
 */
declare module 'bcrypt' {
  /** Runs on the libuv thread pool, so a cost-10 verify (~80 ms) never blocks the event loop. */
  export function compare(data: string | Buffer, encrypted: string): Promise<boolean>;
  export function hash(data: string | Buffer, saltOrRounds: string | number): Promise<string>;
  export function getRounds(encrypted: string): number;
  const bcrypt: { compare: typeof compare; hash: typeof hash; getRounds: typeof getRounds };
  export default bcrypt;
}

declare module 'apache-md5' {
  /** `md5(password, "$apr1$salt$...")` returns the full `$apr1$salt$hash` string. */
  function md5(password: string, salt?: string): string;
  export default md5;
}

declare module 'apache-crypt' {
  /** Traditional DES crypt(3): `crypt(password, "ab...")` returns 13 characters. */
  function crypt(password: string, salt?: string): string;
  export default crypt;
}
