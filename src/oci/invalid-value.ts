/**
 * A value that does not parse (a duration, an address, a mirror spec, a retention rule...). The
 * parser does not know which option the value came from; the caller that does turns it into an
 * OptionError (src/startup-error.ts) naming that option. Anything else thrown while reading the configuration is a bug.
 */
export class InvalidValue extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidValue';
  }
}
