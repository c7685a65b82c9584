// Property tests and fuzzing of every reader: each input either decodes consistently or raises the project's own
// error (SafetensorsError, DatasetError), never a TypeError/RangeError, a hang or an allocation sized by an
// unchecked field. Valid encodings are mutated (bit flips, truncation, insertion, header field edits) so that the
// cases reach deep paths, not only the first magic-number check.
//
// `npm test` runs a few hundred cases per property with a fixed seed; `npm run fuzz` sets FUZZ_RUNS (thousands) and
// a fresh seed, printed so that a failure can be replayed with FUZZ_SEED=<seed>.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDatasetCache, encodeDatasetCache } from '../src/data/cache-node.js';
import { DecodePool } from '../src/data/decode-pool-node.js';
import {
  DatasetError,
  gunzip,
  memoryFileTree,
  parseCifar,
  parseCifarArchive,
  parseTinyImagenet,
  readTar,
  writeTar,
  type Dataset,
  type DecodedImage,
  type NamedBytes,
} from '../src/data/index.js';
import { gunzipNode } from '../src/data/node.js';
import { decodeSafetensors, encodeSafetensors, readSafetensorsHeader, SafetensorsError, type NamedTensorData } from '../src/io/safetensors.js';

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 0) || 0;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : FUZZ_RUNS > 0 ? Date.now() % 2 ** 31 : 20_240_617;
if (FUZZ_RUNS > 0) console.info(`fuzz: FUZZ_RUNS=${FUZZ_RUNS} FUZZ_SEED=${SEED}`);
/** fast-check parameters: `n` cases in npm test, FUZZ_RUNS (scaled by `weight` for slow readers) when fuzzing. */
const params = (n: number, weight = 1) => ({ seed: SEED, numRuns: FUZZ_RUNS > 0 ? Math.max(n, Math.round(FUZZ_RUNS * weight)) : n });
/** Long enough for FUZZ_RUNS=5000; npm test's cases take well under a second each. */
const TIMEOUT = FUZZ_RUNS > 0 ? 1_800_000 : 60_000;

const dir = mkdtempSync(join(tmpdir(), 'onelayer-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** FUZZ_STATS=1 prints how often each kind of error (digits and quoted text elided) and success came up. */
const stats = new Map<string, number>();
const note = (what: string) => {
  if (process.env.FUZZ_STATS) stats.set(what, (stats.get(what) ?? 0) + 1);
};
afterAll(() => {
  if (stats.size === 0) return;
  const lines = [...stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${String(n).padStart(6)}  ${k}`);
  console.info(`fuzz outcomes:\n${lines.join('\n')}`);
});

/** Rethrows anything that is not the reader's own error class (the fuzzer's real finding). */
function ownError(e: unknown, cls: typeof DatasetError | typeof SafetensorsError): void {
  if (!(e instanceof cls)) throw e;
  expect(e.message.length).toBeGreaterThan(0);
  note(`${cls.name}: ${e.message.replace(/"[^"]*"|\d+/g, '#').replace(/^[^:]*: /, '').slice(0, 90)}`);
}

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView): boolean => bytesOf(a).equals(bytesOf(b));

// ---- containers: the same bytes in every kind of Uint8Array a caller may hold ----

type ContainerKind = 'fresh' | 'pooled' | 'odd subarray' | 'readFileSync';
let fileCount = 0;

/** `bytes` as a fresh array, a pooled Buffer (byteOffset ≠ 0 under 4 KiB), an odd-offset subarray, or a file read back. */
function container(bytes: Uint8Array, kind: ContainerKind): Uint8Array {
  switch (kind) {
    case 'fresh':
      return new Uint8Array(bytes);
    case 'pooled': {
      // When the pool is full, the next Buffer starts a new pool at offset 0: then take the one after it.
      let b = Buffer.from(bytes);
      for (let i = 0; i < 2 && b.byteOffset === 0; i++) b = Buffer.from(bytes);
      if (bytes.length > 0 && bytes.length < 4096) expect(b.byteOffset, 'a small Buffer comes from the shared pool').not.toBe(0);
      return b;
    }
    case 'odd subarray': {
      // Garbage around the view: a reader that strays outside it decodes 0xa5s.
      const big = new Uint8Array(bytes.length + 8).fill(0xa5);
      big.set(bytes, 3);
      return big.subarray(3, 3 + bytes.length);
    }
    case 'readFileSync': {
      const p = join(dir, `c${fileCount++}.bin`);
      writeFileSync(p, bytes);
      return readFileSync(p);
    }
  }
}
const CONTAINERS: ContainerKind[] = ['fresh', 'pooled', 'odd subarray', 'readFileSync'];
const memoryContainer = fc.constantFrom<ContainerKind>('fresh', 'pooled', 'odd subarray');

// ---- mutations of byte strings ----

/** A position as a fraction of the length; uniform (fc.double leans to 0 and extremes: edits would pile up at the start). */
const frac = fc.integer({ min: 0, max: 0xffffffff }).map((x) => x / 2 ** 32);
const interestingByte = fc.oneof(fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x20, 0x30, 0x37, 0x39, 0x7b, 0x22, 0x0a, 0x09), fc.integer({ min: 0, max: 255 }));
type Edit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'copy'; from: number; to: number; n: number };
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: frac, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: frac, value: interestingByte }),
  fc.record({ op: fc.constant('truncate' as const), at: frac }),
  fc.record({ op: fc.constant('insert' as const), at: frac, bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
  fc.record({ op: fc.constant('delete' as const), at: frac, n: fc.integer({ min: 1, max: 600 }) }),
  fc.record({ op: fc.constant('copy' as const), from: frac, to: frac, n: fc.integer({ min: 1, max: 64 }) }),
);
const editsArb = fc.array(editArb, { minLength: 1, maxLength: 4 });

function applyEdits(base: Uint8Array, edits: Edit[]): Uint8Array {
  let b = new Uint8Array(base);
  for (const e of edits) {
    const pos = (f: number) => Math.floor(f * b.length);
    if (e.op === 'flip' && b.length > 0) b[pos(e.at)] ^= 1 << e.bit;
    else if (e.op === 'set' && b.length > 0) b[pos(e.at)] = e.value;
    else if (e.op === 'truncate') b = b.slice(0, pos(e.at));
    else if (e.op === 'insert') {
      const at = Math.floor(e.at * (b.length + 1));
      const out = new Uint8Array(b.length + e.bytes.length);
      out.set(b.subarray(0, at));
      out.set(e.bytes, at);
      out.set(b.subarray(at), at + e.bytes.length);
      b = out;
    } else if (e.op === 'delete') {
      const at = pos(e.at);
      const out = new Uint8Array(b.length - Math.min(e.n, b.length - at));
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + e.n), at);
      b = out;
    } else if (e.op === 'copy' && b.length > 0) {
      const from = pos(e.from);
      b.copyWithin(pos(e.to), from, Math.min(b.length, from + e.n));
    }
  }
  return b;
}

/** Edits of a JSON header's text: a number or string token replaced by a hostile value, or a character inserted. */
type JsonEdit = { token: number; value: string } | { insertAt: number; text: string };
const HOSTILE = ['0', '-1', '1.5', '4294967296', '9007199254740993', '1e308', '-0', 'null', 'true', '"x"', '[]', '{}', '[0,1]', '"F32"', '"F16"', '""', '"__proto__"'];
const jsonEditArb: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ token: fc.nat(40), value: fc.oneof(fc.constantFrom(...HOSTILE), fc.integer({ min: -5, max: 1 << 20 }).map(String)) }),
  fc.record({ insertAt: frac, text: fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '0', '-', 'e', '\\', ' ') }),
);

function editJson(text: string, e: JsonEdit): string {
  if ('insertAt' in e) {
    const at = Math.floor(e.insertAt * (text.length + 1));
    return text.slice(0, at) + e.text + text.slice(at);
  }
  const tokens = [...text.matchAll(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"/g)];
  if (tokens.length === 0) return text;
  const t = tokens[e.token % tokens.length];
  return text.slice(0, t.index) + e.value + text.slice(t.index + t[0].length);
}

// ---- safetensors ----

const nameArb = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'a.b', 'layer.0.weight', 'ünï', ' '),
);
const tensorsArb: fc.Arbitrary<NamedTensorData[]> = fc
  .uniqueArray(nameArb.filter((n) => n !== '__metadata__'), { maxLength: 5 })
  .chain((names) =>
    fc.tuple(
      ...names.map((name) =>
        fc
          .array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })
          .chain((shape) => {
            const n = shape.reduce((a, b) => a * b, 1);
            return fc.float32Array({ minLength: n, maxLength: n }).map((data) => ({ name, shape, data }));
          }),
      ),
    ),
  );
const metadataArb = fc.option(fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 12 }), { maxKeys: 3 }), { nil: undefined });

function expectTensorsEqual(got: NamedTensorData[], want: NamedTensorData[]): void {
  const sorted = [...want].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  expect(got.map((t) => t.name).sort()).toEqual(sorted.map((t) => t.name).sort());
  for (const w of sorted) {
    const g = got.find((t) => t.name === w.name)!;
    expect(g.shape).toEqual(w.shape);
    expect(sameBytes(g.data, w.data), `tensor "${w.name}" bytes`).toBe(true);
    // A fresh array of exactly the tensor: no view into the caller's (possibly pooled) memory.
    expect(g.data.byteOffset).toBe(0);
    expect(g.data.buffer.byteLength).toBe(g.data.byteLength);
  }
}

/** Rebuilds a safetensors file around an edited JSON header (so the edit is not masked by a wrong length field). */
function withHeader(file: Uint8Array, edit: (json: string) => string): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset, file.byteLength).getBigUint64(0, true));
  const json = new TextEncoder().encode(edit(new TextDecoder().decode(file.subarray(8, 8 + n))));
  const out = new Uint8Array(8 + json.length + file.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(file.subarray(8 + n), 8 + json.length);
  return out;
}

describe('fuzz: safetensors', () => {
  it('round-trips from every container (readFileSync, pooled Buffer, odd subarray, fresh), byte-exact', () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const file = encodeSafetensors(tensors, metadata);
        const reference = decodeSafetensors(new Uint8Array(file), 'fresh');
        for (const kind of CONTAINERS) {
          const { tensors: got, metadata: meta } = decodeSafetensors(container(file, kind), kind);
          expectTensorsEqual(got, tensors);
          expect(meta).toEqual(metadata ?? {});
          expect(Object.keys(meta)).toEqual(Object.keys(metadata ?? {}));
          got.forEach((t, i) => expect(sameBytes(t.data, reference.tensors[i].data)).toBe(true));
        }
      }),
      params(150, 0.2),
    );
  }, TIMEOUT);

  it('mutated files decode consistently or raise SafetensorsError', () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, editsArb, fc.array(jsonEditArb, { maxLength: 2 }), memoryContainer, (tensors, metadata, edits, jsonEdits, kind) => {
        let file = encodeSafetensors(tensors, metadata);
        if (jsonEdits.length > 0) file = withHeader(file, (j) => jsonEdits.reduce(editJson, j));
        if (jsonEdits.length === 0 || edits.length > 2) file = applyEdits(file, edits);
        const input = container(file, kind);
        let header: ReturnType<typeof readSafetensorsHeader> | undefined;
        let decoded: ReturnType<typeof decodeSafetensors> | undefined;
        try {
          header = readSafetensorsHeader(input, 'fuzz');
        } catch (e) {
          ownError(e, SafetensorsError);
        }
        try {
          decoded = decodeSafetensors(input, 'fuzz');
        } catch (e) {
          ownError(e, SafetensorsError);
        }
        // The header-only check and the full decode agree, and what decodes is exactly the bytes the header names.
        expect(decoded === undefined).toBe(header === undefined);
        if (!header || !decoded) return;
        note('safetensors: decoded');
        decoded.tensors.forEach((t, i) => {
          const e = header.entries[i];
          expect(t.name).toBe(e.name);
          expect(t.data.length * 4).toBe(e.end - e.begin);
          expect(t.shape.reduce((a, b) => a * b, 1)).toBe(t.data.length);
          expect(sameBytes(t.data, file.subarray(header.dataStart + e.begin, header.dataStart + e.end))).toBe(true);
        });
        // What decoded re-encodes and decodes to the same tensors.
        expectTensorsEqual(decodeSafetensors(encodeSafetensors(decoded.tensors, decoded.metadata)).tensors, decoded.tensors);
      }),
      params(400),
    );
  }, TIMEOUT);

  it('random bytes raise SafetensorsError', () => {
    const prefixed = fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array({ maxLength: 64 })).map(([n, rest]) => {
      const out = new Uint8Array(8 + rest.length);
      new DataView(out.buffer).setBigUint64(0, n % 3n === 0n ? BigInt(rest.length) : n, true);
      out.set(rest, 8);
      return out;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), prefixed), (bytes) => {
        try {
          decodeSafetensors(bytes, 'random');
        } catch (e) {
          ownError(e, SafetensorsError);
        }
      }),
      params(300),
    );
  }, TIMEOUT);
});

// ---- dataset cache ----

const datasetArb: fc.Arbitrary<Dataset> = fc
  .record({
    name: fc.string({ maxLength: 8 }),
    numClasses: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 250, max: 70000 })),
    channels: fc.integer({ min: 1, max: 3 }),
    height: fc.integer({ min: 1, max: 4 }),
    width: fc.integer({ min: 1, max: 4 }),
    trainCount: fc.integer({ min: 0, max: 4 }),
    testCount: fc.integer({ min: 0, max: 3 }),
    named: fc.boolean(),
  })
  .map((r) => ({ ...r, numClasses: Math.min(r.numClasses, 65536) }))
  .chain((r) => {
    const img = r.channels * r.height * r.width;
    const split = (count: number) =>
      fc
        .tuple(fc.uint8Array({ minLength: count * img, maxLength: count * img }), fc.array(fc.integer({ min: 0, max: r.numClasses - 1 }), { minLength: count, maxLength: count }))
        .map(([images, labels]) => ({ images, labels: Uint16Array.from(labels), count }));
    const stats = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: r.channels, maxLength: r.channels });
    const stds = fc.array(fc.double({ min: 1e-3, max: 10, noNaN: true }), { minLength: r.channels, maxLength: r.channels });
    return fc.record({ train: split(r.trainCount), test: split(r.testCount), mean: stats, std: stds }).map((s) => ({
      name: r.name,
      numClasses: r.numClasses,
      channels: r.channels,
      height: r.height,
      width: r.width,
      ...s,
      classNames: r.named && r.numClasses <= 12 ? Array.from({ length: r.numClasses }, (_, i) => `c${i}`) : undefined,
    }));
  });

function expectDatasetEqual(got: Dataset, want: Dataset): void {
  expect([got.name, got.numClasses, got.channels, got.height, got.width]).toEqual([want.name, want.numClasses, want.channels, want.height, want.width]);
  expect([got.mean, got.std, got.classNames]).toEqual([want.mean, want.std, want.classNames]);
  for (const s of ['train', 'test'] as const) {
    expect(got[s].count).toBe(want[s].count);
    expect(sameBytes(got[s].images, want[s].images), `${s} images`).toBe(true);
    expect(Array.from(got[s].labels)).toEqual(Array.from(want[s].labels));
    // Fresh arrays: never views into the caller's memory (a pooled Buffer is reused by Node).
    expect(got[s].images.buffer.byteLength).toBe(got[s].images.byteLength);
    expect(got[s].labels.buffer.byteLength).toBe(got[s].labels.byteLength);
  }
}

/** Rebuilds a cache file around an edited JSON header, keeping the 8-byte magic and fixing the length field. */
function cacheWithHeader(file: Uint8Array, edit: (json: string) => string): Uint8Array {
  const n = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(8, true);
  const json = new TextEncoder().encode(edit(new TextDecoder().decode(file.subarray(12, 12 + n))));
  const out = new Uint8Array(12 + json.length + file.length - 12 - n);
  out.set(file.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(file.subarray(12 + n), 12 + json.length);
  return out;
}

describe('fuzz: dataset cache', () => {
  it('round-trips from every container (readFileSync, pooled Buffer, odd subarray, fresh)', () => {
    fc.assert(
      fc.property(datasetArb, fc.string({ maxLength: 70 }), (ds, key) => {
        const file = encodeDatasetCache(ds, key);
        for (const kind of CONTAINERS) expectDatasetEqual(decodeDatasetCache(container(file, kind), key, kind), ds);
      }),
      params(150, 0.2),
    );
  }, TIMEOUT);

  it('mutated caches decode consistently or raise DatasetError', () => {
    fc.assert(
      fc.property(datasetArb, editsArb, fc.array(jsonEditArb, { maxLength: 2 }), memoryContainer, (ds, edits, jsonEdits, kind) => {
        let file = encodeDatasetCache(ds, 'k');
        if (jsonEdits.length > 0) file = cacheWithHeader(file, (j) => jsonEdits.reduce(editJson, j));
        if (jsonEdits.length === 0 || edits.length > 2) file = applyEdits(file, edits);
        let got: Dataset;
        try {
          got = decodeDatasetCache(container(file, kind), 'k', 'fuzz.bin');
        } catch (e) {
          ownError(e, DatasetError);
          return;
        }
        note('cache: decoded');
        const img = got.channels * got.height * got.width;
        for (const s of [got.train, got.test]) {
          expect(s.images.length).toBe(s.count * img);
          expect(s.labels.length).toBe(s.count);
          expect(s.labels.every((l) => l < got.numClasses)).toBe(true);
        }
        expect(got.mean.length).toBe(got.channels);
        // Consistent: the decoded data set encodes and decodes to itself, and its arrays are the file's last bytes.
        expectDatasetEqual(decodeDatasetCache(encodeDatasetCache(got, 'k'), 'k'), got);
        const tail = file.length - (got.train.count + got.test.count) * (img + 2);
        expect(sameBytes(got.train.images, file.subarray(tail, tail + got.train.images.length))).toBe(true);
      }),
      params(400),
    );
  }, TIMEOUT);

  it('a cache for another key, or random bytes, is a DatasetError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }).map((b) => new Uint8Array([...new TextEncoder().encode('OLDSET01'), ...b]))), (bytes) => {
        try {
          decodeDatasetCache(bytes, 'k');
        } catch (e) {
          ownError(e, DatasetError);
        }
      }),
      params(300),
    );
    const ds: Dataset = { name: 'd', numClasses: 2, channels: 1, height: 1, width: 1, train: { images: new Uint8Array([7]), labels: new Uint16Array([1]), count: 1 }, test: { images: new Uint8Array(0), labels: new Uint16Array(0), count: 0 }, mean: [0.5], std: [1] };
    expect(() => decodeDatasetCache(encodeDatasetCache(ds, 'old'), 'new', 'c.bin')).toThrow('c.bin: built from other files or options (key differs): stale');
    const forged = cacheWithHeader(encodeDatasetCache(ds, 'k'), (j) => j.replace('"trainCount":1', '"trainCount":1e15'));
    expect(() => decodeDatasetCache(forged, 'k', 'c.bin')).toThrow('c.bin: trainCount 1000000000000000 is not an integer in [0, 2147483648]');
  });
});

// ---- tar and gzip ----

const tarNameArb = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 95, maxLength: 140 }),
  fc.constantFrom('a/b/c.bin', `${'deep/'.repeat(25)}x`, 'ü'.repeat(60)),
);
const tarEntriesArb = fc.uniqueArray(
  fc.record({ name: tarNameArb.filter((n) => !n.includes('\0')), bytes: fc.uint8Array({ maxLength: 1300 }) }),
  { maxLength: 4, selector: (e) => e.name },
);

/** Offsets of the headers in an archive written by writeTar (walks the size fields). */
function headerOffsets(tar: Uint8Array): number[] {
  const out: number[] = [];
  for (let off = 0; off + 512 <= tar.length && tar[off] !== 0; ) {
    out.push(off);
    const size = parseInt(new TextDecoder().decode(tar.subarray(off + 124, off + 135)), 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** A header field set to a hostile value, with the checksum recomputed so the reader gets past it. */
type FieldEdit = { header: number; field: 'size' | 'type' | 'name' | 'magic' | 'prefix'; value: number; text: string };
const fieldEditArb: fc.Arbitrary<FieldEdit> = fc.record({
  header: fc.nat(20),
  field: fc.constantFrom('size', 'type', 'name', 'magic', 'prefix'),
  value: fc.oneof(fc.nat(5000), fc.constantFrom(0, 511, 512, 513, 2 ** 33, 8 ** 11 - 1)),
  text: fc.string({ maxLength: 8 }),
});
function editTarField(tar: Uint8Array, e: FieldEdit): Uint8Array {
  const out = new Uint8Array(tar);
  const offsets = headerOffsets(tar);
  if (offsets.length === 0) return out;
  const h = out.subarray(offsets[e.header % offsets.length]);
  const put = (s: string, at: number, len: number) => {
    h.fill(0, at, at + len);
    h.set(new TextEncoder().encode(s).subarray(0, len), at);
  };
  if (e.field === 'size') {
    if (e.value > 8 ** 11) {
      // GNU base-256: high bit set, big-endian value in the remaining bytes.
      h.fill(0, 124, 136);
      h[124] = 0x80;
      let v = e.value;
      for (let i = 135; i > 124; i--, v = Math.floor(v / 256)) h[i] = v % 256;
    } else put(`${e.value.toString(8).padStart(11, '0')}\0`, 124, 12);
  } else if (e.field === 'type') h[156] = 'L0x7g5'.charCodeAt(e.value % 6);
  else if (e.field === 'name') put(e.text, 0, 100);
  else if (e.field === 'magic') put(e.value % 2 ? 'ustar' : e.text, 257, 6);
  else put(e.text, 345, 155);
  h.fill(32, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i];
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return out;
}

/** A pax extended header ('x') naming the next entry, with a hostile record sometimes. */
function paxEntry(path: string, broken: number): Uint8Array {
  const rec = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = new TextEncoder().encode(body).length;
    len += String(len + String(len).length).length;
    return `${len}${body}`;
  };
  const text = [rec('path', path), 'x=1\n', `999 path=${path}\n`, `12 path=ab\n`, '0 =\n'][broken % 5];
  const data = new TextEncoder().encode(text);
  const tar = writeTar([{ name: 'PaxHeader', bytes: data }]);
  tar[156] = 'x'.charCodeAt(0);
  tar.fill(32, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i];
  tar.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return tar.subarray(0, tar.length - 1024); // without the end blocks
}

describe('fuzz: tar', () => {
  it('round-trips writeTar → readTar from every container', () => {
    fc.assert(
      fc.property(tarEntriesArb, (entries) => {
        const tar = writeTar(entries);
        for (const kind of CONTAINERS) {
          const input = container(tar, kind);
          const files = readTar(input, kind);
          expect(files.map((f) => f.name)).toEqual(entries.map((e) => e.name));
          files.forEach((f, i) => expect(sameBytes(f.bytes, entries[i].bytes)).toBe(true));
        }
      }),
      params(100, 0.2),
    );
  }, TIMEOUT);

  it('mutated archives give views inside the input or raise DatasetError', () => {
    fc.assert(
      fc.property(
        tarEntriesArb,
        fc.array(fieldEditArb, { maxLength: 2 }),
        fc.option(editsArb, { nil: undefined }),
        fc.option(fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 130 }), fc.nat(9)), { nil: undefined }),
        memoryContainer,
        (entries, fieldEdits, edits, pax, kind) => {
          let tar = writeTar(entries);
          if (pax) tar = new Uint8Array([...paxEntry(pax[0], pax[1]), ...tar]);
          tar = fieldEdits.reduce(editTarField, tar);
          if (edits) tar = applyEdits(tar, edits);
          const input = container(tar, kind);
          let files: NamedBytes[];
          try {
            files = readTar(input, 'fuzz.tar');
          } catch (e) {
            ownError(e, DatasetError);
            return;
          }
          note(`tar: read ${files.length} files`);
          for (const f of files) {
            expect(typeof f.name).toBe('string');
            expect(f.bytes.buffer).toBe(input.buffer);
            expect(f.bytes.byteOffset).toBeGreaterThanOrEqual(input.byteOffset);
            expect(f.bytes.byteOffset + f.bytes.length).toBeLessThanOrEqual(input.byteOffset + input.length);
          }
          if (!pax && fieldEdits.length === 0 && !edits) expect(files.map((f) => f.name)).toEqual(entries.map((e) => e.name));
          if (pax && pax[1] % 5 === 0 && fieldEdits.length === 0 && !edits && entries.length > 0) expect(files[0].name).toBe(pax[0]);
        },
      ),
      params(400),
    );
  }, TIMEOUT);
});

describe('fuzz: gzip (zlib and DecompressionStream)', () => {
  it('inflates exactly the payload under the cap, and refuses past it, from any container', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.double({ min: 0, max: 2, noNaN: true }), memoryContainer, async (payload, capRatio, kind) => {
        const gz = container(gzipSync(payload), kind);
        const cap = Math.max(1, Math.floor(payload.length * capRatio));
        for (const [who, inflate] of [['zlib', gunzipNode], ['DecompressionStream', gunzip]] as const) {
          if (payload.length <= cap) {
            expect(sameBytes(await inflate(gz, 'p.gz', cap), payload), who).toBe(true);
          } else {
            await expect((async () => inflate(gz, 'p.gz', cap))(), who).rejects.toThrow(`p.gz: gzip data inflates to more than ${cap} bytes`);
          }
        }
      }),
      params(150, 0.3),
    );
  }, TIMEOUT);

  it('mutated gzip inflates to the payload or raises DatasetError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), editsArb, memoryContainer, async (payload, edits, kind) => {
        const gz = container(applyEdits(gzipSync(payload), edits), kind);
        for (const inflate of [gunzipNode, gunzip]) {
          let out: Uint8Array;
          try {
            out = await inflate(gz, 'm.gz', 4096);
          } catch (e) {
            ownError(e, DatasetError);
            continue;
          }
          // The CRC-32 and length trailer make any other successful output a bug.
          expect(sameBytes(out, payload)).toBe(true);
        }
      }),
      params(250, 0.5),
    );
  }, TIMEOUT);
});

// ---- CIFAR (lenient small fixtures: the same parser as the official sizes) ----

const CIFAR10 = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).concat('test_batch.bin');

describe('fuzz: CIFAR-10/100', () => {
  /** Independent oracle: the records of each split, or undefined when the files are not a valid set. */
  function oracle(files: NamedBytes[], kind: 'cifar10' | 'cifar100'): { train: { labels: number[]; images: Uint8Array }; test: { labels: number[]; images: Uint8Array } } | undefined {
    const lb = kind === 'cifar10' ? 1 : 2;
    const rec = lb + 3072;
    const base = (n: string) => n.slice(n.lastIndexOf('/') + 1);
    const names = kind === 'cifar10' ? { train: CIFAR10.slice(0, 5), test: ['test_batch.bin'] } : { train: ['train.bin'], test: ['test.bin'] };
    const all = [...names.train, ...names.test, kind === 'cifar10' ? 'batches.meta.txt' : 'fine_label_names.txt'];
    for (const n of all) if (files.filter((f) => base(f.name) === n).length > 1) return undefined;
    const split = (want: string[]) => {
      const chosen = want.map((n) => files.find((f) => base(f.name) === n));
      if (chosen.some((f) => !f || f.bytes.length === 0 || f.bytes.length % rec !== 0 || f.bytes.length !== chosen[0]!.bytes.length)) return undefined;
      const labels: number[] = [];
      const images: number[] = [];
      for (const f of chosen) {
        for (let at = 0; at < f!.bytes.length; at += rec) {
          if (lb === 2 && f!.bytes[at] >= 20) return undefined;
          const l = f!.bytes[at + lb - 1];
          if (l >= (kind === 'cifar10' ? 10 : 100)) return undefined;
          labels.push(l);
          images.push(...f!.bytes.subarray(at + lb, at + rec));
        }
      }
      return { labels, images: Uint8Array.from(images) };
    };
    const train = split(names.train);
    const test = split(names.test);
    return train && test ? { train, test } : undefined;
  }

  const cifarArb = fc.constantFrom<'cifar10' | 'cifar100'>('cifar10', 'cifar100').chain((kind) => {
    const lb = kind === 'cifar10' ? 1 : 2;
    const rec = lb + 3072;
    const names = kind === 'cifar10' ? CIFAR10 : ['train.bin', 'test.bin'];
    const label = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: kind === 'cifar10' ? 9 : 99 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });
    const file = (records: number) =>
      fc.array(fc.tuple(fc.integer({ min: 0, max: 21 }), label, fc.integer({ min: 0, max: 255 })), { minLength: records, maxLength: records }).map((rs) => {
        const bytes = new Uint8Array(records * rec);
        rs.forEach(([coarse, fine, fill], r) => {
          if (lb === 2) bytes[r * rec] = coarse;
          bytes[r * rec + lb - 1] = fine;
          bytes.fill(fill, r * rec + lb, (r + 1) * rec);
          bytes[r * rec + lb] = r; // record identity in the first pixel
        });
        return bytes;
      });
    const fileEdit = fc.oneof(
      fc.record({ op: fc.constant('drop' as const), file: fc.nat(7) }),
      fc.record({ op: fc.constant('dup' as const), file: fc.nat(7) }),
      fc.record({ op: fc.constant('resize' as const), file: fc.nat(7), delta: fc.integer({ min: -rec - 3, max: rec + 3 }) }),
      fc.record({ op: fc.constant('label' as const), file: fc.nat(7), at: frac, value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('names' as const), lines: fc.integer({ min: 0, max: 102 }) }),
    );
    return fc.record({
      kind: fc.constant(kind),
      trainRecords: fc.integer({ min: 1, max: 3 }),
      testRecords: fc.integer({ min: 1, max: 2 }),
      edits: fc.array(fileEdit, { maxLength: 3 }),
      seedFiles: fc.array(file(3), { minLength: names.length, maxLength: names.length }),
      container: memoryContainer,
    });
  });

  it('parses valid sets exactly, and anything else raises DatasetError (never a silent subset)', () => {
    fc.assert(
      fc.property(cifarArb, ({ kind, trainRecords, testRecords, edits, seedFiles, container: kindOfContainer }) => {
        const rec = (kind === 'cifar10' ? 1 : 2) + 3072;
        const names = kind === 'cifar10' ? CIFAR10 : ['train.bin', 'test.bin'];
        let files: NamedBytes[] = names.map((n, i) => ({
          name: `folder/${n}`,
          bytes: seedFiles[i].subarray(0, (n.startsWith('test') ? testRecords : trainRecords) * rec),
        }));
        for (const e of edits) {
          const f = files[e.op === 'names' ? 0 : e.file % Math.max(1, files.length)];
          if (e.op === 'drop') files = files.filter((x) => x !== f);
          else if (e.op === 'dup' && f) files.push({ name: `other/${f.name.slice(f.name.lastIndexOf('/') + 1)}`, bytes: f.bytes });
          else if (e.op === 'resize' && f) {
            const b = new Uint8Array(Math.max(0, f.bytes.length + e.delta));
            b.set(f.bytes.subarray(0, b.length));
            files = files.map((x) => (x === f ? { name: f.name, bytes: b } : x));
          } else if (e.op === 'label' && f && f.bytes.length > 0) {
            const b = new Uint8Array(f.bytes);
            b[Math.floor(e.at * (b.length / rec)) * rec] = e.value;
            files = files.map((x) => (x === f ? { name: f.name, bytes: b } : x));
          } else if (e.op === 'names') {
            const text = Array.from({ length: e.lines }, (_, i) => `class ${i}`).join('\n');
            files.push({ name: `folder/${kind === 'cifar10' ? 'batches.meta.txt' : 'fine_label_names.txt'}`, bytes: new TextEncoder().encode(text) });
          }
        }
        files = files.map((f) => ({ name: f.name, bytes: container(f.bytes, kindOfContainer) }));
        // Small files are never official: the default (strict) parse refuses every one of them.
        expect(() => parseCifar(files, kind)).toThrow(DatasetError);
        const want = oracle(files, kind);
        const namesFile = files.find((f) => /(batches\.meta|fine_label_names)\.txt$/.test(f.name));
        const namesOk = !namesFile || new TextDecoder().decode(namesFile.bytes).split('\n').filter((s) => s.trim()).length === (kind === 'cifar10' ? 10 : 100);
        let ds: Dataset;
        try {
          ds = parseCifar(files, kind, { officialSizes: false });
        } catch (e) {
          ownError(e, DatasetError);
          expect(want === undefined || !namesOk, `valid files refused: ${(e as Error).message}`).toBe(true);
          return;
        }
        expect(want, 'an invalid set was accepted').toBeDefined();
        expect(namesOk).toBe(true);
        expect(Array.from(ds.train.labels)).toEqual(want!.train.labels);
        expect(Array.from(ds.test.labels)).toEqual(want!.test.labels);
        expect(sameBytes(ds.train.images, want!.train.images)).toBe(true);
        expect(sameBytes(ds.test.images, want!.test.images)).toBe(true);
      }),
      params(200, 0.3),
    );
  }, TIMEOUT);

  it('archives: tar-level mutations of a CIFAR archive raise DatasetError or parse', async () => {
    const files = CIFAR10.map((n, i) => ({ name: `cifar-10-batches-bin/${n}`, bytes: new Uint8Array(2 * 3073).fill(i) }));
    const tar = writeTar(files);
    await fc.assert(
      fc.asyncProperty(fc.array(fieldEditArb, { maxLength: 2 }), editsArb, fc.boolean(), async (fieldEdits, edits, gz) => {
        let bytes = applyEdits(fieldEdits.reduce(editTarField, tar), edits);
        if (gz) bytes = gzipSync(bytes);
        try {
          const ds = await parseCifarArchive(bytes, 'm.tar', 'cifar10', gz ? gunzipNode : undefined, { officialSizes: false });
          expect(ds.train.images.length).toBe(ds.train.count * 3072);
        } catch (e) {
          ownError(e, DatasetError);
        }
      }),
      params(150, 0.2),
    );
  }, TIMEOUT);
});

// ---- Tiny ImageNet annotations and image decoding ----

describe('fuzz: Tiny ImageNet annotations and decoder output', () => {
  const WNIDS = ['n01', 'n02', 'n03', 'n04'];
  /** Images are 1-byte files; the stub decoder paints the 64×64 gray image with that byte, so pixels identify files. */
  const stub = (bytes: Uint8Array): DecodedImage => ({ width: 64, height: 64, channels: 1, data: new Uint8Array(4096).fill(bytes[0] ?? 0) });
  const baseFiles = (): NamedBytes[] => {
    const files: NamedBytes[] = [{ name: 't/wnids.txt', bytes: new TextEncoder().encode(WNIDS.join('\n')) }];
    WNIDS.forEach((w, c) => files.push({ name: `t/train/${w}/images/${w}_0.JPEG`, bytes: new Uint8Array([10 + c]) }));
    for (let v = 0; v < 6; v++) files.push({ name: `t/val/images/val_${v}.JPEG`, bytes: new Uint8Array([100 + v]) });
    return files;
  };
  const lineArb = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.nat(7), fc.nat(5)).map(([v, c]) => `val_${v}.JPEG\t${WNIDS[c] ?? 'n99'}\t0\t0\t63\t63`) },
    { weight: 1, arbitrary: fc.constantFrom('', '   ', 'val_1.JPEG n01 0 0 1 1', 'val_2.JPEG', '\tn01', 'val_3.JPEG\t', 'val_4.JPEG\tn02\r', ' val_5.JPEG \t n03 ') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  );
  /** The oracle: labels and image bytes of the val split, or undefined when the annotations are invalid. */
  function oracle(text: string): { labels: number[]; fills: number[] } | undefined {
    const labels: number[] = [];
    const fills: number[] = [];
    const seen = new Set<string>();
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const parts = line.split('\t');
      const c = parts.length > 1 ? WNIDS.indexOf(parts[1].trim()) : -1;
      const m = /^val_([0-5])\.JPEG$/.exec(parts[0].trim());
      if (c < 0 || !m || seen.has(m[1])) return undefined;
      seen.add(m[1]);
      labels.push(c);
      fills.push(100 + Number(m[1]));
    }
    return labels.length > 0 ? { labels, fills } : undefined;
  }

  it('annotations parse exactly or raise DatasetError naming the line', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { maxLength: 8 }), fc.constantFrom('\n', '\r\n'), async (lines, eol) => {
        const text = lines.join(eol);
        const files = [...baseFiles(), { name: 't/val/val_annotations.txt', bytes: new TextEncoder().encode(text) }];
        const want = oracle(text);
        let ds: Dataset;
        try {
          ds = await parseTinyImagenet(memoryFileTree(files), stub, { concurrency: 3 });
        } catch (e) {
          ownError(e, DatasetError);
          expect(want, `valid annotations refused: ${(e as Error).message}`).toBeUndefined();
          expect((e as Error).message).toMatch(/val_annotations\.txt: (line \d+|no annotations)/);
          return;
        }
        expect(want, 'invalid annotations accepted').toBeDefined();
        expect(Array.from(ds.test.labels)).toEqual(want!.labels);
        expect(want!.fills.map((_, n) => ds.test.images[n * 3 * 4096 + 2 * 4096 + 17])).toEqual(want!.fills);
        expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 3]);
      }),
      params(300, 0.3),
    );
  }, TIMEOUT);

  it('any decoder output is converted exactly or raises DatasetError', async () => {
    const outputArb = fc.record({
      width: fc.oneof(fc.constant(64), fc.integer({ min: -1, max: 70 }), fc.constant(Number.NaN)),
      height: fc.oneof(fc.constant(64), fc.integer({ min: 0, max: 70 })),
      channels: fc.oneof(fc.constantFrom(1, 3, 4), fc.integer({ min: 0, max: 5 }), fc.constant(2.5)),
      extra: fc.integer({ min: -5, max: 5 }),
      clamped: fc.boolean(),
      fill: fc.integer({ min: 0, max: 255 }),
      throws: fc.constantFrom(undefined, 'error', 'string'),
    });
    const annotations = new TextEncoder().encode('val_0.JPEG\tn01\t0\t0\t1\t1\n');
    await fc.assert(
      fc.asyncProperty(outputArb, async (o) => {
        const decode = (bytes: Uint8Array, name: string): DecodedImage => {
          if (!name.includes('n02_0')) return stub(bytes);
          if (o.throws === 'error') throw new TypeError('boom');
          if (o.throws === 'string') throw 'boom';
          const n = Math.max(0, 64 * 64 * Math.max(0, Math.floor(o.channels)) + o.extra);
          const data = o.clamped ? new Uint8ClampedArray(n).fill(o.fill) : new Uint8Array(n).fill(o.fill);
          return { width: o.width, height: o.height, channels: o.channels, data };
        };
        const files = [...baseFiles(), { name: 't/val/val_annotations.txt', bytes: annotations }];
        const valid = !o.throws && o.width === 64 && o.height === 64 && [1, 3, 4].includes(o.channels) && o.extra >= 0;
        try {
          const ds = await parseTinyImagenet(memoryFileTree(files), decode);
          expect(valid).toBe(true);
          // Image 1 (n02) is the fill colour in every channel; gray or RGB(A) alike.
          for (let c = 0; c < 3; c++) expect(ds.train.images[(3 + c) * 4096 + 99]).toBe(o.fill);
        } catch (e) {
          ownError(e, DatasetError);
          expect(valid, (e as Error).message).toBe(false);
          expect((e as Error).message).toMatch(/n02_0\.JPEG/);
        }
      }),
      params(200, 0.2),
    );
  }, TIMEOUT);
});

describe('fuzz: JPEG decoding (sharp in the decoding threads)', () => {
  // One thread: the cases run one after another, as fast-check gives them.
  let pool: DecodePool;
  let bases: Uint8Array[] = [];
  const encode = async (w: number, h: number, q: number, seed: number): Promise<Uint8Array> => {
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * seed + (i >> 7)) & 255;
    return new Uint8Array(await sharp(data, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: q }).toBuffer());
  };
  beforeAll(async () => {
    pool = new DecodePool(1);
    bases = [await encode(64, 64, 90, 7), await encode(64, 64, 30, 13), await encode(16, 8, 75, 3)];
    await pool.decodeRgb(bases[0], 'warm-up.jpg'); // starts the thread outside the timed cases
  });
  afterAll(() => pool.close());
  /** Offset of the SOF0 frame's height and width fields, which a forged file would set to allocate gigabytes. */
  const sofAt = (b: Uint8Array): number => {
    for (let i = 0; i + 9 < b.length; i++) if (b[i] === 0xff && b[i + 1] === 0xc0) return i + 5;
    return -1;
  };
  const forge = (b: Uint8Array, height: number, width: number): Uint8Array => {
    const f = new Uint8Array(b);
    f.set([height >> 8, height & 255, width >> 8, width & 255], sofAt(f));
    return f;
  };
  /** The process's peak resident memory (the decoding threads included) while `p` runs, sampled every 5 ms. */
  const peakRss = async <T>(p: Promise<T>): Promise<{ value: T | Error; peak: number }> => {
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      return { value: await p.catch((e: Error) => e), peak: Math.max(peak, process.memoryUsage().rss) };
    } finally {
      clearInterval(timer);
    }
  };

  it('a forged frame size is refused from the header, before any allocation', async () => {
    expect(sofAt(bases[0])).toBeGreaterThan(0);
    let t = performance.now();
    await expect(pool.decodeRgb(forge(bases[0], 0xffff, 0xffff), 'big.jpg')).rejects.toThrow(/^big\.jpg: cannot decode image \(/);
    await expect(pool.decodeRgb(forge(bases[0], 8000, 9000), 'big.jpg')).rejects.toThrow('big.jpg: 9000×8000 image is larger than the 16777216 pixels allowed');
    expect(performance.now() - t).toBeLessThan(1000);
    expect((await pool.decodeRgb(bases[0], 'ok.jpg', 64 * 64)).width).toBe(64);
    await expect(pool.decodeRgb(forge(bases[0], 64, 65), 'wide.jpg', 64 * 64)).rejects.toThrow('wide.jpg: 65×64 image is larger than the 4096 pixels allowed');
    await expect(pool.decodeRgb(bases[0], 'x.jpg', 0)).rejects.toThrow(/maxPixels must be a positive integer/);
    // The loaders' path (a file, resized to S×S): a forged size fails naming the file, or decodes within bounded
    // memory (libvips shrinks on load and streams; a 16000×16000 RGB image would be 768 MB).
    const base = process.memoryUsage().rss;
    for (const [h, w] of [[0xffff, 0xffff], [16000, 16000], [64, 30000]]) {
      const path = join(dir, `forged-${w}x${h}.jpg`);
      writeFileSync(path, forge(bases[0], h, w));
      for (const train of [false, true]) {
        t = performance.now();
        const { value, peak } = await peakRss(pool.crop({ path, size: 32, train, seed: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }));
        if (value instanceof Error) {
          ownError(value, DatasetError);
          expect(value.message.startsWith(`${path}: `), value.message).toBe(true);
        } else expect(value.length).toBe(3 * 32 * 32);
        expect(peak - base, `${w}×${h} train=${train}`).toBeLessThan(400 * 2 ** 20);
        expect(performance.now() - t).toBeLessThan(10_000);
      }
    }
  }, TIMEOUT);

  it('mutated JPEGs decode to a well-formed image within the limits or raise DatasetError naming the file', async () => {
    const dimArb = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 0xffff }));
    await fc.assert(
      fc.asyncProperty(
        fc.nat(bases.length - 1),
        editsArb,
        fc.option(fc.tuple(dimArb, dimArb), { nil: undefined, freq: 2 }),
        memoryContainer,
        async (which, edits, size, kind) => {
          const b = size ? forge(bases[which], size[0], size[1]) : new Uint8Array(bases[which]);
          const input = container(size && edits.length < 3 ? b : applyEdits(b, edits), kind);
          let img: DecodedImage;
          try {
            img = await pool.decodeRgb(input, 'm.jpg', 128 * 128);
          } catch (e) {
            ownError(e, DatasetError);
            expect((e as Error).message).toMatch(/^m\.jpg: /);
            return;
          }
          note('jpeg: decoded');
          expect(img.channels).toBe(3);
          expect(img.width * img.height).toBeLessThanOrEqual(128 * 128);
          expect(img.data.length).toBe(img.width * img.height * 3);
        },
      ),
      params(300, 0.5),
    );
  }, TIMEOUT);

  it('mutated JPEG files through the loaders\' crop (evaluation and training) give S×S tensors or DatasetError naming the file', async () => {
    const path = join(dir, 'mutated.jpg');
    await fc.assert(
      fc.asyncProperty(fc.nat(bases.length - 1), editsArb, fc.boolean(), fc.nat(), async (which, edits, train, seed) => {
        writeFileSync(path, applyEdits(new Uint8Array(bases[which]), edits));
        let img: Float32Array;
        try {
          img = await pool.crop({ path, size: 16, train, seed, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
        } catch (e) {
          ownError(e, DatasetError);
          expect((e as Error).message.startsWith(`${path}: `), (e as Error).message).toBe(true);
          return;
        }
        note('jpeg crop: decoded');
        expect(img.length).toBe(3 * 16 * 16);
        expect(img.every((v) => Number.isFinite(v) && Math.abs(v) <= 2)).toBe(true);
      }),
      params(100, 0.2),
    );
  }, TIMEOUT);
});
