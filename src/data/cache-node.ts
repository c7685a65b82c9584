// Node-only cache of a decoded dataset (Tiny ImageNet takes minutes to decode with jpeg-js; the cache loads in a second).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathKind, readFileBytes, writeFileAtomic } from '../node/files.js';
import type { Dataset } from './types.js';

const MAGIC = 'OLDSET01';

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

/** Layout: magic, u32 LE JSON length, JSON header (space-padded to 8), train images, test images, train labels, test labels. */
export function encodeDatasetCache(ds: Dataset, key: string): Uint8Array {
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
  const jsonLen = Math.ceil((12 + json.length) / 8) * 8 - 12;
  const parts = [ds.train.images, ds.test.images, new Uint8Array(ds.train.labels.buffer, ds.train.labels.byteOffset, ds.train.labels.byteLength), new Uint8Array(ds.test.labels.buffer, ds.test.labels.byteOffset, ds.test.labels.byteLength)];
  const out = new Uint8Array(12 + jsonLen + parts.reduce((s, p) => s + p.length, 0));
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, jsonLen, true);
  out.set(json, 12);
  out.fill(0x20, 12 + json.length, 12 + jsonLen);
  let at = 12 + jsonLen;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The cached dataset, or undefined when the file is absent, from another version, for another key, or damaged. */
export function decodeDatasetCache(bytes: Uint8Array, key: string): Dataset | undefined {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) return undefined;
  const jsonLen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  let h: CacheHeader;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen))) as CacheHeader;
  } catch {
    return undefined;
  }
  if (h.key !== key) return undefined;
  const img = h.channels * h.height * h.width;
  const sizes = [h.trainCount * img, h.testCount * img, h.trainCount * 2, h.testCount * 2];
  if (bytes.length !== 12 + jsonLen + sizes.reduce((a, b) => a + b, 0)) return undefined;
  let at = 12 + jsonLen;
  const take = (n: number) => bytes.slice(at, (at += n));
  const trainImages = take(sizes[0]);
  const testImages = take(sizes[1]);
  const trainLabels = new Uint16Array(take(sizes[2]).buffer);
  const testLabels = new Uint16Array(take(sizes[3]).buffer);
  return {
    name: h.name,
    numClasses: h.numClasses,
    channels: h.channels,
    height: h.height,
    width: h.width,
    train: { images: trainImages, labels: trainLabels, count: h.trainCount },
    test: { images: testImages, labels: testLabels, count: h.testCount },
    mean: h.mean,
    std: h.std,
    classNames: h.classNames,
  };
}

/** Returns the cached dataset for `key`, or builds it with `make` and caches it (best effort: a read-only folder just skips caching). */
export async function cachedDataset(path: string | undefined, key: string, make: () => Promise<Dataset>): Promise<Dataset> {
  if (path && (await pathKind(path)) === 'file') {
    const hit = decodeDatasetCache(await readFileBytes(path, 'dataset cache'), key);
    if (hit) return hit;
  }
  const ds = await make();
  if (path) {
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, encodeDatasetCache(ds, key));
    } catch {
      /* caching is an optimisation only */
    }
  }
  return ds;
}
