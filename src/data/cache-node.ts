// Node-only cache of a decoded dataset (decoding Tiny ImageNet's 110k JPEGs takes a while even with sharp; the cache loads in a second).
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { makeDirs, pathKind, readFileBytes, writeFileAtomic } from '../platform/files-node.js';
import { DatasetError, type Dataset } from './types.js';

const MAGIC = 'OLDSET01';
const PREFIX = 12; // magic + u32 JSON length
/** Bounds on what a header may claim, checked before any of it sizes an allocation. */
const LIMITS = { json: 64 << 20, classes: 65536, channels: 64, side: 65536, count: 2 ** 31 } as const;
/** Labels are stored little-endian; typed arrays use the platform order, so copy bytes straight only on LE machines. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface CacheHeader {
  key: string;
  name: string;
  numClasses: number;
  channels: number;
  height: number;
  width: number;
  trainCount: number;
  testCount: number;
  mean: number[];
  std: number[];
  classNames?: string[];
}

/**
 * Where dataset caches live: `$XDG_CACHE_HOME/onelayer` (when set to an absolute path, as the XDG spec requires),
 * else `~/.cache/onelayer`. Never the user's data folder, which may be read-only or shared.
 */
export function datasetCacheDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'onelayer');
}

function labelBytes(labels: Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength);
  const out = new Uint8Array(labels.length * 2);
  const view = new DataView(out.buffer);
  labels.forEach((l, i) => view.setUint16(2 * i, l, true));
  return out;
}

/** Layout: magic, u32 LE JSON length, JSON header (space-padded to 8), train images, test images, train labels, test labels (u16 LE). */
export function encodeDatasetCache(ds: Dataset, key: string): Uint8Array {
  const img = ds.channels * ds.height * ds.width;
  for (const [what, s] of [['train', ds.train], ['test', ds.test]] as const) {
    if (s.images.length !== s.count * img || s.labels.length !== s.count) {
      throw new Error(`encodeDatasetCache: ${ds.name} ${what} has ${s.images.length} image bytes and ${s.labels.length} labels for ${s.count} images of ${img} bytes`);
    }
  }
  const header: CacheHeader = {
    key,
    name: ds.name,
    numClasses: ds.numClasses,
    channels: ds.channels,
    height: ds.height,
    width: ds.width,
    trainCount: ds.train.count,
    testCount: ds.test.count,
    mean: ds.mean,
    std: ds.std,
    classNames: ds.classNames,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const jsonLen = Math.ceil((PREFIX + json.length) / 8) * 8 - PREFIX;
  const parts = [ds.train.images, ds.test.images, labelBytes(ds.train.labels), labelBytes(ds.test.labels)];
  const out = new Uint8Array(PREFIX + jsonLen + parts.reduce((s, p) => s + p.length, 0));
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, jsonLen, true);
  out.set(json, PREFIX);
  out.fill(0x20, PREFIX + json.length, PREFIX + jsonLen);
  let at = PREFIX + jsonLen;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isNumbers = (v: unknown, n: number, ok: (x: number) => boolean): v is number[] =>
  Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x) && ok(x));

/**
 * The dataset cached in `bytes` (any view: a Node Buffer, a pooled small Buffer, a subarray; every array returned
 * is a fresh copy of exactly its own bytes). A stale key, another version or any damage is a DatasetError naming
 * `source`, the offset and what was expected: callers rebuild the cache then.
 */
export function decodeDatasetCache(bytes: Uint8Array, key: string, source = 'dataset cache'): Dataset {
  const fail: (msg: string) => never = (msg) => {
    throw new DatasetError(`${source}: ${msg}`);
  };
  if (bytes.length < PREFIX) fail(`${bytes.length} bytes is too short for a dataset cache (${PREFIX}-byte prefix expected)`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MAGIC) fail(`bytes 0..8 are ${JSON.stringify(magic)}, expected ${MAGIC} (another version, or not a dataset cache)`);
  const jsonLen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (jsonLen > Math.min(bytes.length - PREFIX, LIMITS.json)) fail(`header length ${jsonLen} (at offset 8) exceeds the ${bytes.length - PREFIX} bytes that follow or ${LIMITS.json}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + jsonLen)));
  } catch (e) {
    fail(`bad JSON header (bytes ${PREFIX}..${PREFIX + jsonLen}): ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('header is not a JSON object');
  const h = parsed as Partial<Record<keyof CacheHeader, unknown>>;
  if (h.key !== key) fail('built from other files or options (key differs): stale');
  if (typeof h.name !== 'string') fail(`name ${JSON.stringify(h.name)} is not a string`);
  const range = (field: keyof CacheHeader, lo: number, hi: number): number => {
    const v = h[field];
    return isInt(v, lo, hi) ? v + 0 : fail(`${field} ${JSON.stringify(h[field])} is not an integer in [${lo}, ${hi}]`);
  };
  const numClasses = range('numClasses', 1, LIMITS.classes);
  const channels = range('channels', 1, LIMITS.channels);
  const height = range('height', 1, LIMITS.side);
  const width = range('width', 1, LIMITS.side);
  const trainCount = range('trainCount', 0, LIMITS.count);
  const testCount = range('testCount', 0, LIMITS.count);
  if (!isNumbers(h.mean, channels, (x) => x >= 0 && x <= 1)) fail(`mean must be ${channels} numbers in [0, 1], got ${JSON.stringify(h.mean)}`);
  if (!isNumbers(h.std, channels, (x) => x > 0)) fail(`std must be ${channels} positive numbers, got ${JSON.stringify(h.std)}`);
  const names = h.classNames;
  if (names !== undefined && !(Array.isArray(names) && names.length === numClasses && names.every((s) => typeof s === 'string'))) {
    fail(`classNames must be ${numClasses} strings`);
  }
  // Every size is bounded above, so these products are exact; the total must match the file before anything is allocated.
  const img = channels * height * width;
  const sizes = [trainCount * img, testCount * img, trainCount * 2, testCount * 2];
  const expected = PREFIX + jsonLen + sizes.reduce((a, b) => a + b, 0);
  if (bytes.length !== expected) {
    fail(`${bytes.length} bytes, expected ${expected} for ${trainCount} + ${testCount} images of ${channels}×${height}×${width} (truncated or damaged)`);
  }
  let at = PREFIX + jsonLen;
  // A copy made by the Uint8Array constructor: Buffer#slice would return a view into the caller's (maybe pooled) memory.
  const take = (n: number): Uint8Array => new Uint8Array(bytes.subarray(at, (at += n)));
  const trainImages = take(sizes[0]);
  const testImages = take(sizes[1]);
  const labels = (count: number, what: string): Uint16Array => {
    const start = at;
    const view = new DataView(bytes.buffer, bytes.byteOffset + start, 2 * count);
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      out[i] = view.getUint16(2 * i, true);
      if (out[i] >= numClasses) fail(`${what} label ${out[i]} of image ${i} (offset ${start + 2 * i}) is out of range [0, ${numClasses})`);
    }
    at += 2 * count;
    return out;
  };
  const trainLabels = labels(trainCount, 'train');
  const testLabels = labels(testCount, 'test');
  return {
    name: h.name as string,
    numClasses,
    channels,
    height,
    width,
    train: { images: trainImages, labels: trainLabels, count: trainCount },
    test: { images: testImages, labels: testLabels, count: testCount },
    // JSON may spell -0 (here and in the integers above); the encoder writes 0, so read 0 to round-trip exactly.
    mean: (h.mean as number[]).map((x) => x + 0),
    std: h.std as number[],
    classNames: names as string[] | undefined,
  };
}

/**
 * Returns the dataset cached at `path` for `key`, or builds it with `make` and caches it. Best effort both ways: a
 * missing, stale, unreadable or damaged cache is rebuilt, and a folder that cannot be written just skips caching.
 */
export async function cachedDataset(path: string | undefined, key: string, make: () => Promise<Dataset>): Promise<Dataset> {
  if (path) {
    try {
      if ((await pathKind(path)) === 'file') return decodeDatasetCache(await readFileBytes(path, 'dataset cache'), key, path);
    } catch {
      /* rebuilt below */
    }
  }
  const ds = await make();
  if (path) {
    try {
      await makeDirs(dirname(path));
      await writeFileAtomic(path, encodeDatasetCache(ds, key));
    } catch {
      /* caching is an optimisation only */
    }
  }
  return ds;
}
