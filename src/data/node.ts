// Node-only dataset loading from disk (folders or downloaded archives). Browsers use the parsers in index.ts directly.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pathKind, readFileBytes } from '../node/files.js';
import { cachedDataset } from './cache-node.js';
import { cifarFileNames, parseCifar, parseCifarArchive, type CifarKind } from './cifar.js';
import { parseTinyImagenet, type DecodedImage, type FileTree, type TinyImagenetOptions } from './tinyimagenet.js';
import { DATASETS, DatasetError, type Dataset, type NamedBytes } from './types.js';

const SOURCES: Record<string, string> = {
  cifar10: 'the extracted cifar-10-batches-bin folder or cifar-10-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html)',
  cifar100: 'the extracted cifar-100-binary folder or cifar-100-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html)',
  'tiny-imagenet': 'the extracted tiny-imagenet-200 folder (http://cs231n.stanford.edu/tiny-imagenet-200.zip)',
};

/** zlib is several times faster than DecompressionStream on the 160 MB CIFAR archives. */
export function gunzipNode(bytes: Uint8Array, archive: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new DatasetError(`${archive}: corrupt gzip data (${(e as Error).message})`);
  }
}

async function loadCifar(kind: CifarKind, path: string): Promise<Dataset> {
  const kindOfPath = await pathKind(path);
  if (kindOfPath === undefined) throw new DatasetError(`${path}: not found (${kind} needs ${SOURCES[kind]})`);
  if (kindOfPath === 'file') return parseCifarArchive(await readFileBytes(path, `${kind} archive`), path, kind, gunzipNode);
  const { required, optional, folder } = cifarFileNames(kind);
  // Accept the batches folder itself or the folder that contains it.
  const dir = (await pathKind(join(path, folder))) === 'dir' ? join(path, folder) : path;
  const files: NamedBytes[] = [];
  for (const name of required) {
    const p = join(dir, name);
    if ((await pathKind(p)) !== 'file') throw new DatasetError(`${p}: ${kind} batch file not found (${kind} needs ${SOURCES[kind]})`);
    files.push({ name, bytes: await readFileBytes(p, `${kind} batch file`) });
  }
  for (const name of optional) {
    const p = join(dir, name);
    if ((await pathKind(p)) === 'file') files.push({ name, bytes: await readFileBytes(p) });
  }
  return parseCifar(files, kind);
}

/** A FileTree over a folder on disk; paths are relative to `root` with '/' separators. */
export async function directoryFileTree(root: string): Promise<FileTree> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const list = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(root.length).replace(/\\/g, '/').replace(/^\/+/, ''));
  return { list: () => list, read: (p) => readFileBytes(join(root, p), 'image') };
}

/** jpeg-js decoder (pure JS; RGB out, grayscale JPEGs already expanded to 3 channels). */
export async function jpegDecoder(): Promise<(bytes: Uint8Array, name: string) => DecodedImage> {
  const jpeg = await import('jpeg-js');
  return (bytes, name) => {
    try {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      return { width: img.width, height: img.height, channels: 3, data: img.data };
    } catch (e) {
      throw new DatasetError(`${name}: cannot decode JPEG (${(e as Error).message})`);
    }
  };
}

export interface TinyImagenetNodeOptions extends TinyImagenetOptions {
  /**
   * Where to cache the decoded images (decoding 110k JPEGs with jpeg-js takes minutes). Default
   * `<root>/.onelayer-cache/tiny-imagenet-<maxPerClass|all>.bin`; false disables. The cache is keyed on the file
   * count, wnids.txt and maxPerClass: delete it after editing images in place.
   */
  cache?: string | false;
}

async function loadTinyImagenet(path: string, options: TinyImagenetNodeOptions): Promise<Dataset> {
  if ((await pathKind(path)) !== 'dir') throw new DatasetError(`${path}: not a folder (tiny-imagenet needs ${SOURCES['tiny-imagenet']})`);
  const nested = join(path, 'tiny-imagenet-200');
  const root = (await pathKind(join(nested, 'wnids.txt'))) === 'file' ? nested : path;
  if ((await pathKind(join(root, 'wnids.txt'))) !== 'file') throw new DatasetError(`${join(root, 'wnids.txt')}: not found (tiny-imagenet needs ${SOURCES['tiny-imagenet']})`);
  const { cache, ...parseOptions } = options;
  const tree = await directoryFileTree(root);
  const files = (await tree.list()).filter((p) => !p.startsWith('.onelayer-cache/'));
  const key = JSON.stringify({ files: files.length, wnids: new TextDecoder().decode(await readFileBytes(join(root, 'wnids.txt'))), max: options.maxPerClass ?? null });
  const cachePath = cache === false ? undefined : (cache ?? join(root, '.onelayer-cache', `tiny-imagenet-${options.maxPerClass ?? 'all'}.bin`));
  const filtered: FileTree = { list: () => files, read: tree.read };
  return cachedDataset(cachePath, key, async () => parseTinyImagenet(filtered, await jpegDecoder(), { concurrency: 1, ...parseOptions }));
}

/** Loads a dataset by name: mnist is embedded (path ignored); the others read `path` (folder or archive). */
export async function loadDataset(name: string, options: { path?: string; tinyImagenet?: TinyImagenetNodeOptions } = {}): Promise<Dataset> {
  if (!(DATASETS as readonly string[]).includes(name)) throw new DatasetError(`unknown dataset "${name}" (expected one of ${DATASETS.join(', ')})`);
  if (name === 'mnist') return (await import('./mnist.js')).loadMnist();
  const path = options.path;
  if (!path) throw new DatasetError(`${name}: a data path is required: ${SOURCES[name]}`);
  if (name === 'tiny-imagenet') return loadTinyImagenet(path, options.tinyImagenet ?? {});
  return loadCifar(name as CifarKind, path);
}
