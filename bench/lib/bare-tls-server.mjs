// The least a Node.js https server does to move a blob, with nothing of portcullis in the way: the
// floors that bench/lib/floors.js measures next to portcullis in the same run. Same TLS settings as
// portcullis (its suite order, read from dist/), 256 KiB blocks like its byte paths.
//   node bare-tls-server.mjs CERT KEY PORT RAW_PORT SIZE BLOB_FILE UPLOAD_FILE TLS_MODULE
//   GET  /memory  SIZE bytes from one reused buffer           (TLS send floor)
//   GET  /file    BLOB_FILE read into two reused buffers      (TLS send + file read)
//   PUT  /drop    the body read with Node's parser, dropped   (TLS + HTTP receive)
//   PUT  /store   the same, SHA-256 hashed and written to UPLOAD_FILE, fsync'd (a plain Node push)
//   HEAD (any)    a manifest's headers from constants        (Node's cost of one small request)
// RAW_PORT is a TLS server without Node's HTTP server: it reads the request off the TLS socket
// as it comes (one buffer per TLS record, as any Node TLS socket reads) and answers 201 when the
// chunked body ends (curl sends a body from stdin chunked), so no per-piece HTTP work is paid:
//   PUT  /drop    bytes dropped                               (Node TLS receive floor)
//   PUT  /store   gathered into 256 KiB blocks, each SHA-256 hashed and written, fsync'd
import https from 'node:https';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';

const [cert, key, port, rawPort, size, blobFile, uploadFile, tlsModule] = process.argv.slice(2);
const { CIPHERS } = await import(tlsModule);
const BLOCK = 256 * 1024;
const memory = Buffer.alloc(BLOCK, 7);
const MANIFEST_HEADERS = {
  'content-type': 'application/vnd.oci.image.manifest.v1+json',
  'content-length': '528',
  'docker-content-digest': `sha256:${'0'.repeat(64)}`,
  'docker-distribution-api-version': 'registry/2.0',
};

/** Write `next()`'s blocks in turn, waiting for 'drain' when the socket is full. */
async function sendBlocks(res, next) {
  for (let block = await next(); block; block = await next())
    if (!res.write(block)) await new Promise((r) => res.once('drain', r));
  res.end();
}

async function sendFile(res) {
  const fh = await open(blobFile);
  // Two buffers: one being read while the other waits in the socket's queue.
  const buffers = [Buffer.allocUnsafe(BLOCK), Buffer.allocUnsafe(BLOCK)];
  let turn = 0;
  try {
    await sendBlocks(res, async () => {
      const buf = buffers[turn++ % 2];
      const { bytesRead } = await fh.read(buf, 0, BLOCK, null);
      return bytesRead > 0 ? buf.subarray(0, bytesRead) : null;
    });
  } finally {
    await fh.close();
  }
}

async function store(req) {
  const fh = await open(uploadFile, 'w');
  const hash = createHash('sha256');
  try {
    for await (const piece of req) {
      hash.update(piece);
      await fh.write(piece);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

const tlsOptions = { cert: readFileSync(cert), key: readFileSync(key), ciphers: CIPHERS, honorCipherOrder: true };

https
  .createServer(tlsOptions, (req, res) => {
    const fail = (e) => res.writeHead(500).end(String(e));
    if (req.url === '/ready') return void res.writeHead(204).end();
    if (req.method === 'HEAD') return void res.writeHead(200, MANIFEST_HEADERS).end();
    if (req.url === '/memory') {
      let left = Number(size);
      res.writeHead(200, { 'content-length': left });
      return void sendBlocks(res, () => {
        const n = Math.min(left, BLOCK);
        left -= n;
        return n === 0 ? null : n === BLOCK ? memory : memory.subarray(0, n);
      }).catch(fail);
    }
    if (req.url === '/file') {
      res.writeHead(200, { 'content-length': Number(size) });
      return void sendFile(res).catch(fail);
    }
    if (req.url === '/drop') {
      req.resume();
      return void req.on('end', () => res.writeHead(201).end());
    }
    if (req.url === '/store') return void store(req).then((hex) => res.writeHead(201).end(hex), fail);
    res.writeHead(404).end();
  })
  .listen(Number(port), '127.0.0.1');

const END_OF_CHUNKED = Buffer.from('\r\n0\r\n\r\n');

/** One request per connection: PUT /drop or /store with a chunked body, answered 201. */
tls
  .createServer(tlsOptions, (socket) => {
    let head = '';
    let storing = null; // { fh, hash, block, used, queued, writes }
    let tail = Buffer.alloc(0);
    const finish = async () => {
      if (storing) {
        const s = storing;
        s.hash.update(s.block.subarray(0, s.used));
        await s.writes;
        await s.fh.write(s.block, 0, s.used);
        await s.fh.sync();
        await s.fh.close();
        s.hash.digest();
      }
      socket.end('HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    };
    const body = (piece) => {
      tail = Buffer.concat([tail, piece.subarray(-END_OF_CHUNKED.length)]).subarray(-END_OF_CHUNKED.length);
      if (storing) {
        const s = storing;
        for (let at = 0; at < piece.length; ) {
          const n = piece.copy(s.block, s.used, at);
          s.used += n;
          at += n;
          if (s.used === BLOCK) {
            s.hash.update(s.block);
            const full = s.block;
            // At most 8 blocks queued for the file: the socket waits for the disk, as portcullis does.
            if (++s.queued >= 8) socket.pause();
            s.writes = s.writes.then(() => s.fh.write(full)).then(() => --s.queued < 8 && socket.resume());
            s.block = Buffer.allocUnsafe(BLOCK);
            s.used = 0;
          }
        }
      }
      if (tail.equals(END_OF_CHUNKED)) void finish();
    };
    socket.on('data', async (piece) => {
      if (head !== null) {
        head += piece.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const path = head.split(' ', 2)[1];
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        head = null;
        if (path === '/store') {
          socket.pause();
          storing = {
            fh: await open(uploadFile, 'w'),
            hash: createHash('sha256'),
            block: Buffer.allocUnsafe(BLOCK),
            used: 0,
            queued: 0,
            writes: Promise.resolve(),
          };
          socket.resume();
        }
        if (rest.length > 0) body(rest);
        return;
      }
      body(piece);
    });
  })
  .listen(Number(rawPort), '127.0.0.1');
