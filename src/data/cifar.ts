// CIFAR-10 / CIFAR-100 official binary distributions (records already in CHW order, 32×32×3).
import { readArchive, type Inflate } from './tar.js';
import { channelStats, DatasetError, type Dataset, type DatasetSplit, type NamedBytes } from './types.js';

export type CifarKind = 'cifar10' | 'cifar100';
const PIXELS = 3 * 32 * 32;

interface Layout {
  folder: string;
  labelBytes: number;
  /** Which label byte is the class (CIFAR-100: coarse then fine; we use fine). */
  labelIndex: number;
  numClasses: number;
  train: string[];
  test: string[];
  /** Records per file in the official distribution (for error messages). */
  official: Record<string, number>;
  namesFile: string;
}

const LAYOUTS: Record<CifarKind, Layout> = {
  cifar10: {
    folder: 'cifar-10-batches-bin',
    labelBytes: 1,
    labelIndex: 0,
    numClasses: 10,
    train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    test: ['test_batch.bin'],
    official: { 'test_batch.bin': 10000, ...Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`data_batch_${i}.bin`, 10000])) },
    namesFile: 'batches.meta.txt',
  },
  cifar100: {
    folder: 'cifar-100-binary',
    labelBytes: 2,
    labelIndex: 1,
    numClasses: 100,
    train: ['train.bin'],
    test: ['test.bin'],
    official: { 'train.bin': 50000, 'test.bin': 10000 },
    namesFile: 'fine_label_names.txt',
  },
};

/** The layout of `kind`, refusing anything else (a JavaScript caller could pass "toString"). */
function layoutOf(kind: CifarKind, who: string): Layout {
  if (!Object.prototype.hasOwnProperty.call(LAYOUTS, kind)) throw new DatasetError(`${who}: unknown kind "${String(kind)}" (expected cifar10 or cifar100)`);
  return LAYOUTS[kind];
}

const basename = (p: string): string => p.slice(p.replace(/\\/g, '/').lastIndexOf('/') + 1);

export interface CifarOptions {
  /**
   * Require the official record counts (default true): 10,000 in every CIFAR-10 file, 50,000 in CIFAR-100's
   * train.bin and 10,000 in its test.bin, so a truncated or partial download is an error, never a silent subset.
   * false accepts any whole number of records (test fixtures, hand-made subsets), every file of a split the same size.
   */
  officialSizes?: boolean;
}

/** The file names (basenames) a CIFAR parse needs, e.g. for a Node loader to read them from a folder. */
export function cifarFileNames(kind: CifarKind): { required: string[]; optional: string[]; folder: string } {
  const l = layoutOf(kind, 'cifarFileNames');
  return { required: [...l.train, ...l.test], optional: [l.namesFile], folder: l.folder };
}

/**
 * The most bytes the official .tar of `kind` can inflate to: every batch file at its official size with its header
 * and block padding, plus 1 MiB for the small text files, directory entries and end blocks. Caps gunzip output.
 */
export function cifarArchiveMaxBytes(kind: CifarKind): number {
  const l = layoutOf(kind, 'cifarArchiveMaxBytes');
  const rec = l.labelBytes + PIXELS;
  const block = 512;
  const files = [...l.train, ...l.test].reduce((s, f) => s + block + Math.ceil((l.official[f] * rec) / block) * block, 0);
  return files + (1 << 20);
}

/**
 * Throws the strict-mode error when a file named `name` (basename one of the batch files) does not have the official
 * size. Lets a loader check sizes on disk before reading 180 MB.
 */
export function checkCifarFileSize(kind: CifarKind, name: string, byteLength: number): void {
  const layout = layoutOf(kind, 'checkCifarFileSize');
  const base = basename(name);
  if (!Object.prototype.hasOwnProperty.call(layout.official, base)) throw new DatasetError(`${name}: not a ${kind} batch file`);
  officialCount(kind, base, name, byteLength);
}

function officialCount(kind: CifarKind, base: string, name: string, n: number): number {
  const layout = LAYOUTS[kind];
  const rec = layout.labelBytes + PIXELS;
  const official = layout.official[base];
  if (n !== official * rec) {
    const found = n % rec === 0 ? `${n / rec} records` : 'not a whole number of records';
    throw new DatasetError(
      `${name}: ${n} bytes found (${found}), ${official * rec} expected: the official ${kind} ${base} holds exactly ${official} records of ${rec} bytes (truncated or partial download?)`,
    );
  }
  return official;
}

/** One batch file: `name` as given (for messages), its bytes. */
interface Batch {
  name: string;
  bytes: Uint8Array;
}

/** Record count of one batch file, checked against the official count (strict) or a sibling file (`sameAs`). */
function recordCount(kind: CifarKind, base: string, batch: Batch, strict: boolean, sameAs?: { file: string; count: number }): number {
  const layout = LAYOUTS[kind];
  const rec = layout.labelBytes + PIXELS;
  const official = layout.official[base];
  const n = batch.bytes.length;
  if (strict) return officialCount(kind, base, batch.name, n);
  if (sameAs && n !== sameAs.count * rec) {
    throw new DatasetError(`${batch.name}: ${sameAs.count * rec} bytes expected (${sameAs.count} records of ${rec}, like ${sameAs.file}), got ${n}`);
  }
  if (n === 0 || n % rec !== 0) {
    throw new DatasetError(
      `${batch.name}: ${official * rec} bytes expected (${official} records of ${rec}), got ${n}, which is not a whole number of records (truncated or not a CIFAR file?)`,
    );
  }
  return n / rec;
}

function split(kind: CifarKind, names: string[], byName: Map<string, Batch>, strict: boolean): DatasetSplit {
  const layout = LAYOUTS[kind];
  const rec = layout.labelBytes + PIXELS;
  const batches = names.map((base) => byName.get(base)!);
  // Lenient mode: every batch of a split has the first file's size (the official one if any file has it, so that a
  // truncated first file is named as such). Sizes are all checked before anything is allocated.
  const officialAt = names.findIndex((base, i) => batches[i].bytes.length === layout.official[base] * rec);
  const refAt = officialAt >= 0 ? officialAt : 0;
  const refCount = recordCount(kind, names[refAt], batches[refAt], strict);
  const counts = names.map((base, i) =>
    i === refAt ? refCount : recordCount(kind, base, batches[i], strict, { file: batches[refAt].name, count: refCount }),
  );
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint16Array(count);
  let n = 0;
  batches.forEach(({ name: file, bytes }, fi) => {
    for (let r = 0; r < counts[fi]; r++, n++) {
      const at = r * rec;
      if (layout.labelBytes === 2 && bytes[at] >= 20) {
        throw new DatasetError(`${file}: coarse label ${bytes[at]} of record ${r} (byte offset ${at}) is out of range [0, 20)`);
      }
      const label = bytes[at + layout.labelIndex];
      if (label >= layout.numClasses) {
        throw new DatasetError(`${file}: label ${label} of record ${r} (byte offset ${at}) is out of range [0, ${layout.numClasses})`);
      }
      labels[n] = label;
      images.set(bytes.subarray(at + layout.labelBytes, at + rec), n * PIXELS);
    }
  });
  return { images, labels, count };
}

/**
 * CIFAR-10 (data_batch_1..5.bin + test_batch.bin) or CIFAR-100 (train.bin + test.bin) from the official binary
 * files. Names may carry folders; only the basename is matched (errors give the name as passed). Class names come
 * from batches.meta.txt / fine_label_names.txt when present. Record counts must be the official ones unless
 * `options.officialSizes` is false. `bytes` may be any view (Node Buffers, subarrays).
 */
export function parseCifar(files: NamedBytes[], kind: CifarKind, options: CifarOptions = {}): Dataset {
  const layout = layoutOf(kind, 'parseCifar');
  const strict = options.officialSizes ?? true;
  const byName = new Map<string, Batch>();
  for (const f of files) {
    const base = basename(f.name);
    const seen = byName.get(base);
    if (seen && [...layout.train, ...layout.test, layout.namesFile].includes(base)) {
      throw new DatasetError(`${kind}: ${base} given twice (${seen.name} and ${f.name})`);
    }
    byName.set(base, { name: f.name, bytes: f.bytes });
  }
  const missing = [...layout.train, ...layout.test].filter((n) => !byName.has(n));
  if (missing.length > 0) {
    const have = [...byName.keys()].slice(0, 12).join(', ') || 'no files';
    throw new DatasetError(`${kind}: missing ${missing.join(', ')} (the ${layout.folder} files; got ${have})`);
  }
  // Every official size is checked before the first split allocates anything.
  if (strict) for (const base of [...layout.train, ...layout.test]) officialCount(kind, base, byName.get(base)!.name, byName.get(base)!.bytes.length);
  const train = split(kind, layout.train, byName, strict);
  const test = split(kind, layout.test, byName, strict);
  let classNames: string[] | undefined;
  const namesFile = byName.get(layout.namesFile);
  if (namesFile) {
    const names = new TextDecoder().decode(namesFile.bytes).split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length !== layout.numClasses) {
      throw new DatasetError(`${namesFile.name}: ${layout.numClasses} class names expected, got ${names.length}`);
    }
    classNames = names;
  }
  const { mean, std } = channelStats(train, 3);
  return { name: kind, numClasses: layout.numClasses, channels: 3, height: 32, width: 32, train, test, mean, std, classNames };
}

/**
 * CIFAR straight from the downloaded cifar-10-binary.tar.gz / cifar-100-binary.tar.gz (or an uncompressed .tar).
 * Gzip output is capped at cifarArchiveMaxBytes(kind).
 */
export async function parseCifarArchive(bytes: Uint8Array, archive: string, kind: CifarKind, inflate?: Inflate, options: CifarOptions = {}): Promise<Dataset> {
  layoutOf(kind, 'parseCifarArchive');
  const files = await readArchive(bytes, archive, inflate, cifarArchiveMaxBytes(kind));
  try {
    return parseCifar(files, kind, options);
  } catch (e) {
    if (e instanceof DatasetError) throw new DatasetError(`${archive}: ${e.message}`);
    throw e;
  }
}
