/** JSON Schema of the config file, derived from the option table (`portcullis config-schema`). */
import { OPTIONS, type OptionSpec, envName } from '../config/options.js';
import { formatDuration } from '../config/duration.js';

export function configJsonSchema(): object {
  const properties: Record<string, object> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [string, OptionSpec][]) {
    if (name === 'config' || name === 'flavor') continue;
    const description = `${spec.describe} (env ${envName(name)})`;
    const def =
      spec.type === 'duration' && typeof spec.default === 'number' ? formatDuration(spec.default) : spec.default;
    const base = { description, ...(def !== undefined ? { default: def } : {}) };
    switch (spec.type) {
      case 'boolean':
        properties[name] = { ...base, type: 'boolean' };
        break;
      case 'number':
        properties[name] = { ...base, type: 'number', minimum: 0 };
        break;
      case 'duration':
        properties[name] = { ...base, type: ['string', 'number'], pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)?$' };
        break;
      case 'list':
        properties[name] = { ...base, type: 'array', items: { type: 'string' } };
        break;
      case 'rules':
        properties[name] = { ...base, type: 'array', items: { type: 'object' } };
        break;
      default:
        properties[name] = { ...base, type: 'string', ...(spec.choices ? { enum: spec.choices } : {}) };
    }
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'portcullis configuration',
    type: 'object',
    additionalProperties: {
      type: 'object',
      description: 'a flavor section (e.g. common, dev, prod) holding the same keys',
    },
    properties,
  };
}
