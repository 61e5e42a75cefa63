/**
 * A start-up failure caused by one option (a flag, its environment variable or its config file
 * entry): the command line prints it as one line naming the option and exits 2. Any layer may
 * throw it, so it sits below all of them.
 */
export class OptionError extends Error {
  constructor(
    /** The option's camelCase name, as in src/config/options.ts. */
    readonly option: string,
    readonly reason: string,
    message = `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${reason}`,
  ) {
    super(message);
    this.name = 'OptionError';
  }
}
