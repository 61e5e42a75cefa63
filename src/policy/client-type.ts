/**
 * Name the client behind a User-Agent for logs and metrics: the registry clients' own
 * formats first, ua-parser-js (v1, MIT) for browsers (registry web UIs), else "other".
 *
 * Formats seen in the wild (docs/pitfalls.md: "Old docker clients" and the clients' sources):
 *   docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/... UpstreamClient(Docker-Client/27.3.1 \(linux\))
 *   containerd/2.1.6+bottlerocket          buildkit/v0.10
 *   libpod/4.9.3 (podman)                  containers/5.29.2 (github.com/containers/image)
 *   skopeo/1.13.3                          Buildah/1.33.7
 *   crane/v0.19.1 go-containerregistry/v0.19.1
 *   oras/1.2.0+Homebrew                    Go-http-client/1.1    Go 1.1 package http
 *   curl/7.58.0
 */
import { createRequire } from 'node:module';

type UAParserClass = typeof import('ua-parser-js');
/**
 * ua-parser-js is loaded when the first agent no registry-client pattern names arrives (a
 * browser, usually): its hundreds of regular expressions stay out of a gateway only registry
 * clients talk to. require() keeps classify() synchronous (v1 is CommonJS).
 */
let UAParser: UAParserClass | undefined;

export interface ClientType {
  type: string;
  version?: string;
}

const PATTERNS: Array<[RegExp, string]> = [
  [/^docker\/([^\s]+)/i, 'docker'],
  [/^containerd\/([^\s]+)/i, 'containerd'],
  [/^buildkit\/([^\s]+)/i, 'buildkit'],
  [/^(?:libpod|podman)\/([^\s]+)/i, 'podman'],
  // containers/image's default agent: used by podman and friends that do not set their own.
  [/^containers\/([^\s]+) \(github\.com\/containers\/image\)/i, 'podman'],
  [/^skopeo\/([^\s]+)/i, 'skopeo'],
  [/^buildah\/([^\s]+)/i, 'buildah'],
  [/^crane\/([^\s]+)/i, 'crane'],
  [/^oras(?:-go)?\/([^\s]+)/i, 'oras'],
  [/^Go-http-client\/([^\s]+)/, 'go-http-client'],
  // What docker < 1.6 sent on its ping, and what the default block rule catches.
  [/^Go ([0-9.]+) package http/, 'go-http-client'],
  [/^curl\/([^\s]+)/i, 'curl'],
];

const MAX_CACHED = 1000;
/** Agents only differ by a handful of strings per deployment, and this runs per request. */
const cache = new Map<string, ClientType>();

export function identifyClient(userAgent: string | undefined): ClientType {
  if (!userAgent) return { type: 'other' };
  const hit = cache.get(userAgent);
  if (hit) return hit;
  const result = classify(userAgent);
  if (userAgent.length <= 512) {
    if (cache.size >= MAX_CACHED) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(userAgent, result);
  }
  return result;
}

function classify(ua: string): ClientType {
  for (const [re, type] of PATTERNS) {
    const m = re.exec(ua);
    // Build metadata ("+bottlerocket", "+Homebrew") and a leading "v" are not the version.
    if (m) return { type, version: m[1]!.replace(/\+.*$/, '').replace(/^v(?=\d)/, '') };
  }
  UAParser ??= createRequire(import.meta.url)('ua-parser-js') as UAParserClass;
  const browser = new UAParser(ua).getBrowser();
  if (browser.name)
    return { type: 'browser', version: browser.major ? `${browser.name} ${browser.major}` : browser.name };
  return { type: 'other' };
}
