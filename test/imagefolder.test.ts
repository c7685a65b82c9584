// ImageFolder (torchvision's layout) and the sharp decoding pool: trees built on the fly, formats, the seeded
// streamed loader, the errors that name the path, and training from the CLI to above chance.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodePool } from '../src/data/decode-pool-node.js';
import { headerSize, sniff } from '../src/data/decode-worker-node.js';
import { compareCodePoints, hasImageExtension, parseSynsetNames, splitByFraction } from '../src/data/imagefolder.js';
import { loadImageFolder } from '../src/data/imagefolder-node.js';
import { createLoader } from '../src/data/loader.js';
import { loadDataset } from '../src/data/node.js';
import { DatasetError, type Dataset } from '../src/data/types.js';
import { cliPath } from './cli-build.js';
import { encode, encodeBmp24, encodeBmp8, encodePnm, noisyImage, VARIANTS, writeImageFolder } from './imagefolder-tree.js';

const run = promisify(execFile);
let dir = '';
let pool: DecodePool;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onelayer-imagefolder-'));
  pool = new DecodePool(2);
});
afterAll(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ImageFolder conventions', () => {
  it('sorts class names by code point, as Python sorted() does', () => {
    const names = ['a', 'B', '_z', 'é', '\u{FF5A}', '\u{1F600}', 'ab', 'A'];
    // Python: sorted(names) == ['A', 'B', '_z', 'a', 'ab', 'é', 'ｚ', '😀']
    expect([...names].sort(compareCodePoints)).toEqual(['A', 'B', '_z', 'a', 'ab', 'é', '\u{FF5A}', '\u{1F600}']);
    // Neither JavaScript's default sort (UTF-16 code units) nor locale order gives that.
    expect([...names].sort()).not.toEqual([...names].sort(compareCodePoints));
    expect([...names].sort((x, y) => x.localeCompare(y))).not.toEqual([...names].sort(compareCodePoints));
  });

  it('knows the image extensions in any case', () => {
    for (const n of ['x.jpg', 'x.JPEG', 'x.Png', 'x.ppm', 'x.BMP', 'x.pgm', 'x.tif', 'x.TIFF', 'x.webp']) expect(hasImageExtension(n), n).toBe(true);
    for (const n of ['x.txt', 'x.gif', 'jpg', 'x.jpg.bak', 'x']) expect(hasImageExtension(n), n).toBe(false);
  });

  it('splits each class by the validation fraction, fixed and disjoint', () => {
    const labels = [...Array(30).fill(0), ...Array(10).fill(1), ...Array(2).fill(2)];
    const a = splitByFraction(labels, 3, 0.2);
    expect(splitByFraction(labels, 3, 0.2)).toEqual(a);
    expect(a.val.filter((i) => labels[i] === 0)).toHaveLength(6);
    expect(a.val.filter((i) => labels[i] === 1)).toHaveLength(2);
    expect(a.val.filter((i) => labels[i] === 2)).toHaveLength(1); // at least one of each side for a class of two
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(labels.map((_, i) => i));
    expect(() => splitByFraction(labels, 3, 1)).toThrow(/--val-fraction must be a number in \(0, 1\)/);
  });
});

describe('decoding pool (sharp in worker threads)', () => {
  const w = 7;
  const h = 5;
  const rgb = noisyImage([90, 160, 30], w, h, 3);

  it('decodes PPM, PGM and BMP with its own readers, PNG/TIFF/WebP (lossless) with sharp, all to exact RGB', async () => {
    const grey = Uint8Array.from({ length: w * h }, (_, i) => (i * 37) % 256);
    const greyRgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => grey[Math.floor(i / 3)]);
    const indices = Uint8Array.from({ length: w * h }, (_, i) => i % 3);
    const palette: [number, number, number][] = [[255, 0, 0], [0, 255, 0], [10, 20, 30]];
    const paletteRgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => palette[indices[Math.floor(i / 3)]][i % 3]);
    const raw = sharp(rgb, { raw: { width: w, height: h, channels: 3 } });
    const cases: [string, Uint8Array, Uint8Array][] = [
      ['x.ppm', encodePnm(rgb, w, h, 3), rgb],
      ['x.pgm', encodePnm(grey, w, h, 1), greyRgb],
      ['x.bmp', encodeBmp24(rgb, w, h), rgb],
      ['p.bmp', encodeBmp8(indices, palette, w, h), paletteRgb],
      ['x.png', await raw.clone().png().toBuffer(), rgb],
      ['x.tif', await raw.clone().tiff({ compression: 'lzw' }).toBuffer(), rgb],
      ['x.webp', await raw.clone().webp({ lossless: true }).toBuffer(), rgb],
      ['g.png', await sharp(grey, { raw: { width: w, height: h, channels: 1 } }).png().toBuffer(), greyRgb],
    ];
    for (const [name, bytes, want] of cases) {
      const img = await pool.decodeRgb(bytes, name);
      expect([name, img.width, img.height, img.channels]).toEqual([name, w, h, 3]);
      expect(Array.from(img.data), name).toEqual(Array.from(want));
    }
  });

  it('reads the size of JPEG, PNG and WebP files from their headers, as sharp does', async () => {
    for (const variant of VARIANTS) {
      for (const [w2, h2] of [[1, 1], [37, 19], [300, 17], [3000, 3]]) {
        const { bytes } = await encode(variant, noisyImage([1, 2, 3], w2, h2, 1), w2, h2);
        const kind = sniff(bytes) ?? '';
        const meta = await sharp(bytes).metadata();
        expect([variant, kind, headerSize(bytes, kind)]).toEqual([variant, meta.format === 'jpeg' ? 'jpeg' : meta.format, { width: meta.width, height: meta.height }]);
      }
    }
    expect(headerSize(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 2, 0, 0, 0, 0, 0]), 'jpeg')).toBeUndefined();
  });

  it('mutated BMP, PPM, PGM, PNG and JPEG files decode to a well-formed image or fail naming the file (fast-check)', async () => {
    const grey = Uint8Array.from({ length: w * h }, (_, i) => (i * 11) % 256);
    const raw = sharp(rgb, { raw: { width: w, height: h, channels: 3 } });
    const bases = [
      encodePnm(rgb, w, h, 3),
      encodePnm(grey, w, h, 1),
      new TextEncoder().encode(`P3 2 2 255 ${Array.from({ length: 12 }, (_, i) => i * 20).join(' ')}`),
      encodeBmp24(rgb, w, h),
      encodeBmp8(Uint8Array.from({ length: w * h }, (_, i) => i % 2), [[1, 2, 3], [200, 100, 50]], w, h),
      new Uint8Array(await raw.clone().png().toBuffer()),
      new Uint8Array(await raw.clone().jpeg().toBuffer()),
    ];
    const runs = Number(process.env.FUZZ_RUNS ?? 0) || 150;
    const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_261_114;
    const edit = fc.tuple(fc.oneof(fc.nat({ max: 63 }), fc.nat()), fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80)));
    await fc.assert(
      fc.asyncProperty(fc.nat(bases.length - 1), fc.array(edit, { minLength: 1, maxLength: 6 }), fc.option(fc.nat(), { nil: undefined }), async (which, edits, cut) => {
        const b = new Uint8Array(bases[which]);
        for (const [at, v] of edits) b[at % b.length] = v;
        const input = cut === undefined ? b : b.subarray(0, cut % b.length);
        try {
          const img = await pool.decodeRgb(input, 'm.img', 4096);
          expect(img.data.length).toBe(img.width * img.height * 3);
          expect(img.width * img.height).toBeLessThanOrEqual(4096);
        } catch (e) {
          expect(e).toBeInstanceOf(DatasetError);
          expect((e as Error).message).toMatch(/^m\.img: /);
        }
      }),
      { numRuns: runs, seed },
    );
  }, 600_000);

  it('names the image that is not one, or is truncated, or too large', async () => {
    await expect(pool.decodeRgb(new TextEncoder().encode('hello, not an image'), 'notes.jpg')).rejects.toThrow(/notes\.jpg: not an image/);
    const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    await expect(pool.decodeRgb(png.subarray(0, 40), 'cut.png')).rejects.toThrow(/cut\.png: /);
    await expect(pool.decodeRgb(encodePnm(rgb, w, h, 3).subarray(0, 30), 'cut.ppm')).rejects.toThrow(/cut\.ppm: PNM data is \d+ bytes, expected 105/);
    await expect(pool.decodeRgb(png, 'big.png', 20)).rejects.toThrow(/big\.png: 7×5 image is larger than the 20 pixels allowed/);
  });
});

describe('imagefolder dataset', () => {
  let root = '';
  let ds: Dataset;
  beforeAll(async () => {
    root = join(dir, 'tree');
    await writeImageFolder(root, { perClassTrain: 8, perClassVal: 3 });
    ds = await loadImageFolder(root, { imageSize: 24, pool });
  });

  it('reads train/ and val/: classes in code-point order, a stray file ignored', () => {
    expect(ds.classNames).toEqual(['B', 'a', 'c']);
    expect([ds.numClasses, ds.channels, ds.height, ds.width, ds.train.count, ds.test.count]).toEqual([3, 3, 24, 24, 24, 9]);
    expect(Array.from(ds.test.labels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
  });

  it('streams batches that depend only on (seed, epoch, index): any thread count, any call order', async () => {
    const one = new DecodePool(1);
    try {
      const other = await loadImageFolder(root, { imageSize: 24, pool: one, prefetch: 1 });
      const opts = { batchSize: 5, shuffle: true, augment: true, seed: 7, dropLast: true };
      const a = createLoader(ds, 'train', opts);
      const b = createLoader(other, 'train', opts);
      expect(a.numBatches()).toBe(4);
      const forward = [await a.batch(1, 0), await a.batch(1, 1), await a.batch(1, 2)];
      const backward = [await b.batch(1, 2), await b.batch(1, 1), await b.batch(1, 0)].reverse();
      forward.forEach((x, i) => {
        expect(Array.from(x.labels)).toEqual(Array.from(backward[i].labels));
        expect(Buffer.from(x.images.buffer).equals(Buffer.from(backward[i].images.buffer)), `batch ${i}`).toBe(true);
      });
      // Another epoch or seed crops and orders differently.
      const e2 = await a.batch(2, 0);
      expect(Buffer.from(e2.images.buffer).equals(Buffer.from(forward[0].images.buffer))).toBe(false);
    } finally {
      await one.close();
    }
  });

  it('evaluates on the resized, centre-cropped images: near each class colour after normalisation', async () => {
    const loader = createLoader(ds, 'test', { batchSize: 9, shuffle: false, augment: false });
    const batch = await loader.batch(0, 0);
    const plane = 24 * 24;
    for (let n = 0; n < 9; n++) {
      // Mean over the image of channel 0, back in [0, 255]: a class's brightness, whatever the format or size.
      let s = 0;
      for (let i = 0; i < plane; i++) s += batch.images[n * 3 * plane + i];
      const red = ((s / plane) * ds.std[0] + ds.mean[0]) * 255;
      const want = [70, 120, 200][batch.labels[n]];
      expect(Math.abs(red - want), `image ${n}`).toBeLessThan(40);
    }
  });

  it('splits one folder of classes with --val-fraction, the same way every time', async () => {
    const flat = join(dir, 'flat');
    await writeImageFolder(flat, { perClassTrain: 6, perClassVal: 4, flat: true });
    const a = await loadImageFolder(flat, { imageSize: 16, valFraction: 0.3, pool });
    expect([a.train.count, a.test.count, a.classNames]).toEqual([21, 9, ['B', 'a', 'c']]);
    await expect(loadImageFolder(flat, { imageSize: 16, pool })).rejects.toThrow(/has no train\/ and val\/ folders; pass --val-fraction/);
    await expect(loadImageFolder(root, { imageSize: 16, valFraction: 0.3, pool })).rejects.toThrow(/has train\/ and val\/ folders, so --val-fraction 0\.3 does not apply/);
    const onlyVal = join(dir, 'only-val');
    await mkdir(join(onlyVal, 'val', 'a'), { recursive: true });
    await expect(loadImageFolder(onlyVal, { pool })).rejects.toThrow(/only-val\/train: not found, though .*only-val\/val is there/);
  });

  it('names the path of an empty class folder, a non-image file, a file that is not an image', async () => {
    const bad = async (name: string, edit: (r: string) => Promise<void>, message: RegExp) => {
      const r = join(dir, name);
      await writeImageFolder(r, { perClassTrain: 2, perClassVal: 1 });
      await edit(r);
      await expect(loadDataset('imagefolder', { path: r, imageFolder: { pool } })).rejects.toThrow(message);
    };
    await bad('empty', (r) => mkdir(join(r, 'train', 'd')), /empty\/train\/d: class folder holds no images/);
    await bad('text', (r) => writeFile(join(r, 'val', 'a', 'notes.txt'), 'hi'), /text\/val\/a\/notes\.txt: not an image file \(expected one of the extensions \.jpg/);
    await bad('fake', (r) => writeFile(join(r, 'train', 'c', 'fake.jpg'), 'not a jpeg'), /fake\/train\/c\/fake\.jpg: not an image \(it starts with 6e 6f 74/);
    await bad('unknown', (r) => mkdir(join(r, 'val', 'zz')), /unknown\/val\/zz: class folder 'zz' is not one of the 3 training classes/);
    await expect(loadDataset('imagefolder', {})).rejects.toThrow(/imagefolder: a data path is required \(--data\)/);
    await expect(loadDataset('imagefolder', { path: join(dir, 'nothing') })).rejects.toThrow(/nothing: not a folder/);
  });
});

describe('image cache (decoded, resized evaluation crops on disk)', () => {
  it('a second pass reads the cache instead of decoding, with identical tensors; damaged, foreign and stale entries are rebuilt', async () => {
    const root = join(dir, 'cache-tree');
    await writeImageFolder(root, { perClassTrain: 2, perClassVal: 4 });
    const cacheDir = join(dir, 'image-cache');
    const own = new DecodePool(2);
    const entries = async () => (await readdir(cacheDir, { recursive: true })).filter((f) => f.endsWith('.rgb')).sort().map((f) => join(cacheDir, f));
    /** Every test image once, in order, after the cache writes of the pass are done. */
    const pass = async (d: Dataset): Promise<Buffer> => {
      const loader = createLoader(d, 'test', { batchSize: 5, shuffle: false, augment: false });
      const out: Buffer[] = [];
      for (let i = 0; i < loader.numBatches(); i++) out.push(Buffer.from((await loader.batch(0, i)).images.buffer));
      await own.flush();
      return Buffer.concat(out);
    };
    try {
      const want = await pass(await loadImageFolder(root, { imageSize: 24, pool: own, cacheDir: false }));
      expect(own.stats).toEqual({ decoded: 12, cacheHits: 0, cacheRejected: 0, cacheWrites: 0, cacheSkipped: 0 });
      const ds = await loadImageFolder(root, { imageSize: 24, pool: own, cacheDir });
      expect((await pass(ds)).equals(want), 'cold pass').toBe(true);
      expect(own.stats).toEqual({ decoded: 24, cacheHits: 0, cacheRejected: 0, cacheWrites: 12, cacheSkipped: 0 });
      const files = await entries();
      expect(files).toHaveLength(12);
      expect(files.every((f) => /[/\\][0-9a-f]{2}[/\\][0-9a-f]{62}\.rgb$/.test(f))).toBe(true);
      expect((await readdir(cacheDir, { recursive: true })).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      // The second pass decodes nothing and gives the same bytes.
      expect((await pass(ds)).equals(want), 'warm pass').toBe(true);
      expect(own.stats).toMatchObject({ decoded: 24, cacheHits: 12, cacheRejected: 0, cacheWrites: 12 });
      // Training's random crops are never cached.
      await createLoader(ds, 'train', { batchSize: 6, shuffle: true, augment: true, seed: 3 }).batch(0, 0);
      expect(own.stats).toMatchObject({ decoded: 30, cacheHits: 12, cacheWrites: 12 });

      // Damaged entries: cut short, a flipped pixel (CRC), one byte too many, another image's entry (foreign key),
      // an empty file. Each is decoded again and replaced; the tensors are the same.
      const entry = (i: number) => readFile(files[i]);
      await truncate(files[0], (await entry(0)).length - 1);
      const flipped = await entry(1);
      flipped[100] ^= 1;
      await writeFile(files[1], flipped);
      await writeFile(files[2], Buffer.concat([await entry(2), Buffer.from([0])]));
      await copyFile(files[4], files[3]);
      await writeFile(files[5], '');
      expect((await pass(ds)).equals(want), 'after damage').toBe(true);
      expect(own.stats).toMatchObject({ decoded: 35, cacheHits: 19, cacheRejected: 5, cacheWrites: 17 });
      expect((await pass(ds)).equals(want), 'rebuilt').toBe(true);
      expect(own.stats).toMatchObject({ decoded: 35, cacheHits: 31, cacheRejected: 5, cacheWrites: 17 });

      // An image whose modification time changed is a new entry (keyed by path, size and mtime); so is another size.
      const image = join(root, 'val', 'a', (await readdir(join(root, 'val', 'a'))).sort()[0]);
      await utimes(image, new Date(), new Date(Date.now() + 5000));
      await pass(ds);
      expect(own.stats).toMatchObject({ decoded: 36, cacheHits: 42, cacheRejected: 5, cacheWrites: 18 });
      const other = await pass(await loadImageFolder(root, { imageSize: 20, pool: own, cacheDir }));
      expect(other.length).toBe(12 * 3 * 20 * 20 * 4);
      expect(own.stats).toMatchObject({ decoded: 48, cacheWrites: 30 });
      expect(await entries()).toHaveLength(13 + 12);
    } finally {
      await own.close();
    }
  });

  it('is off unless asked for: cacheDir, else ONELAYER_IMAGE_CACHE; a cache path that is a file is an error', async () => {
    const root = join(dir, 'cache-env');
    await writeImageFolder(root, { perClassTrain: 1, perClassVal: 1 });
    const fromEnv = join(dir, 'cache-from-env');
    const saved = process.env.ONELAYER_IMAGE_CACHE;
    const own = new DecodePool(1);
    const evalOnce = async (d: Dataset) => {
      await createLoader(d, 'test', { batchSize: 3, shuffle: false, augment: false }).batch(0, 0);
      await own.flush();
    };
    try {
      delete process.env.ONELAYER_IMAGE_CACHE;
      await evalOnce(await loadImageFolder(root, { imageSize: 16, pool: own }));
      expect(own.stats.cacheWrites).toBe(0);
      process.env.ONELAYER_IMAGE_CACHE = fromEnv;
      await evalOnce(await loadImageFolder(root, { imageSize: 16, pool: own, cacheDir: false }));
      expect(own.stats.cacheWrites).toBe(0);
      await evalOnce(await loadImageFolder(root, { imageSize: 16, pool: own }));
      expect(own.stats.cacheWrites).toBe(3);
      expect((await readdir(fromEnv, { recursive: true })).filter((f) => f.endsWith('.rgb'))).toHaveLength(3);
      const file = join(dir, 'cache-is-a-file');
      await writeFile(file, 'x');
      await expect(loadImageFolder(root, { imageSize: 16, pool: own, cacheDir: file })).rejects.toThrow(/cache-is-a-file: cannot create the image cache folder \(cacheDir\)/);
    } finally {
      if (saved === undefined) delete process.env.ONELAYER_IMAGE_CACHE;
      else process.env.ONELAYER_IMAGE_CACHE = saved;
      await own.close();
    }
  });
});

describe('imagenet dataset', () => {
  it('is an image folder named by LOC_synset_mapping.txt; a flat val/ folder is explained', async () => {
    const root = join(dir, 'imagenet');
    const classes = { n01443537: [200, 40, 40] as [number, number, number], n01440764: [40, 200, 40] as [number, number, number] };
    await writeImageFolder(root, { perClassTrain: 2, perClassVal: 1, classes });
    await writeFile(join(root, 'LOC_synset_mapping.txt'), 'n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n');
    const ds = await loadDataset('imagenet', { path: join(root), imageFolder: { pool, imageSize: 16 } });
    expect([ds.name, ds.classNames, ds.train.count, ds.test.count]).toEqual(['imagenet', ['tench, Tinca tinca', 'goldfish, Carassius auratus'], 4, 2]);
    await writeFile(join(root, 'LOC_synset_mapping.txt'), 'n01440764 tench, Tinca tinca\n');
    await expect(loadDataset('imagenet', { path: root, imageFolder: { pool } })).rejects.toThrow(/LOC_synset_mapping\.txt: has no line for the class folder n01443537/);
    const flat = join(dir, 'imagenet-flat');
    await mkdir(join(flat, 'val'), { recursive: true });
    await writeFile(join(flat, 'val', 'ILSVRC2012_val_00000001.JPEG'), 'x');
    await expect(loadDataset('imagenet', { path: flat, imageFolder: { pool } })).rejects.toThrow(/imagenet-flat\/val: no class folders\. ImageNet's validation images ship in one folder/);
    expect(parseSynsetNames('n00001740\tentity\n\nn00001930 physical entity\n', 'words.txt')).toEqual(new Map([['n00001740', 'entity'], ['n00001930', 'physical entity']]));
    expect(() => parseSynsetNames('n00001740\n', 'words.txt')).toThrow('words.txt: line 1 ("n00001740") is not "<wnid> <description>"');
  });
});

describe('imagefolder from the CLI', () => {
  it('trains a few steps to above chance, stores the class names and eval prints them', async () => {
    const root = join(dir, 'cli-tree');
    await writeImageFolder(root, { perClassTrain: 16, perClassVal: 6 });
    const out = join(dir, 'run');
    const cli = cliPath();
    const env = { ...process.env, ONELAYER_DECODE_THREADS: '2' };
    const { stderr } = await run(process.execPath, [cli, 'train', '--model', 's-vgg16', '--width', '8', '--dataset', 'imagefolder', '--data', root, '--image-size', '32',
      '--epochs', '6', '--batch-size', '8', '--lr', '0.05', '--nesterov', '--seed', '1', '--out', out], { env, maxBuffer: 1 << 24 });
    expect(stderr).toMatch(/^onelayer: s-vgg16 \(n = 8\), .* on imagefolder \(48 train \/ 18 test\)/m);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { testAccuracy: number; config: { imageSize: number } };
    expect(summary.config.imageSize).toBe(32);
    expect(summary.testAccuracy).toBeGreaterThan(0.6); // chance is 1/3
    const { stdout } = await run(process.execPath, [cli, 'eval', '--checkpoint', join(out, 'model.safetensors'), '--data', root], { env });
    const report = JSON.parse(stdout) as { classNames: string[]; testAccuracy: number; images: number };
    expect(report.classNames).toEqual(['B', 'a', 'c']);
    expect([report.images, report.testAccuracy]).toEqual([18, summary.testAccuracy]);
    // ONELAYER_IMAGE_CACHE: the first eval writes the 18 entries, the second reads them (no entry is replaced: the
    // same inodes); the same accuracy both times.
    const cacheDir = join(dir, 'cli-image-cache');
    const inodes: string[] = [];
    for (let pass = 0; pass < 2; pass++) {
      const cached = await run(process.execPath, [cli, 'eval', '--checkpoint', join(out, 'model.safetensors'), '--data', root], { env: { ...env, ONELAYER_IMAGE_CACHE: cacheDir } });
      expect((JSON.parse(cached.stdout) as { testAccuracy: number }).testAccuracy, `pass ${pass}`).toBe(summary.testAccuracy);
      const entries = (await readdir(cacheDir, { recursive: true })).filter((f) => f.endsWith('.rgb')).sort();
      expect(entries).toHaveLength(18);
      inodes.push((await Promise.all(entries.map(async (f) => `${f}:${(await stat(join(cacheDir, f))).ino}`))).join(','));
    }
    expect(inodes[1]).toBe(inodes[0]);
    // A broken tree fails with the path in the message and a non-zero exit.
    await writeFile(join(root, 'train', 'a', 'broken.png'), 'not a png');
    const failed = await run(process.execPath, [cli, 'train', '--model', 's-vgg16', '--width', '8', '--dataset', 'imagefolder', '--data', root, '--image-size', '32', '--epochs', '1', '--out', join(dir, 'run2')], { env }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/train\/a\/broken\.png: not an image/);
  }, 600_000);
});
