import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchLoader,
  checkCifarFileSize,
  cifarArchiveMaxBytes,
  gunzip,
  loadMnist,
  memoryFileTree,
  parseCifar,
  parseCifarArchive,
  parseTinyImagenet,
  readTar,
  writeTar,
  type Dataset,
  type NamedBytes,
} from '../src/data/index.js';
import { datasetCacheDir } from '../src/data/cache-node.js';
import { gunzipNode, loadDataset } from '../src/data/node.js';
import { Random } from '../src/tensor/random.js';

const REC10 = 3073;
const REC100 = 3074;
/** The small fixtures below are not official-size files: parse them in lenient mode. */
const LENIENT = { officialSizes: false } as const;
let dir = '';

/** Deterministic CIFAR-style records: label bytes then 3072 pixels. */
function cifarRecords(count: number, seed: number, labelBytes: 1 | 2): { bytes: Uint8Array; labels: number[]; pixels: Uint8Array } {
  const rng = new Random(seed);
  const rec = labelBytes + 3072;
  const bytes = new Uint8Array(count * rec);
  const labels: number[] = [];
  const pixels = new Uint8Array(count * 3072);
  for (let r = 0; r < count; r++) {
    const fine = labelBytes === 1 ? rng.int(10) : rng.int(100);
    if (labelBytes === 2) bytes[r * rec] = rng.int(20);
    bytes[r * rec + labelBytes - 1] = fine;
    labels.push(fine);
    for (let i = 0; i < 3072; i++) {
      // Channel-dependent brightness so per-channel means differ.
      const v = Math.min(255, Math.floor(rng.next() * 200) + 20 * Math.floor(i / 1024));
      bytes[r * rec + labelBytes + i] = v;
      pixels[r * 3072 + i] = v;
    }
  }
  return { bytes, labels, pixels };
}

const cifar10Files = (() => {
  const files: NamedBytes[] = [];
  const labels: number[] = [];
  const chunks: Uint8Array[] = [];
  for (let b = 1; b <= 5; b++) {
    const r = cifarRecords(20, b, 1);
    files.push({ name: `cifar-10-batches-bin/data_batch_${b}.bin`, bytes: r.bytes });
    labels.push(...r.labels);
    chunks.push(r.pixels);
  }
  const t = cifarRecords(20, 99, 1);
  files.push({ name: 'cifar-10-batches-bin/test_batch.bin', bytes: t.bytes });
  const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  files.push({ name: 'cifar-10-batches-bin/batches.meta.txt', bytes: new TextEncoder().encode(`${names.join('\n')}\n\n`) });
  const trainPixels = new Uint8Array(100 * 3072);
  chunks.forEach((c, i) => trainPixels.set(c, i * 20 * 3072));
  return { files, labels, trainPixels, testLabels: t.labels, testPixels: t.pixels, names };
})();

async function writeTree(root: string, files: NamedBytes[]): Promise<void> {
  for (const f of files) {
    const p = join(root, f.name);
    await mkdir(join(p, '..'), { recursive: true });
    await writeFile(p, f.bytes);
  }
}

/** Typed-array equality without vitest's slow element-by-element deep equality (these are MBs). */
function expectSame(a: ArrayBufferView, b: ArrayBufferView, what = 'arrays'): void {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  expect(x.length, `${what}: byte length`).toBe(y.length);
  expect(x.equals(y), `${what} differ`).toBe(true);
}

const replace = (files: NamedBytes[], base: string, bytes: Uint8Array): NamedBytes[] =>
  files.map((f) => (f.name.endsWith(`/${base}`) ? { name: f.name, bytes } : f));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onelayer-data-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectCifar10(ds: Dataset): void {
  expect(ds.name).toBe('cifar10');
  expect([ds.channels, ds.height, ds.width, ds.numClasses]).toEqual([3, 32, 32, 10]);
  expect(ds.train.count).toBe(100);
  expect(ds.test.count).toBe(20);
  expect(Array.from(ds.train.labels)).toEqual(cifar10Files.labels);
  expect(Array.from(ds.test.labels)).toEqual(cifar10Files.testLabels);
  expectSame(ds.train.images, cifar10Files.trainPixels, 'train images');
  expectSame(ds.test.images, cifar10Files.testPixels, 'test images');
  expect(ds.classNames).toEqual(cifar10Files.names);
  // Channel c pixels are uniform in [20c, 20c + 200): mean ≈ (20c + 99.5)/255.
  ds.mean.forEach((m, c) => expect(m).toBeCloseTo((20 * c + 99.5) / 255, 1));
}

describe('MNIST (embedded)', () => {
  it('has the fixed 8,000/2,000 split, padded to 1×32×32, 10 classes', () => {
    const ds = loadMnist();
    expect([ds.name, ds.channels, ds.height, ds.width, ds.numClasses]).toEqual(['mnist', 1, 32, 32, 10]);
    expect([ds.train.count, ds.test.count]).toEqual([8000, 2000]);
    expect(ds.train.images.length).toBe(8000 * 1024);
    expect(ds.test.images.length).toBe(2000 * 1024);
    for (const split of [ds.train, ds.test]) {
      const seen = new Set(split.labels);
      expect(seen.size).toBe(10);
      expect(Math.max(...split.labels)).toBe(9);
      // Two-pixel zero border on every image.
      let border = 0;
      for (let n = 0; n < split.count; n++) {
        for (let i = 0; i < 32; i++) {
          for (const k of [0, 1, 30, 31]) border += split.images[n * 1024 + k * 32 + i] + split.images[n * 1024 + i * 32 + k];
        }
      }
      expect(border).toBe(0);
    }
    // MNIST's mean is 0.1307 on 28×28; zero padding to 32×32 scales it by 784/1024.
    expect(ds.mean[0]).toBeGreaterThan(0.09);
    expect(ds.mean[0]).toBeLessThan(0.11);
    expect(ds.std[0]).toBeGreaterThan(0.25);
    expect(ds.std[0]).toBeLessThan(0.33);
    // Classes are roughly balanced (a digit-major prefix would not be).
    const counts = new Array(10).fill(0);
    for (const l of ds.test.labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(120);
  });

  it('is the same split on every call and via loadDataset', async () => {
    const a = loadMnist();
    const b = await loadDataset('mnist', { path: '/ignored' });
    expectSame(b.train.labels, a.train.labels, 'train labels');
    expectSame(b.test.images, a.test.images, 'test images');
  });
});

describe('CIFAR', () => {
  it('parses the official binary batches from bytes', () => {
    expectCifar10(parseCifar(cifar10Files.files, 'cifar10', LENIENT));
  });

  it('loads from the extracted folder (the batches folder or its parent)', async () => {
    const root = join(dir, 'c10');
    await writeTree(root, cifar10Files.files);
    expectCifar10(await loadDataset('cifar10', { path: root, cifar: LENIENT }));
    expectCifar10(await loadDataset('cifar10', { path: join(root, 'cifar-10-batches-bin'), cifar: LENIENT }));
  });

  it('loads the .tar.gz directly (our tar writer, and GNU tar when present)', async () => {
    const tgz = gzipSync(writeTar(cifar10Files.files));
    const path = join(dir, 'cifar-10-binary.tar.gz');
    await writeFile(path, tgz);
    expectCifar10(await loadDataset('cifar10', { path, cifar: LENIENT }));
    // The browser path: DecompressionStream + tar reader.
    expectCifar10(await parseCifarArchive(tgz, 'cifar-10-binary.tar.gz', 'cifar10', undefined, LENIENT));
    let gnu: Uint8Array | undefined;
    try {
      execFileSync('tar', ['-czf', join(dir, 'gnu.tar.gz'), '-C', join(dir, 'c10'), 'cifar-10-batches-bin']);
      gnu = new Uint8Array(await readFile(join(dir, 'gnu.tar.gz')));
    } catch {
      gnu = undefined; // no tar CLI: the writer round trip above still covers the format
    }
    if (gnu) expectCifar10(await loadDataset('cifar10', { path: join(dir, 'gnu.tar.gz'), cifar: LENIENT }));
  });

  it('parses CIFAR-100 with fine labels and names', async () => {
    const train = cifarRecords(30, 7, 2);
    const test = cifarRecords(10, 8, 2);
    const names = Array.from({ length: 100 }, (_, i) => `class_${i}`);
    const files = [
      { name: 'cifar-100-binary/train.bin', bytes: train.bytes },
      { name: 'cifar-100-binary/test.bin', bytes: test.bytes },
      { name: 'cifar-100-binary/fine_label_names.txt', bytes: new TextEncoder().encode(names.join('\n')) },
    ];
    const root = join(dir, 'c100');
    await writeTree(root, files);
    const ds = await loadDataset('cifar100', { path: root, cifar: LENIENT });
    expect([ds.numClasses, ds.train.count, ds.test.count]).toEqual([100, 30, 10]);
    expect(Array.from(ds.train.labels)).toEqual(train.labels);
    expectSame(ds.test.images, test.pixels, 'test images');
    expect(ds.classNames).toEqual(names);
  });

  it('names the file and the expected size for missing or truncated batches', async () => {
    const short = cifar10Files.files[2].bytes.subarray(0, 1234);
    expect(() => parseCifar(replace(cifar10Files.files, 'data_batch_3.bin', short), 'cifar10', LENIENT)).toThrow(
      'cifar-10-batches-bin/data_batch_3.bin: 61460 bytes expected (20 records of 3073, like cifar-10-batches-bin/data_batch_1.bin), got 1234',
    );
    const odd = cifar10Files.files[0].bytes.subarray(0, REC10 * 3 + 5);
    expect(() => parseCifar(replace(cifar10Files.files, 'data_batch_1.bin', odd), 'cifar10', LENIENT)).toThrow(
      /data_batch_1\.bin: 30730000 bytes expected \(10000 records of 3073\), got 9224, which is not a whole number of records/,
    );
    expect(() => parseCifar(cifar10Files.files.filter((f) => !f.name.endsWith('test_batch.bin')), 'cifar10', LENIENT)).toThrow(
      /cifar10: missing test_batch\.bin/,
    );
    // Lenient mode with official-size batches: a truncated first batch is the one named.
    const full = cifar10Files.files.map((f) => (/_batch/.test(f.name) ? { name: f.name, bytes: new Uint8Array(10000 * REC10) } : f));
    expect(() => parseCifar(replace(full, 'data_batch_1.bin', new Uint8Array(REC10 * 9000)), 'cifar10', LENIENT)).toThrow(
      'data_batch_1.bin: 30730000 bytes expected (10000 records of 3073, like cifar-10-batches-bin/data_batch_2.bin), got 27657000',
    );
    const c100 = [{ name: 'train.bin', bytes: new Uint8Array(REC100 * 2 - 1) }, { name: 'test.bin', bytes: new Uint8Array(REC100) }];
    expect(() => parseCifar(c100, 'cifar100', LENIENT)).toThrow(/train\.bin: 153700000 bytes expected \(50000 records of 3074\), got 6147/);
    // The default is strict: the small fixtures are refused, naming the file, the bytes found and the count expected.
    expect(() => parseCifar(cifar10Files.files, 'cifar10')).toThrow(
      'cifar-10-batches-bin/data_batch_1.bin: 61460 bytes found (20 records), 30730000 expected: the official cifar10 data_batch_1.bin holds exactly 10000 records of 3073 bytes',
    );
    await expect(loadDataset('cifar10', { path: join(dir, 'c10') })).rejects.toThrow(/c10\/cifar-10-batches-bin\/data_batch_1\.bin: 61460 bytes found/);
    await expect(loadDataset('cifar10', { path: join(dir, 'nowhere') })).rejects.toThrow(/nowhere: not found \(cifar10 needs/);
    await expect(loadDataset('cifar10')).rejects.toThrow(/cifar10: a data path is required/);
    await expect(loadDataset('imagenet-21k')).rejects.toThrow(/unknown dataset "imagenet-21k" \(expected one of mnist, fashion-mnist, cifar10, cifar100, tiny-imagenet, imagefolder, imagenet\)/);
    await expect(loadDataset('imagenet')).rejects.toThrow(/imagenet: a data path is required \(--data\): the ILSVRC-2012 folder/);
    expect(() => parseCifar(cifar10Files.files, 'toString' as 'cifar10')).toThrow(/parseCifar: unknown kind "toString"/);
  });

  it('gives the record index of a label out of range', () => {
    const bytes = cifar10Files.files[3].bytes.slice();
    bytes[7 * REC10] = 10;
    expect(() => parseCifar(replace(cifar10Files.files, 'data_batch_4.bin', bytes), 'cifar10', LENIENT)).toThrow(
      'data_batch_4.bin: label 10 of record 7 (byte offset 21511) is out of range [0, 10)',
    );
  });

  it('names the archive when the gzip or tar is corrupt', async () => {
    const tar = writeTar(cifar10Files.files);
    const tgz = gzipSync(tar);
    const cut = tgz.subarray(0, tgz.length >> 1);
    await writeFile(join(dir, 'cut.tar.gz'), cut);
    await expect(loadDataset('cifar10', { path: join(dir, 'cut.tar.gz') })).rejects.toThrow(/cut\.tar\.gz: corrupt gzip data/);
    await expect(parseCifarArchive(cut, 'cut.tar.gz', 'cifar10', undefined, LENIENT)).rejects.toThrow(/cut\.tar\.gz: corrupt gzip data/);
    await expect(gunzip(new Uint8Array([1, 2, 3]), 'x.gz')).rejects.toThrow(/x\.gz: not a gzip file/);
    const badSum = tar.slice();
    badSum[600 + 512 * 121] ^= 0xff; // inside the second header's name field
    expect(() => readTar(badSum, 'bad.tar')).toThrow(/bad\.tar: corrupt tar: header checksum mismatch at offset/);
    const truncated = tar.subarray(0, 512 + 1000);
    expect(() => readTar(truncated, 'short.tar')).toThrow(/short\.tar: truncated tar: entry "cifar-10-batches-bin\/data_batch_1\.bin" at offset 0 needs 61460 bytes, only 1000 left/);
    await expect(parseCifarArchive(gzipSync(writeTar(cifar10Files.files.slice(1))), 'partial.tgz', 'cifar10', undefined, LENIENT)).rejects.toThrow(
      /partial\.tgz: cifar10: missing data_batch_1\.bin/,
    );
  });

  it('tar handles long names', () => {
    const name = `${'deep/'.repeat(30)}file.bin`;
    const files = readTar(writeTar([{ name, bytes: new Uint8Array([1, 2, 3]) }, { name: 'b', bytes: new Uint8Array(0) }]));
    expect(files.map((f) => f.name)).toEqual([name, 'b']);
    expect(Array.from(files[0].bytes)).toEqual([1, 2, 3]);
  });
});

describe('CIFAR at official sizes (the default, strict)', () => {
  const N = 10000;
  /** Six official-size CIFAR-10 files, generated once: record r of file b has label (r + b) % 10 and r in pixels 0..1. */
  const official = (() => {
    const template = new Uint8Array(REC10);
    for (let i = 1; i < REC10; i++) template[i] = (i * 31) & 255;
    const first = new Uint8Array(N * REC10);
    for (let r = 0; r < N; r++) {
      first.set(template, r * REC10);
      first[r * REC10 + 1] = r & 255;
      first[r * REC10 + 2] = r >> 8;
    }
    const names = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).concat('test_batch.bin');
    return names.map((name, b) => {
      const bytes = first.slice();
      for (let r = 0; r < N; r++) bytes[r * REC10] = (r + b) % 10;
      return { name: `cifar-10-batches-bin/${name}`, bytes };
    });
  })();
  /** Mismatches between a loaded split and the generated records (0 when every label and record index is right). */
  const mismatches = (split: Dataset['train'], files: number[]): number => {
    let bad = split.count === files.length * N ? 0 : 1;
    files.forEach((b, k) => {
      for (let r = 0; r < N; r++) {
        const n = k * N + r;
        const img = n * 3072;
        if (split.labels[n] !== (r + b) % 10 || split.images[img] !== (r & 255) || split.images[img + 1] !== r >> 8) bad++;
      }
    });
    return bad;
  };
  const root = () => join(dir, 'c10-full');

  it('loads full-size CIFAR-10 from its folder', async () => {
    await writeTree(root(), official);
    const ds = await loadDataset('cifar10', { path: root() });
    expect([ds.train.count, ds.test.count]).toEqual([50000, 10000]);
    expect(mismatches(ds.train, [0, 1, 2, 3, 4])).toBe(0);
    expect(mismatches(ds.test, [5])).toBe(0);
    // The official archive also holds readme.html and batches.meta.txt: the gzip cap leaves room for them.
    const extra = [{ name: 'cifar-10-batches-bin/batches.meta.txt', bytes: new Uint8Array(61) }, { name: 'cifar-10-batches-bin/readme.html', bytes: new Uint8Array(88) }];
    expect(writeTar([...official, ...extra]).length).toBeLessThanOrEqual(cifarArchiveMaxBytes('cifar10'));
  });

  it('refuses an official file with the wrong record count, naming it, the bytes found and the count expected', async () => {
    // A test file cut to 5,000 records used to be accepted silently as a smaller test split.
    const cut = join(root(), 'cifar-10-batches-bin', 'test_batch.bin');
    await writeFile(cut, official[5].bytes.subarray(0, 5000 * REC10));
    await expect(loadDataset('cifar10', { path: root() })).rejects.toThrow(
      `${cut}: 15365000 bytes found (5000 records), 30730000 expected: the official cifar10 test_batch.bin holds exactly 10000 records of 3073 bytes`,
    );
    await writeFile(cut, official[5].bytes.subarray(0, 5000 * REC10 + 17));
    await expect(loadDataset('cifar10', { path: root() })).rejects.toThrow(/test_batch\.bin: 15365017 bytes found \(not a whole number of records\), 30730000 expected/);
    // CIFAR-100: train.bin holds 50,000 records and test.bin 10,000; swapped or short files are refused before allocation.
    const c100 = (train: number, test: number) => [
      { name: 'cifar-100-binary/train.bin', bytes: new Uint8Array(train * REC100) },
      { name: 'cifar-100-binary/test.bin', bytes: new Uint8Array(test * REC100) },
    ];
    expect(() => parseCifar(c100(10000, 50000), 'cifar100')).toThrow(
      'cifar-100-binary/train.bin: 30740000 bytes found (10000 records), 153700000 expected: the official cifar100 train.bin holds exactly 50000 records of 3074 bytes',
    );
    expect(() => parseCifar(c100(50000, 9999), 'cifar100')).toThrow(/test\.bin: 30736926 bytes found \(9999 records\), 30740000 expected/);
    // The official sizes themselves pass (checked on the size alone, as the Node loader does before reading).
    expect(() => checkCifarFileSize('cifar100', 'x/train.bin', 50000 * REC100)).not.toThrow();
    expect(() => checkCifarFileSize('cifar100', 'x/test.bin', 10000 * REC100)).not.toThrow();
    expect(() => checkCifarFileSize('cifar100', 'x/test.bin', 10001 * REC100)).toThrow(/x\/test\.bin: 30743074 bytes found \(10001 records\)/);
  });

  it('caps gzip output at the most the official archive can hold, naming the archive and the limit', async () => {
    const limit = cifarArchiveMaxBytes('cifar10');
    expect(limit).toBeGreaterThan(6 * N * REC10);
    expect(limit).toBeLessThan(6 * N * REC10 + 2 ** 21);
    // Gzip members concatenate: 1 MiB of zeros (1 KB compressed) repeated past the limit is a cheap bomb.
    const member = gzipSync(new Uint8Array(2 ** 20));
    const bomb = Buffer.concat(Array.from({ length: Math.ceil(limit / 2 ** 20) + 1 }, () => member));
    const path = join(dir, 'bomb.tar.gz');
    await writeFile(path, bomb);
    await expect(loadDataset('cifar10', { path })).rejects.toThrow(`${path}: gzip data inflates to more than ${limit} bytes`);
    expect(() => gunzipNode(bomb, 'bomb.tar.gz', limit)).toThrow(`bomb.tar.gz: gzip data inflates to more than ${limit} bytes`);
    // Both archive parsers pass the cap of their kind to the inflater.
    for (const kind of ['cifar10', 'cifar100'] as const) {
      const caps: (number | undefined)[] = [];
      const spy = (b: Uint8Array, _archive: string, max?: number) => {
        caps.push(max);
        return gunzipNode(b, 'spy', max);
      };
      await expect(parseCifarArchive(gzipSync(writeTar([])), 'empty.tgz', kind, spy)).rejects.toThrow(/empty\.tgz: .*missing/);
      expect(caps).toEqual([cifarArchiveMaxBytes(kind)]);
    }
    expect(cifarArchiveMaxBytes('cifar100')).toBe(512 * 2 + Math.ceil((50000 * REC100) / 512) * 512 + Math.ceil((10000 * REC100) / 512) * 512 + 2 ** 20);
    // The browser inflater stops reading at the limit too (a smaller one here: DecompressionStream is slower than zlib).
    const small = gzipSync(new Uint8Array(300000));
    await expect(gunzip(small, 'small.gz', 299999)).rejects.toThrow('small.gz: gzip data inflates to more than 299999 bytes');
    expect((await gunzip(small, 'small.gz', 300000)).length).toBe(300000);
    expect(gunzipNode(small, 'small.gz', 300000).length).toBe(300000);
    expect(() => gunzipNode(small, 'small.gz', 299999)).toThrow('small.gz: gzip data inflates to more than 299999 bytes');
  });
});

describe('Tiny ImageNet', () => {
  const wnids = ['n01443537', 'n01629819', 'n01641577'];
  // Each class a distinct flat colour, so decoded pixels (JPEG is lossy) can be checked against it.
  const colour = (c: number, k: number): [number, number, number] => [40 + 80 * c, 200 - 60 * c + 5 * k, 30 + 50 * k];
  // Each colour encoded once (with sharp, before the tests): treeFiles() stays synchronous.
  const jpegs = new Map<string, Uint8Array>();
  const jpegOf = (rgb: [number, number, number], size = 64): Uint8Array => {
    const bytes = jpegs.get(`${rgb}/${size}`);
    if (!bytes) throw new Error(`test: no JPEG encoded for ${rgb}/${size}`);
    return bytes;
  };
  beforeAll(async () => {
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < 3; k++) {
        const rgb = colour(c, k);
        const data = new Uint8Array(64 * 64 * 3);
        for (let i = 0; i < 64 * 64; i++) data.set(rgb, i * 3);
        jpegs.set(`${rgb}/64`, new Uint8Array(await sharp(data, { raw: { width: 64, height: 64, channels: 3 } }).jpeg({ quality: 95 }).toBuffer()));
      }
    }
  });
  const treeFiles = (annotations?: string): NamedBytes[] => {
    const files: NamedBytes[] = [{ name: 'tiny-imagenet-200/wnids.txt', bytes: new TextEncoder().encode(`${wnids.join('\n')}\n`) }];
    wnids.forEach((w, c) => {
      for (let k = 0; k < 3; k++) files.push({ name: `tiny-imagenet-200/train/${w}/images/${w}_${k}.JPEG`, bytes: jpegOf(colour(c, k)) });
      files.push({ name: `tiny-imagenet-200/train/${w}/${w}_boxes.txt`, bytes: new TextEncoder().encode(`${w}_0.JPEG\t0\t0\t10\t10\n`) });
    });
    const lines: string[] = [];
    for (let v = 0; v < 4; v++) {
      const c = (v * 2) % 3;
      files.push({ name: `tiny-imagenet-200/val/images/val_${v}.JPEG`, bytes: jpegOf(colour(c, 1)) });
      lines.push(`val_${v}.JPEG\t${wnids[c]}\t0\t0\t63\t63`);
    }
    files.push({ name: 'tiny-imagenet-200/val/val_annotations.txt', bytes: new TextEncoder().encode(annotations ?? `${lines.join('\n')}\n`) });
    return files;
  };

  const pixelClose = (ds: Dataset, split: 'train' | 'test', n: number, rgb: number[]) => {
    const img = ds[split].images.subarray(n * 3 * 4096, (n + 1) * 3 * 4096);
    for (let ch = 0; ch < 3; ch++) {
      for (const i of [0, 2080, 4095]) expect(Math.abs(img[ch * 4096 + i] - rgb[ch])).toBeLessThanOrEqual(4);
    }
  };

  // Caches go to a private XDG_CACHE_HOME; one image gets a fixed mtime so that the test can restore it exactly.
  const FIXED_TIME = new Date('2024-01-01T00:00:00Z');
  const cacheHome = () => join(dir, 'xdg-cache');
  let savedCacheHome: string | undefined;
  beforeAll(() => {
    savedCacheHome = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = cacheHome();
  });
  afterAll(() => {
    if (savedCacheHome === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCacheHome;
  });

  it('loads the official folder layout, decoded with sharp in the decoding threads', async () => {
    const root = join(dir, 'tin');
    await writeTree(root, treeFiles());
    const jpg = join(root, 'tiny-imagenet-200/train', wnids[1], 'images', `${wnids[1]}_1.JPEG`);
    await utimes(jpg, FIXED_TIME, FIXED_TIME);
    const ds = await loadDataset('tiny-imagenet', { path: root });
    expect([ds.name, ds.numClasses, ds.channels, ds.height, ds.width]).toEqual(['tiny-imagenet', 3, 3, 64, 64]);
    expect([ds.train.count, ds.test.count]).toEqual([9, 4]);
    expect(Array.from(ds.train.labels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(Array.from(ds.test.labels)).toEqual([0, 2, 1, 0]);
    expect(ds.classNames).toEqual(wnids);
    pixelClose(ds, 'train', 4, colour(1, 1));
    pixelClose(ds, 'test', 1, colour(2, 1));
    // Exactly sharp's own decode of that JPEG (HWC RGB there, CHW here).
    const own = await sharp(jpegOf(colour(1, 1))).removeAlpha().raw().toBuffer();
    const img = ds.train.images.subarray(4 * 3 * 4096, 5 * 3 * 4096);
    expect(Buffer.from(img).equals(Buffer.from(Uint8Array.from({ length: 3 * 4096 }, (_, k) => own[(k % 4096) * 3 + Math.floor(k / 4096)])))).toBe(true);
    // The folder that holds wnids.txt works too, and maxPerClass takes a subset.
    const sub = await loadDataset('tiny-imagenet', { path: join(root, 'tiny-imagenet-200'), tinyImagenet: { maxPerClass: 2 } });
    expect(Array.from(sub.train.labels)).toEqual([0, 0, 1, 1, 2, 2]);
    // The decoded set was cached in $XDG_CACHE_HOME/onelayer (one file per subset), never in the data folder.
    expect((await readdir(join(cacheHome(), 'onelayer'))).filter((f) => /^tiny-imagenet-[0-9a-f]{16}-(all|2)\.bin$/.test(f))).toHaveLength(2);
    expect(await readdir(join(root, 'tiny-imagenet-200'))).not.toContain('.onelayer-cache');
    // A damaged JPEG with the same size and modification time is not even read on the next load (a cache hit) …
    const before = await stat(jpg);
    const damaged = new Uint8Array(before.size);
    damaged.set([0xff, 0xd8, 0]);
    await writeFile(jpg, damaged);
    await utimes(jpg, FIXED_TIME, FIXED_TIME);
    const cached = await loadDataset('tiny-imagenet', { path: root });
    expectSame(cached.train.images, ds.train.images, 'cached train images');
    expectSame(cached.test.labels, ds.test.labels, 'cached test labels');
    expect([cached.mean, cached.classNames]).toEqual([ds.mean, ds.classNames]);
    // … unless caching is off, or the image's modification time changed: the key covers every image's path, size and mtime.
    await expect(loadDataset('tiny-imagenet', { path: root, tinyImagenet: { cache: false } })).rejects.toThrow(/n01629819_1\.JPEG: not an image/);
    await utimes(jpg, FIXED_TIME, new Date(FIXED_TIME.getTime() + 5000));
    await expect(loadDataset('tiny-imagenet', { path: root })).rejects.toThrow(/n01629819_1\.JPEG: not an image/);
    // A JPEG cut short is named too (sharp's own message follows the name).
    const whole = jpegOf(colour(1, 1));
    await writeFile(jpg, whole.subarray(0, 200));
    await expect(loadDataset('tiny-imagenet', { path: root })).rejects.toThrow(/n01629819_1\.JPEG: cannot decode image \(/);
  });

  it('keys the cache on val_annotations.txt, rebuilds a damaged cache, skips an unwritable cache folder', async () => {
    const root = join(dir, 'tin-cache');
    await writeTree(root, treeFiles());
    const first = await loadDataset('tiny-imagenet', { path: root, tinyImagenet: { maxPerClass: 1 } });
    expect(Array.from(first.test.labels)).toEqual([0, 2, 1, 0]);
    const cacheFile = join(cacheHome(), 'onelayer', (await readdir(join(cacheHome(), 'onelayer'))).find((f) => f.endsWith('-1.bin'))!);
    const good = await readFile(cacheFile);
    // Relabelling the validation images (same files, same sizes) must not serve the old labels from the cache.
    const relabelled = [0, 1, 2, 3].map((v) => `val_${v}.JPEG\t${wnids[(v + 1) % 3]}\t0\t0\t63\t63`).join('\n');
    await writeFile(join(root, 'tiny-imagenet-200/val/val_annotations.txt'), `${relabelled}\n`);
    const second = await loadDataset('tiny-imagenet', { path: root, tinyImagenet: { maxPerClass: 1 } });
    expect(Array.from(second.test.labels)).toEqual([1, 2, 0, 1]);
    const rebuilt = await readFile(cacheFile);
    expect(rebuilt.equals(good)).toBe(false);
    // Damaged caches (a flipped byte in the labels, a truncation, garbage) are ignored and rebuilt, never fatal.
    const flipped = Buffer.from(rebuilt);
    flipped[flipped.length - 1] ^= 0x40;
    for (const bad of [flipped, rebuilt.subarray(0, rebuilt.length - 3), Buffer.from('OLDSET01\xff\xff\xff\xff{'), new Uint8Array(0)]) {
      await writeFile(cacheFile, bad);
      const again = await loadDataset('tiny-imagenet', { path: root, tinyImagenet: { maxPerClass: 1 } });
      expectSame(again.test.labels, second.test.labels, 'labels after a damaged cache');
      expectSame(again.train.images, second.train.images, 'images after a damaged cache');
      expect((await readFile(cacheFile)).equals(rebuilt), 'the cache is rewritten').toBe(true);
    }
    // An explicit cache file is used as given; a cache folder that cannot be created only skips caching.
    const own = join(dir, 'own-cache', 'tin.bin');
    await loadDataset('tiny-imagenet', { path: root, tinyImagenet: { cache: own } });
    // All 9 training images instead of 3: six more images of 3×64×64 bytes and a 2-byte label each.
    // (Compared past the JSON headers, whose lengths vary with the digits of mean and std.)
    const ownBytes = await readFile(own);
    const pastHeader = (b: Buffer) => b.length - b.readUInt32LE(8);
    expect(pastHeader(ownBytes)).toBe(pastHeader(rebuilt) + 6 * (12288 + 2));
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(own, 'under-a-file');
    try {
      const uncached = await loadDataset('tiny-imagenet', { path: root, tinyImagenet: { maxPerClass: 1 } });
      expectSame(uncached.train.images, second.train.images, 'images without a cache');
    } finally {
      process.env.XDG_CACHE_HOME = saved;
    }
    expect(datasetCacheDir({ XDG_CACHE_HOME: '/x/y' })).toBe(join('/x/y', 'onelayer'));
    expect(datasetCacheDir({ XDG_CACHE_HOME: 'relative' })).toBe(join(homedir(), '.cache', 'onelayer'));
    expect(datasetCacheDir({})).toBe(join(homedir(), '.cache', 'onelayer'));
  });

  it('expands grayscale and drops alpha with an injected decoder (the browser path)', async () => {
    const decode = (_bytes: Uint8Array, name: string) => {
      const gray = name.includes('_0.');
      const ch = gray ? 1 : 4;
      const data = new Uint8Array(64 * 64 * ch);
      for (let i = 0; i < 64 * 64; i++) {
        if (gray) data[i] = 77;
        else data.set([10, 20, 30, 255], i * 4);
      }
      return Promise.resolve({ width: 64, height: 64, channels: ch, data });
    };
    const words: NamedBytes = { name: 'tiny-imagenet-200/words.txt', bytes: new TextEncoder().encode(`${wnids[0]}\tgoldfish, Carassius auratus\n${wnids[2]}\tEuropean fire salamander\nn99\tunused\n`) };
    const ds = await parseTinyImagenet(memoryFileTree([...treeFiles(), words]), decode, { concurrency: 4 });
    // Class names from words.txt; an id it does not describe keeps its id.
    expect(ds.classNames).toEqual(['goldfish, Carassius auratus', wnids[1], 'European fire salamander']);
    pixelClose(ds, 'train', 0, [77, 77, 77]);
    pixelClose(ds, 'train', 1, [10, 20, 30]);
    const wrongSize = () => ({ width: 32, height: 64, channels: 3, data: new Uint8Array(32 * 64 * 3) });
    await expect(parseTinyImagenet(memoryFileTree(treeFiles()), wrongSize)).rejects.toThrow(/n01443537_0\.JPEG: 64×64 image expected, got 32×64/);
  });

  it('names the annotation line with an unknown wnid, and a corrupt JPEG', async () => {
    const ann = `val_0.JPEG\t${wnids[0]}\t0\t0\t1\t1\nval_1.JPEG\tn99999999\t0\t0\t1\t1\n`;
    await expect(parseTinyImagenet(memoryFileTree(treeFiles(ann)), () => ({ width: 64, height: 64, channels: 3, data: new Uint8Array(12288) }))).rejects.toThrow(
      /val_annotations\.txt: line 2 \("val_1\.JPEG\tn99999999.*"\): wnid n99999999 is not in wnids\.txt/,
    );
    const root = join(dir, 'tin-bad');
    const files = treeFiles().map((f) => (f.name.endsWith('val_2.JPEG') ? { name: f.name, bytes: new Uint8Array([0xff, 0xd8, 1, 2, 3]) } : f));
    await writeTree(root, files);
    await expect(loadDataset('tiny-imagenet', { path: root })).rejects.toThrow(/val\/images\/val_2\.JPEG: not an image/);
  });
});

describe('BatchLoader', () => {
  const cifar = parseCifar(cifar10Files.files, 'cifar10', LENIENT);

  it('counts batches with and without dropLast and returns the right shapes', () => {
    const l = new BatchLoader(cifar, 'train', { batchSize: 32 });
    expect(l.numBatches()).toBe(4);
    expect(new BatchLoader(cifar, 'train', { batchSize: 32, dropLast: true }).numBatches()).toBe(3);
    const last = l.batch(0, 3);
    expect(last.count).toBe(4);
    expect(last.images.length).toBe(4 * 3 * 32 * 32);
    expect(last.labels.length).toBe(4);
    expect(() => l.batch(0, 4)).toThrow(/index 4 out of range \[0, 4\) for cifar10 \(100 images, batch size 32\)/);
    expect(() => new BatchLoader(cifar, 'train', { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
  });

  it('is a pure function of (seed, epoch, index): reproducible in any call order', () => {
    const opts = { batchSize: 16, shuffle: true, augment: true, seed: 42 };
    const a = new BatchLoader(cifar, 'train', opts);
    const b = new BatchLoader(cifar, 'train', opts);
    const late = b.batch(3, 2); // fresh loader, straight to epoch 3
    a.batch(0, 0);
    a.batch(5, 1);
    const again = a.batch(3, 2);
    expectSame(again.images, late.images, 'images');
    expectSame(again.labels, late.labels, 'labels');
    expect(Array.from(a.batch(4, 2).labels)).not.toEqual(Array.from(late.labels));
    const other = new BatchLoader(cifar, 'train', { ...opts, seed: 43 }).batch(3, 2).images;
    expect(Buffer.from(other.buffer).equals(Buffer.from(late.images.buffer))).toBe(false);
  });

  it('visits every image exactly once per epoch, in a different order each epoch', () => {
    const l = new BatchLoader(cifar, 'train', { batchSize: 7, shuffle: true, seed: 1 });
    const orders: number[][] = [];
    for (const epoch of [0, 1]) {
      const seen: number[] = [];
      for (let i = 0; i < l.numBatches(); i++) {
        const b = l.batch(epoch, i);
        // Identify images by their first normalised pixel triple + label via the loader's own ordering.
        for (let n = 0; n < b.count; n++) seen.push(b.labels[n]);
      }
      orders.push(seen);
      expect([...seen].sort()).toEqual([...cifar10Files.labels].sort());
    }
    expect(orders[0]).not.toEqual(orders[1]);
    expect(Array.from(l.order(0)!).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('normalises to ~zero mean and unit std per channel on the train split', () => {
    const l = new BatchLoader(cifar, 'train', { batchSize: 25 });
    const sum = [0, 0, 0];
    const sq = [0, 0, 0];
    let n = 0;
    for (let i = 0; i < l.numBatches(); i++) {
      const b = l.batch(0, i);
      for (let k = 0; k < b.count; k++) {
        for (let c = 0; c < 3; c++) {
          for (let p = 0; p < 1024; p++) {
            const v = b.images[(k * 3 + c) * 1024 + p];
            sum[c] += v;
            sq[c] += v * v;
          }
        }
      }
      n += b.count * 1024;
    }
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(sum[c] / n)).toBeLessThan(1e-4);
      expect(sq[c] / n).toBeCloseTo(1, 3);
    }
    const mnist = loadMnist();
    const mb = new BatchLoader(mnist, 'train', { batchSize: 8000 }).batch(0, 0);
    expect(Math.abs(mb.images.reduce((s, v) => s + v, 0) / mb.images.length)).toBeLessThan(1e-3);
  });

  /** Naive reference: zero-pad by 4, crop at (dx, dy), optionally flip, then normalise. */
  function reference(ds: Dataset, k: number, dx: number, dy: number, flip: boolean): Float32Array {
    const { channels: C, height: H, width: W } = ds;
    const out = new Float32Array(C * H * W);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const sx = (flip ? W - 1 - x : x) + dx;
          const sy = y + dy;
          const v = sx >= 0 && sx < W && sy >= 0 && sy < H ? ds.train.images[((k * C + c) * H + sy) * W + sx] : 0;
          out[(c * H + y) * W + x] = (v / 255 - ds.mean[c]) / ds.std[c];
        }
      }
    }
    return out;
  }

  function matchAugmentation(ds: Dataset, loader: BatchLoader, flips: boolean[]): { shifted: number; flipped: number } {
    const b = loader.batch(2, 0);
    const order = loader.order(2)!;
    const size = ds.channels * ds.height * ds.width;
    let shifted = 0;
    let flipped = 0;
    for (let n = 0; n < b.count; n++) {
      const got = b.images.subarray(n * size, (n + 1) * size);
      let found: [number, number, boolean] | undefined;
      for (const flip of flips) {
        for (let dy = -4; dy <= 4 && !found; dy++) {
          for (let dx = -4; dx <= 4 && !found; dx++) {
            const ref = reference(ds, order[n], dx, dy, flip);
            if (ref.every((v, i) => Math.abs(v - got[i]) < 1e-5)) found = [dx, dy, flip];
          }
        }
      }
      expect(found, `image ${n} is not a pad-4 crop${flips.length > 1 ? ' (+flip)' : ''} of its source`).toBeDefined();
      if (found![0] !== 0 || found![1] !== 0) shifted++;
      if (found![2]) flipped++;
    }
    return { shifted, flipped };
  }

  it('augments with pad-4 random crops and flips (CIFAR) and crops only when asked (MNIST)', () => {
    const l = new BatchLoader(cifar, 'train', { batchSize: 12, shuffle: true, augment: true, seed: 5 });
    const r = matchAugmentation(cifar, l, [false, true]);
    expect(r.shifted).toBeGreaterThan(6);
    expect(r.flipped).toBeGreaterThan(1);
    expect(r.flipped).toBeLessThan(11);
    const mnist = loadMnist();
    const m = new BatchLoader(mnist, 'train', { batchSize: 12, shuffle: true, augment: { crop: true, flip: false }, seed: 5 });
    const rm = matchAugmentation(mnist, m, [false]);
    expect(rm.shifted).toBeGreaterThan(6);
    // Without augmentation the batch is the plain normalised images.
    const plain = new BatchLoader(cifar, 'test', { batchSize: 5 }).batch(0, 1);
    const ref = (k: number) => {
      const out = new Float32Array(3072);
      for (let i = 0; i < 3072; i++) out[i] = (cifar.test.images[k * 3072 + i] / 255 - cifar.mean[Math.floor(i / 1024)]) / cifar.std[Math.floor(i / 1024)];
      return out;
    };
    for (let n = 0; n < 5; n++) expect(Array.from(plain.images.subarray(n * 3072, (n + 1) * 3072))).toEqual(Array.from(ref(5 + n)));
    expect(Array.from(plain.labels)).toEqual(cifar10Files.testLabels.slice(5, 10));
  });
});
