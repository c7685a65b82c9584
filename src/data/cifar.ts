// CIFAR-10 / CIFAR-100 official binary distributions (records already in CHW order, 32×32×3).
import { readArchive } from './tar.js';
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

const basename = (p: string): string => p.slice(p.replace(/\\/g, '/').lastIndexOf('/') + 1);

/** The file names (basenames) a CIFAR parse needs, e.g. for a Node loader to read them from a folder. */
export function cifarFileNames(kind: CifarKind): { required: string[]; optional: string[]; folder: string } {
  const l = LAYOUTS[kind];
  return { required: [...l.train, ...l.test], optional: [l.namesFile], folder: l.folder };
}

/** Record count of one batch file, with errors that give the expected size. `sameAs` pins the count to a sibling. */
function recordCount(file: string, bytes: Uint8Array, layout: Layout, sameAs?: { file: string; count: number }): number {
  const rec = layout.labelBytes + PIXELS;
  const official = layout.official[file];
  if (sameAs && bytes.length !== sameAs.count * rec) {
    throw new DatasetError(
      `${file}: ${sameAs.count * rec} bytes expected (${sameAs.count} records of ${rec}, like ${sameAs.file}), got ${bytes.length}`,
    );
  }
  if (bytes.length === 0 || bytes.length % rec !== 0) {
    throw new DatasetError(
      `${file}: ${official * rec} bytes expected (${official} records of ${rec}), got ${bytes.length}, which is not a whole number of records (truncated or not a CIFAR file?)`,
    );
  }
  return bytes.length / rec;
}

function split(kind: CifarKind, names: string[], byName: Map<string, Uint8Array>): DatasetSplit {
  const layout = LAYOUTS[kind];
  const rec = layout.labelBytes + PIXELS;
  // All batches of a split have the same size: the official one if any file has it (then a truncated first file
  // is named as such), else the first file's (small test fixtures).
  const officialFile = names.find((f) => byName.get(f)!.length === layout.official[f] * rec);
  const ref = officialFile ?? names[0];
  const refCount = recordCount(ref, byName.get(ref)!, layout);
  const counts = names.map((file) => (file === ref ? refCount : recordCount(file, byName.get(file)!, layout, { file: ref, count: refCount })));
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint16Array(count);
  let n = 0;
  names.forEach((file, fi) => {
    const bytes = byName.get(file)!;
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
 * files. Names may carry folders; only the basename is matched. Class names come from batches.meta.txt /
 * fine_label_names.txt when present.
 */
export function parseCifar(files: NamedBytes[], kind: CifarKind): Dataset {
  const layout = LAYOUTS[kind];
  if (!layout) throw new DatasetError(`parseCifar: unknown kind "${String(kind)}" (expected cifar10 or cifar100)`);
  const byName = new Map<string, Uint8Array>();
  for (const f of files) byName.set(basename(f.name), f.bytes);
  const missing = [...layout.train, ...layout.test].filter((n) => !byName.has(n));
  if (missing.length > 0) {
    const have = [...byName.keys()].slice(0, 12).join(', ') || 'no files';
    throw new DatasetError(`${kind}: missing ${missing.join(', ')} (the ${layout.folder} files; got ${have})`);
  }
  const train = split(kind, layout.train, byName);
  const test = split(kind, layout.test, byName);
  let classNames: string[] | undefined;
  const namesBytes = byName.get(layout.namesFile);
  if (namesBytes) {
    const names = new TextDecoder().decode(namesBytes).split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length !== layout.numClasses) {
      throw new DatasetError(`${layout.namesFile}: ${layout.numClasses} class names expected, got ${names.length}`);
    }
    classNames = names;
  }
  const { mean, std } = channelStats(train, 3);
  return { name: kind, numClasses: layout.numClasses, channels: 3, height: 32, width: 32, train, test, mean, std, classNames };
}

/** CIFAR straight from the downloaded cifar-10-binary.tar.gz / cifar-100-binary.tar.gz (or an uncompressed .tar). */
export async function parseCifarArchive(
  bytes: Uint8Array,
  archive: string,
  kind: CifarKind,
  inflate?: (bytes: Uint8Array, archive: string) => Uint8Array | Promise<Uint8Array>,
): Promise<Dataset> {
  const files = await readArchive(bytes, archive, inflate);
  try {
    return parseCifar(files, kind);
  } catch (e) {
    if (e instanceof DatasetError) throw new DatasetError(`${archive}: ${e.message}`);
    throw e;
  }
}
