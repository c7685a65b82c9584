// Node-only: the body of one decoding worker thread (see decode-pool-node.ts). `decodeWorkerMain` is started with
// `new Worker(decodeWorkerSource(), { eval: true })` from its own source text, so it must be self-contained: it uses
// only what is declared inside it, the two pure helpers sniff() and headerSize() (whose source is put before it),
// and modules from require() (an eval worker is a CommonJS script). That way the same code
// runs from the compiled package and from the TypeScript sources under vitest, with no separate worker file.
//
// The on-disk cache of evaluation crops (CropJob.cacheDir; deterministic, so cacheable): one file per image at
// <cacheDir>/<h[0..2]>/<h[2..]>.rgb, h the hex SHA-256 of the key (the image's path, size and mtime, the side S,
// the libvips version, a format tag). The file is "OLIMG001", the 32-byte key, u32 LE S, u32 LE 3, the S×S RGB
// pixels (HWC, before normalisation) and a u32 LE CRC-32 of everything before it. An entry is used only when all of
// that checks out (length first, so a foreign file is not read whole); anything else is decoded again and replaced.
import type { DecodeJob, DecodeReply } from './decode-protocol.js';

/** The image's format from its first bytes, as a name, or undefined when it is none we read. */
export function sniff(b: Uint8Array): string | undefined {
  const at = (o: number, s: string) => s.split('').every((ch, i) => b[o + i] === ch.charCodeAt(0));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b[0] === 0x89 && at(1, 'PNG')) return 'png';
  if (at(0, 'RIFF') && at(8, 'WEBP')) return 'webp';
  if (at(0, 'II*\0') || at(0, 'MM\0*')) return 'tiff';
  if (at(0, 'BM')) return 'bmp';
  if (b[0] === 0x50 && [0x32, 0x33, 0x35, 0x36].includes(b[1]) && [0x20, 0x09, 0x0a, 0x0d, 0x23].includes(b[2])) return 'pnm';
  return undefined;
}

/**
 * Width and height from a JPEG, PNG or WebP header, without a call into libvips (which costs as much as decoding
 * a small image); undefined for other formats or an unexpected header, where sharp's metadata() answers.
 */
export function headerSize(b: Uint8Array, kind: string): { width: number; height: number } | undefined {
  const be16 = (o: number) => (b[o] << 8) | b[o + 1];
  const le16 = (o: number) => b[o] | (b[o + 1] << 8);
  if (kind === 'png' && b.length >= 24) return { width: be16(16) * 65536 + be16(18), height: be16(20) * 65536 + be16(22) };
  if (kind === 'jpeg') {
    let at = 2;
    while (at + 9 < b.length) {
      if (b[at] !== 0xff) return undefined;
      const m = b[at + 1];
      if (m === 0xff) {
        at++;
        continue;
      }
      if ((m >= 0xd0 && m <= 0xd9) || m === 0x01) {
        at += 2;
        continue;
      }
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { width: be16(at + 7), height: be16(at + 5) };
      at += 2 + be16(at + 2);
    }
    return undefined;
  }
  if (kind === 'webp' && b.length >= 30) {
    const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
    if (chunk === 'VP8 ') return { width: le16(26) & 0x3fff, height: le16(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') return { width: (b[24] | (b[25] << 8) | (b[26] << 16)) + 1, height: (b[27] | (b[28] << 8) | (b[29] << 16)) + 1 };
  }
  return undefined;
}

/** The worker's source text: the helpers above, then decodeWorkerMain started with workerData.sharpPath. */
export function decodeWorkerSource(): string {
  return `const sniff = ${sniff.toString()};\nconst headerSize = ${headerSize.toString()};\n(${decodeWorkerMain.toString()})(require('node:worker_threads').workerData.sharpPath);\n`;
}

/** The worker: decodes with sharp (libvips), resizes, crops, flips, normalises; answers each job by id. */
export function decodeWorkerMain(sharpPath: string): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const { readFile } = require('node:fs/promises') as typeof import('node:fs/promises');
  const { closeSync, openSync, readSync, statSync } = require('node:fs') as typeof import('node:fs');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const { crc32 } = require('node:zlib') as typeof import('node:zlib');
  const { join } = require('node:path') as typeof import('node:path');
  const sharp = require(sharpPath) as typeof import('sharp').default;
  // One libvips thread per worker: the pool is the parallelism; no operation cache (every image is new).
  sharp.concurrency(1);
  sharp.cache(false);
  if (!parentPort) throw new Error('decodeWorkerMain: not in a worker thread');
  const port = parentPort;

  class DecodeFailure extends Error {}
  const fail = (name: string, msg: string): never => {
    throw new DecodeFailure(`${name}: ${msg}`);
  };

  /** mulberry32, as Random in src/tensor/random.ts. */
  const rng = (seed: number) => {
    let s = seed >>> 0;
    return () => {
      let t = (s = (s + 0x6d2b79f5) >>> 0);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  };

  /** torchvision's RandomResizedCrop.get_params (scale 0.08..1, ratio 3/4..4/3, 10 tries, then a centre crop). */
  const randomResizedCrop = (W: number, H: number, next: () => number) => {
    const area = W * H;
    const lo = Math.log(3 / 4);
    const hi = Math.log(4 / 3);
    for (let t = 0; t < 10; t++) {
      const target = area * (0.08 + 0.92 * next());
      const ratio = Math.exp(lo + (hi - lo) * next());
      const w = Math.round(Math.sqrt(target * ratio));
      const h = Math.round(Math.sqrt(target / ratio));
      if (w > 0 && h > 0 && w <= W && h <= H) {
        const top = Math.floor(next() * (H - h + 1));
        const left = Math.floor(next() * (W - w + 1));
        return { left, top, width: w, height: h };
      }
    }
    const r = W / H;
    let w = W;
    let h = H;
    if (r < 3 / 4) h = Math.round(W / (3 / 4));
    else if (r > 4 / 3) w = Math.round(H * (4 / 3));
    w = Math.min(w, W);
    h = Math.min(h, H);
    return { left: Math.floor((W - w) / 2), top: Math.floor((H - h) / 2), width: w, height: h };
  };

  type Raw = { width: number; height: number; channels: 1 | 2 | 3 | 4; data: Uint8Array };

  /** Netpbm P2/P3/P5/P6 (PGM/PPM, ASCII or binary, maxval up to 65535) → 8-bit grey or RGB. libvips in sharp has no PPM loader. */
  const readNetpbm = (b: Uint8Array, name: string): Raw => {
    const kind = b[1] - 0x30;
    let at = 2;
    const token = (): number => {
      for (;;) {
        while (at < b.length && (b[at] === 0x20 || (b[at] >= 0x09 && b[at] <= 0x0d))) at++;
        if (b[at] !== 0x23) break;
        while (at < b.length && b[at] !== 0x0a && b[at] !== 0x0d) at++;
      }
      const start = at;
      let v = 0;
      while (at < b.length && b[at] >= 0x30 && b[at] <= 0x39 && at - start < 10) v = v * 10 + (b[at++] - 0x30);
      if (at === start) fail(name, `malformed PNM header at byte ${start}`);
      return v;
    };
    const width = token();
    const height = token();
    const maxval = token();
    if (!(width > 0 && height > 0 && width * height <= 2 ** 28)) fail(name, `PNM image of ${width}×${height} pixels is empty or too large`);
    if (!(maxval > 0 && maxval < 65536)) fail(name, `PNM maxval ${maxval} is not in [1, 65535]`);
    const channels = kind === 3 || kind === 6 ? 3 : 1;
    const n = width * height * channels;
    const binary = kind === 5 || kind === 6;
    const wide = maxval > 255;
    if (binary) at++; // the single whitespace byte after maxval
    // Sizes are checked against the file before anything is allocated: a forged header cannot ask for gigabytes.
    const need = binary ? n * (wide ? 2 : 1) : 2 * n - 1;
    if (b.length - at < need) fail(name, `PNM data is ${b.length - at} bytes, expected ${binary ? need : `at least ${need}`} for ${width}×${height}×${channels} (truncated)`);
    const data = new Uint8Array(n);
    const scale = (v: number) => Math.round((Math.min(v, maxval) * 255) / maxval);
    if (binary) {
      for (let i = 0; i < n; i++) data[i] = scale(wide ? (b[at + 2 * i] << 8) | b[at + 2 * i + 1] : b[at + i]);
    } else {
      for (let i = 0; i < n; i++) data[i] = scale(token());
    }
    return { width, height, channels, data };
  };

  /** Uncompressed BMP (1/4/8-bit palette, 16/24/32-bit; BI_RGB or BI_BITFIELDS) → RGB or RGBA. libvips in sharp has no BMP loader. */
  const readBmp = (b: Uint8Array, name: string): Raw => {
    if (b.length < 54) fail(name, `BMP of ${b.length} bytes is shorter than its 54-byte header`);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const dataAt = v.getUint32(10, true);
    const hdr = v.getUint32(14, true);
    if (hdr < 40) fail(name, `BMP core header (${hdr} bytes) is not supported; save it as a Windows BMP`);
    const width = v.getInt32(18, true);
    const rawH = v.getInt32(22, true);
    const height = Math.abs(rawH);
    const bpp = v.getUint16(28, true);
    const comp = v.getUint32(30, true);
    if (!(width > 0 && height > 0 && width * height <= 2 ** 28)) fail(name, `BMP of ${width}×${rawH} pixels is empty or too large`);
    if (comp !== 0 && comp !== 3) fail(name, `compressed BMP (compression ${comp}, e.g. RLE) is not supported; save it uncompressed or as PNG`);
    if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail(name, `BMP with ${bpp} bits per pixel is not supported`);
    const stride = Math.floor((width * bpp + 31) / 32) * 4;
    if (dataAt + stride * height > b.length) fail(name, `BMP pixel data needs ${dataAt + stride * height} bytes, the file has ${b.length} (truncated)`);
    let masks = bpp === 16 ? [0x7c00, 0x3e0, 0x1f, 0] : [0xff0000, 0xff00, 0xff, 0];
    if (comp === 3) masks = [v.getUint32(54, true), v.getUint32(58, true), v.getUint32(62, true), hdr >= 56 ? v.getUint32(66, true) : 0];
    const alpha = bpp === 32 && masks[3] !== 0;
    const channels = alpha ? 4 : 3;
    const palette: number[] = [];
    if (bpp <= 8) {
      const colours = v.getUint32(46, true) || 1 << bpp;
      for (let i = 0; i < colours && 14 + hdr + 4 * i + 3 < b.length; i++) palette.push(v.getUint32(14 + hdr + 4 * i, true));
    }
    if (bpp <= 8) masks = [0xff0000, 0xff00, 0xff, 0]; // palette entries are little-endian B, G, R, reserved
    /** The 8-bit value of the bits of `px` under `mask` (scaled up when the field is narrower than 8 bits). */
    const field = (px: number, mask: number) => {
      if (mask === 0) return 255;
      const low = 31 - Math.clz32(mask & -mask);
      const bits = 32 - Math.clz32(mask >>> low);
      const val = (px & mask) >>> low;
      return bits >= 8 ? val >>> (bits - 8) : Math.round((val * 255) / ((1 << bits) - 1));
    };
    const data = new Uint8Array(width * height * channels);
    for (let y = 0; y < height; y++) {
      const row = dataAt + stride * (rawH > 0 ? height - 1 - y : y);
      for (let x = 0; x < width; x++) {
        let px: number;
        if (bpp <= 8) {
          const bit = x * bpp;
          const idx = (b[row + (bit >> 3)] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
          px = palette[idx] ?? 0;
        } else if (bpp === 16) px = v.getUint16(row + 2 * x, true);
        else if (bpp === 24) px = b[row + 3 * x] | (b[row + 3 * x + 1] << 8) | (b[row + 3 * x + 2] << 16);
        else px = v.getUint32(row + 4 * x, true);
        const o = (y * width + x) * channels;
        for (let c = 0; c < channels; c++) data[o + c] = field(px, masks[c]);
      }
    }
    return { width, height, channels, data };
  };

  const open = (bytes: Uint8Array, name: string) => {
    const kind = sniff(bytes);
    if (!kind) fail(name, `not an image: its first bytes are none of JPEG, PNG, WebP, TIFF, BMP, PPM/PGM`);
    if (kind === 'bmp' || kind === 'pnm') {
      const r = kind === 'bmp' ? readBmp(bytes, name) : readNetpbm(bytes, name);
      return sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });
    }
    return sharp(bytes, { failOn: 'error' });
  };

  const rgb = async (img: import('sharp').Sharp, name: string) => {
    const { data, info } = await img.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) fail(name, `decoded to ${info.channels} channels, expected RGB`);
    // A copy: sharp's buffer is external memory, which cannot be transferred to the main thread.
    return { data: new Uint8Array(data), width: info.width, height: info.height };
  };

  const tables = new Map<string, Float32Array[]>();
  const tablesFor = (mean: number[], std: number[]) => {
    const key = `${mean}/${std}`;
    let t = tables.get(key);
    if (!t) {
      t = mean.map((m, c) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - m) / std[c]));
      tables.set(key, t);
    }
    return t;
  };

  // The on-disk cache of evaluation crops (layout at the top of this file).
  const MAGIC = [0x4f, 0x4c, 0x49, 0x4d, 0x47, 0x30, 0x30, 0x31]; // "OLIMG001"
  const HEAD = 48;
  /** The entry's key: what the crop depends on (the file's path, size and mtime, the side, the decoder's version). */
  const entryKey = (path: string, fileSize: number, mtimeMs: number, S: number): Buffer =>
    createHash('sha256').update(`onelayer eval crop 1\0libvips ${sharp.versions.vips}\0${path}\0${fileSize}\0${mtimeMs}\0${S}`).digest();
  /** The entry's pixels when the file at `path` is one for exactly `key` and `S`, whole and undamaged; 'rejected' when it is there but is not; undefined when absent. */
  const readEntry = (path: string, key: Buffer, S: number): Uint8Array | 'rejected' | undefined => {
    const size = HEAD + 3 * S * S + 4;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    try {
      // One byte more than an entry: a longer file is rejected without reading the rest of it.
      const b = Buffer.allocUnsafe(size + 1);
      let n = 0;
      for (let r = 1; r > 0 && n < b.length; n += r) r = readSync(fd, b, n, b.length - n, n);
      if (n !== size) return 'rejected';
      if (!MAGIC.every((x, i) => b[i] === x) || !b.subarray(8, 40).equals(key)) return 'rejected';
      if (b.readUInt32LE(40) !== S || b.readUInt32LE(44) !== 3) return 'rejected';
      if (crc32(b.subarray(0, size - 4)) !== b.readUInt32LE(size - 4)) return 'rejected';
      return b.subarray(HEAD, size - 4);
    } catch {
      return 'rejected';
    } finally {
      closeSync(fd);
    }
  };
  const makeEntry = (key: Buffer, S: number, pixels: Uint8Array): Uint8Array => {
    const size = HEAD + 3 * S * S + 4;
    const b = Buffer.alloc(size);
    b.set(MAGIC, 0);
    b.set(key, 8);
    b.writeUInt32LE(S, 40);
    b.writeUInt32LE(3, 44);
    b.set(pixels, HEAD);
    b.writeUInt32LE(crc32(b.subarray(0, size - 4)), size - 4);
    // A plain Uint8Array over its own memory, so that it can be transferred.
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };

  const handle = async (job: DecodeJob): Promise<DecodeReply> => {
    if (job.op === 'sniff') {
      // Synchronous reads: four times faster than FileHandle promises for 16 bytes, and this thread does nothing else.
      const head = new Uint8Array(16);
      for (let i = 0; i < job.paths.length; i++) {
        let n = 0;
        try {
          const fd = openSync(job.paths[i], 'r');
          try {
            n = readSync(fd, head, 0, 16, 0);
          } finally {
            closeSync(fd);
          }
        } catch (e) {
          fail(job.paths[i], `cannot read image (${(e as Error).message})`);
        }
        if (!sniff(head.subarray(0, n))) return { id: job.id, ok: true, sniffed: { index: i, head: Array.from(head.subarray(0, n)) } };
      }
      return { id: job.id, ok: true, sniffed: null };
    }
    if (job.op === 'rgb') {
      const img = open(job.bytes, job.name);
      const meta = await img.metadata();
      if ((meta.width ?? 0) * (meta.height ?? 0) > job.maxPixels) fail(job.name, `${meta.width}×${meta.height} image is larger than the ${job.maxPixels} pixels allowed`);
      const out = await rgb(img, job.name);
      return { id: job.id, ok: true, data: out.data, width: out.width, height: out.height };
    }
    const S = job.size;
    const t = tablesFor(job.mean, job.std);
    const plane = S * S;
    /** RGB (HWC) → normalised float32 CHW. */
    const normalise = (d: Uint8Array): Float32Array => {
      const f = new Float32Array(3 * plane);
      for (let i = 0; i < plane; i++) {
        f[i] = t[0][d[3 * i]];
        f[plane + i] = t[1][d[3 * i + 1]];
        f[2 * plane + i] = t[2][d[3 * i + 2]];
      }
      return f;
    };
    let cache: { key: Buffer; path: string; state: 'miss' | 'rejected' } | undefined;
    if (job.cacheDir !== undefined && !job.train) {
      // The file's size and mtime before it is read: an image replaced meanwhile is keyed by its old version (a
      // miss next time), never the other way round.
      let st: import('node:fs').Stats;
      try {
        st = statSync(job.path);
      } catch (e) {
        return fail(job.path, `cannot read image (${(e as Error).message})`);
      }
      const key = entryKey(job.path, st.size, st.mtimeMs, S);
      const hex = key.toString('hex');
      const path = join(job.cacheDir, hex.slice(0, 2), `${hex.slice(2)}.rgb`);
      const got = readEntry(path, key, S);
      if (got instanceof Uint8Array) return { id: job.id, ok: true, data: normalise(got), width: S, height: S, cache: 'hit' };
      cache = { key, path, state: got ?? 'miss' };
    }
    let bytes: Uint8Array;
    try {
      bytes = await readFile(job.path);
    } catch (e) {
      return fail(job.path, `cannot read image (${(e as Error).message})`);
    }
    let img = open(bytes, job.path);
    if (job.train) {
      const next = rng(job.seed);
      const kind = sniff(bytes) ?? '';
      const raw = kind === 'bmp' || kind === 'pnm';
      const meta = (!raw && headerSize(bytes, kind)) || (await img.metadata());
      const W = meta.width ?? 0;
      const H = meta.height ?? 0;
      if (!(W > 0 && H > 0)) fail(job.path, `image has no size (${W}×${H})`);
      img = img.extract(randomResizedCrop(W, H, next)).resize(S, S, { fit: 'fill', kernel: 'linear' });
      if (next() < 0.5) img = img.flop();
    } else {
      // The shorter side to S, then the centre S×S.
      img = img.resize(S, S, { fit: 'cover', position: 'centre', kernel: 'linear' });
    }
    const out = await rgb(img, job.path);
    if (out.width !== S || out.height !== S) fail(job.path, `resized to ${out.width}×${out.height}, expected ${S}×${S}`);
    const f = normalise(out.data);
    if (!cache) return { id: job.id, ok: true, data: f, width: S, height: S };
    return { id: job.id, ok: true, data: f, width: S, height: S, cache: cache.state, entry: { path: cache.path, bytes: makeEntry(cache.key, S, out.data) } };
  };

  port.on('message', (job: DecodeJob) => {
    handle(job).then(
      (reply) => {
        const transfer = reply.ok && 'data' in reply ? [reply.data.buffer as ArrayBuffer] : [];
        if (reply.ok && 'entry' in reply && reply.entry) transfer.push(reply.entry.bytes.buffer as ArrayBuffer);
        port.postMessage(reply, transfer);
      },
      (e: unknown) => {
        const name = job.op === 'rgb' ? job.name : job.op === 'crop' ? job.path : 'image check';
        // libvips repeats a message once per attempt, on lines of its own: each line once, on one line.
        const text = e instanceof Error ? [...new Set(e.message.split('\n').map((l) => l.trim()).filter((l) => l !== ''))].join('; ') : String(e);
        const message = e instanceof DecodeFailure ? e.message : `${name}: cannot decode image (${text})`;
        port.postMessage({ id: job.id, ok: false, error: message } satisfies DecodeReply);
      },
    );
  });
}
