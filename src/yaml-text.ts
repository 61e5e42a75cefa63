/**
 * YAML for the config, access and mirror files, loaded on first use: the yaml package is about 70
 * modules and several MiB resident, and a server started from flags and environment alone never
 * reads YAML. require() keeps the callers synchronous (the package's Node entry is CommonJS).
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let yaml: Yaml | undefined;

function load(): Yaml {
  yaml ??= createRequire(import.meta.url)('yaml') as Yaml;
  return yaml;
}

export function parseYaml(text: string): unknown {
  return load().parse(text);
}

export function toYaml(value: unknown): string {
  return load().stringify(value);
}
