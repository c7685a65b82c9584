// Node-only dataset loading from disk (folders or downloaded archives). Browsers use the parsers in index.ts directly.
import { kMaxLength } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pathKind, readFileBytes } from '../platform/files-node.js';
import { cachedDataset, datasetCacheDir } from './cache-node.js';
import { checkCifarFileSize, cifarFileNames, parseCifar, parseCifarArchive, type CifarKind, type CifarOptions } from './cifar.js';
import { sharedDecodePool } from './decode-pool-node.js';
import type { FashionMnistOptions } from './fashion-mnist-node.js';
import type { ImageFolderOptions } from './imagefolder-node.js';
import { isGzip, tooLarge } from './tar.js';
import { parseTinyImagenet, type FileTree, type TinyImagenetOptions } from './tinyimagenet.js';
import { DATASETS, DatasetError, type Dataset, type NamedBytes } from './types.js';

const SOURCES: Record<string, string> = {
  cifar10: 'the extracted cifar-10-batches-bin folder or cifar-10-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html)',
  cifar100: 'the extracted cifar-100-binary folder or cifar-100-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html)',
  'tiny-imagenet': 'the extracted tiny-imagenet-200 folder (http://cs231n.stanford.edu/tiny-imagenet-200.zip)',
  imagefolder: 'a folder in the ImageFolder layout: DIR/train/<class>/<images> and DIR/val/<class>/<images>, or DIR/<class>/<images> with --val-fraction',
  imagenet: 'the ILSVRC-2012 folder with train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (validation images sorted into class folders)',
};

/**
 * zlib is several times faster than DecompressionStream on the 160 MB CIFAR archives. Output past
 * `maxOutputLength` bytes is refused by zlib itself, before it is allocated.
 */
export function gunzipNode(bytes: Uint8Array, archive: string, maxOutputLength: number = kMaxLength): Uint8Array {
  if (!isGzip(bytes)) {
    const magic = Array.from(bytes.subarray(0, 2), (x) => x.toString(16).padStart(2, '0')).join(' ') || '(empty)';
    throw new DatasetError(`${archive}: not a gzip file (magic bytes ${magic}, expected 1f 8b)`);
  }
  const limit = Math.max(1, Math.min(Math.floor(maxOutputLength), kMaxLength));
  try {
    const out = gunzipSync(bytes, { maxOutputLength: limit });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(archive, limit);
    throw new DatasetError(`${archive}: corrupt gzip data (${e instanceof Error ? e.message : String(e)})`);
  }
}

async function loadCifar(kind: CifarKind, path: string, options: CifarOptions): Promise<Dataset> {
  const kindOfPath = await pathKind(path);
  if (kindOfPath === undefined) throw new DatasetError(`${path}: not found (${kind} needs ${SOURCES[kind]})`);
  if (kindOfPath === 'file') return parseCifarArchive(await readFileBytes(path, `${kind} archive`), path, kind, gunzipNode, options);
  const { required, optional, folder } = cifarFileNames(kind);
  // Accept the batches folder itself or the folder that contains it.
  const dir = (await pathKind(join(path, folder))) === 'dir' ? join(path, folder) : path;
  const files: NamedBytes[] = [];
  for (const name of required) {
    const p = join(dir, name);
    if ((await pathKind(p)) !== 'file') throw new DatasetError(`${p}: ${kind} batch file not found (${kind} needs ${SOURCES[kind]})`);
  }
  // Sizes first, from the file system: a short file is reported before 180 MB are read.
  if (options.officialSizes ?? true) {
    for (const name of required) checkCifarFileSize(kind, join(dir, name), (await stat(join(dir, name))).size);
  }
  for (const name of required) {
    const p = join(dir, name);
    // The full path as the name, so that errors say which file on disk is at fault.
    files.push({ name: p, bytes: await readFileBytes(p, `${kind} batch file`) });
  }
  for (const name of optional) {
    const p = join(dir, name);
    if ((await pathKind(p)) === 'file') files.push({ name: p, bytes: await readFileBytes(p) });
  }
  return parseCifar(files, kind, options);
}

/** A FileTree over a folder on disk; paths are relative to `root` with '/' separators. */
export async function directoryFileTree(root: string): Promise<FileTree> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const list = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(root.length).replace(/\\/g, '/').replace(/^\/+/, ''));
  return { list: () => list, read: (p) => readFileBytes(join(root, p), 'image') };
}

export interface TinyImagenetNodeOptions extends TinyImagenetOptions {
  /**
   * The file that caches the decoded images (decoding 110k JPEGs takes a while even with sharp), or false for none.
   * Default: `tiny-imagenet-<folder hash>-<maxPerClass|all>.bin` in datasetCacheDir() (`$XDG_CACHE_HOME/onelayer`
   * or `~/.cache/onelayer`). The cache is keyed on wnids.txt, val/val_annotations.txt and words.txt (contents) and
   * on every image's path, size and modification time, so editing the data set rebuilds it.
   */
  cache?: string | false;
}

/** Text files whose contents decide labels, hashed whole into the cache key. */
const TINY_TEXT = ['wnids.txt', 'val/val_annotations.txt', 'words.txt'];

/** The cache key of a Tiny ImageNet folder: a SHA-256 over what the decoded dataset depends on. */
async function tinyImagenetKey(root: string, files: string[], maxPerClass: number | undefined): Promise<string> {
  const hash = createHash('sha256');
  // Bump the tag when decoding changes (decoder, layout of the decoded arrays).
  hash.update(`onelayer tiny-imagenet cache 2, sharp, maxPerClass ${maxPerClass ?? 'all'}\0`);
  for (const f of TINY_TEXT) {
    const p = join(root, f);
    if ((await pathKind(p)) !== 'file') {
      hash.update(`${f} absent\0`);
      continue;
    }
    const bytes = await readFileBytes(p, 'Tiny ImageNet text file');
    hash.update(`${f} ${bytes.length}\0`);
    hash.update(bytes);
  }
  const images = files.filter((p) => /\.jpe?g$/i.test(p)).sort();
  // stat() in parallel batches: 110k sequential stats would take seconds.
  for (let i = 0; i < images.length; i += 256) {
    const batch = images.slice(i, i + 256);
    const stats = await Promise.all(
      batch.map((p) =>
        stat(join(root, p)).catch((e: Error) => {
          throw new DatasetError(`${join(root, p)}: cannot read image (${e.message})`);
        }),
      ),
    );
    batch.forEach((p, k) => hash.update(`${p}\0${stats[k].size}\0${stats[k].mtimeMs}\0`));
  }
  return hash.digest('hex');
}

async function loadTinyImagenet(path: string, options: TinyImagenetNodeOptions): Promise<Dataset> {
  if ((await pathKind(path)) !== 'dir') throw new DatasetError(`${path}: not a folder (tiny-imagenet needs ${SOURCES['tiny-imagenet']})`);
  const nested = join(path, 'tiny-imagenet-200');
  const root = (await pathKind(join(nested, 'wnids.txt'))) === 'file' ? nested : path;
  if ((await pathKind(join(root, 'wnids.txt'))) !== 'file') throw new DatasetError(`${join(root, 'wnids.txt')}: not found (tiny-imagenet needs ${SOURCES['tiny-imagenet']})`);
  const { cache, ...parseOptions } = options;
  const tree = await directoryFileTree(root);
  // Earlier versions cached inside the data folder: never read those files as data.
  const files = (await tree.list()).filter((p) => !p.startsWith('.onelayer-cache/'));
  const filtered: FileTree = { list: () => files, read: tree.read };
  const make = async () => {
    // Decoded by sharp in the decoding threads; enough images in flight to keep every thread busy.
    const pool = sharedDecodePool();
    return parseTinyImagenet(filtered, (bytes, name) => pool.decodeRgb(bytes, name, 64 * 64), { concurrency: 4 * pool.threads, ...parseOptions });
  };
  if (cache === false) return make();
  // One file per folder and subset (named by the folder, not the key), so that a rebuild replaces the stale file.
  const id = createHash('sha256').update(resolve(root)).digest('hex').slice(0, 16);
  const cachePath = cache ?? join(datasetCacheDir(), `tiny-imagenet-${id}-${options.maxPerClass ?? 'all'}.bin`);
  return cachedDataset(cachePath, await tinyImagenetKey(root, files, options.maxPerClass), make);
}

export interface LoadDatasetOptions {
  /** Folder or archive of the dataset (ignored for mnist and fashion-mnist, which come from packages). */
  path?: string;
  imageFolder?: ImageFolderOptions;
  fashionMnist?: FashionMnistOptions;
  tinyImagenet?: TinyImagenetNodeOptions;
  /** CIFAR options; official record counts are required unless `cifar.officialSizes` is false. */
  cifar?: CifarOptions;
}

/**
 * Loads a dataset by name: mnist is embedded and fashion-mnist comes from its optional package (path ignored); the
 * others read `path` (folder or archive). imagefolder is streamed: call `dataset.close?.()` when done with it.
 */
export async function loadDataset(name: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  if (!(DATASETS as readonly string[]).includes(name)) throw new DatasetError(`unknown dataset "${name}" (expected one of ${DATASETS.join(', ')})`);
  if (name === 'mnist') return (await import('./mnist.js')).loadMnist();
  if (name === 'fashion-mnist') return (await import('./fashion-mnist-node.js')).loadFashionMnist(options.fashionMnist);
  const path = options.path;
  if (!path) throw new DatasetError(`${name}: a data path is required (--data): ${SOURCES[name]}`);
  if (name === 'imagefolder') return (await import('./imagefolder-node.js')).loadImageFolder(path, options.imageFolder);
  if (name === 'imagenet') return (await import('./imagefolder-node.js')).loadImageNet(path, options.imageFolder);
  if (name === 'tiny-imagenet') return loadTinyImagenet(path, options.tinyImagenet ?? {});
  return loadCifar(name as CifarKind, path, options.cifar ?? {});
}
