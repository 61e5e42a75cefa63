/**
 * The rules the server reads only as it starts (--retention, the --access file), read here the
 * same way for `check-config`, so a value the server would refuse is refused before a deploy,
 * with the same one line naming the flag.
 */
import pino from 'pino';
import { AccessStore } from '../auth/access-store.js';
import type { Config } from '../config/load.js';
import { retentionOption } from '../retention/policy.js';

/** Throws the server's OptionError for the first option it would refuse. */
export async function checkStartUpRules(config: Config): Promise<void> {
  retentionOption(config.retention);
  if (config.access) {
    // The server's own loader (not watched, nothing logged): same reading, same errors.
    const store = await AccessStore.open({
      file: config.access,
      anonymousRead: config.anonymousRead,
      logger: pino({ level: 'silent' }),
      watch: false,
    });
    store.close();
  }
}
