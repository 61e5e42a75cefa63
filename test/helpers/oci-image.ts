/**
 * Generate OCI image layouts on disk for tests: real tar layers of incompressible random
 * bytes (docker can load them), a config, a manifest, optionally a multi-arch index.
 * Large layers are written in chunks so generating a 1 GiB layer needs no 1 GiB buffer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile, rename } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
}
export interface GeneratedImage {
  dir: string;
  tag: string;
  manifest: Descriptor;
  layers: Descriptor[];
  config: Descriptor;
  index?: Descriptor;
  blobs: string[];
}

async function writeBlob(dir: string, data: Buffer): Promise<Descriptor & { size: number }> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  return { mediaType: '', digest, size: data.length };
}

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/**
 * A gzip'd tar holding one file of `size` random bytes, streamed to disk while hashing.
 * gzip level 0 (stored blocks): clients keep gzip layers as they are, while an uncompressed
 * layer would be recompressed by skopeo on push and change its digest. Returns the
 * descriptor and the diff_id (digest of the uncompressed tar) the image config needs.
 */
async function writeTarLayer(dir: string, size: number, name: string): Promise<Descriptor & { diffId: string }> {
  const { createGzip, constants } = await import('node:zlib');
  const { createWriteStream } = await import('node:fs');
  const tmp = join(dir, 'blobs', 'sha256', `tmp-${randomBytes(6).toString('hex')}`);
  const out = createWriteStream(tmp);
  const gzip = createGzip({ level: constants.Z_NO_COMPRESSION });
  const compressed = createHash('sha256');
  let total = 0;
  gzip.on('data', (c: Buffer) => {
    compressed.update(c);
    total += c.length;
    if (!out.write(c)) gzip.pause();
  });
  out.on('drain', () => gzip.resume());
  const ended = once(gzip, 'end');
  const uncompressed = createHash('sha256');
  const put = async (b: Buffer) => {
    uncompressed.update(b);
    if (!gzip.write(b)) await once(gzip, 'drain');
  };
  await put(tarHeader(name, size));
  const CHUNK = 4 << 20;
  for (let left = size; left > 0; left -= CHUNK) await put(randomBytes(Math.min(CHUNK, left)));
  const pad = (512 - (size % 512)) % 512;
  await put(Buffer.alloc(pad + 1024, 0));
  gzip.end();
  await ended;
  out.end();
  await once(out, 'finish');
  const digest = `sha256:${compressed.digest('hex')}`;
  await rename(tmp, join(dir, 'blobs', 'sha256', digest.slice(7)));
  return {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest,
    size: total,
    diffId: `sha256:${uncompressed.digest('hex')}`,
  };
}

/** What a test may set in the image config: its creation time and labels (`LABEL` in a Dockerfile). */
export interface ConfigExtras {
  created?: string;
  labels?: Record<string, string>;
}

async function writeImage(dir: string, layerSizes: number[], arch = 'amd64', extra: ConfigExtras = {}) {
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const [i, size] of layerSizes.entries()) {
    const { diffId, ...layer } = await writeTarLayer(dir, size, `layer-${i}-${arch}.bin`);
    layers.push(layer);
    diffIds.push(diffId);
  }
  const config = await writeBlob(
    dir,
    Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        created: extra.created ?? new Date().toISOString(),
        config: { Cmd: ['/layer-0.bin'], ...(extra.labels ? { Labels: extra.labels } : {}) },
        rootfs: { type: 'layers', diff_ids: diffIds },
      }),
    ),
  );
  config.mediaType = 'application/vnd.oci.image.config.v1+json';
  const manifest = await writeBlob(
    dir,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config,
        layers,
      }),
    ),
  );
  manifest.mediaType = 'application/vnd.oci.image.manifest.v1+json';
  return { layers, config, manifest };
}

/**
 * Make `dir` an OCI layout holding one image tagged `tag` with layers of the given sizes.
 * With `archs` of length > 1, the tag names an image index with one manifest per arch.
 */
export async function makeOciImage(
  dir: string,
  opts: { tag?: string; layerSizes: number[]; archs?: string[] } & ConfigExtras,
): Promise<GeneratedImage> {
  const tag = opts.tag ?? 'latest';
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const archs = opts.archs ?? ['amd64'];
  const images = [];
  for (const arch of archs) images.push({ arch, ...(await writeImage(dir, opts.layerSizes, arch, opts)) });
  let top: Descriptor;
  let index: Descriptor | undefined;
  if (archs.length === 1) {
    top = images[0]!.manifest;
  } else {
    index = await writeBlob(
      dir,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: images.map((im) => ({ ...im.manifest, platform: { architecture: im.arch, os: 'linux' } })),
        }),
      ),
    );
    index.mediaType = 'application/vnd.oci.image.index.v1+json';
    top = index;
  }
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  const blobs = images.flatMap((im) => [im.manifest.digest, im.config.digest, ...im.layers.map((l) => l.digest)]);
  if (index) blobs.push(index.digest);
  return {
    dir,
    tag,
    manifest: images[0]!.manifest,
    layers: images.flatMap((im) => im.layers),
    config: images[0]!.config,
    index,
    blobs,
  };
}

/** sha256 of a file, streamed. */
export async function fileDigest(path: string): Promise<string> {
  const { createReadStream } = await import('node:fs');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The blobs of an OCI layout (a pulled image) whose bytes do not hash to their digest, as
 * "DIGEST: what it hashed to" ('missing' when absent): none when the image came back whole.
 */
export async function blobsNotMatching(layout: string, digests: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const d of digests) {
    const got = await fileDigest(join(layout, 'blobs', 'sha256', d.slice(7))).catch(() => 'missing');
    if (got !== d) bad.push(`${d}: ${got}`);
  }
  return bad;
}
