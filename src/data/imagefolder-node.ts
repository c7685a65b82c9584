// Node-only: torchvision's ImageFolder layout, streamed from disk through the decoding pool.
//   DIR/train/<class>/**/<image>  and  DIR/val/<class>/**/<image>      or      DIR/<class>/**/<image> + --val-fraction
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { makeDirs, pathKind, readFileText } from '../platform/files-node.js';
import { DecodePool, sharedDecodePool } from './decode-pool-node.js';
import { compareCodePoints, hasImageExtension, IMAGE_EXTENSIONS, IMAGENET_MEAN, IMAGENET_STD, parseSynsetNames, splitByFraction } from './imagefolder.js';
import { StreamLoader, type StreamedSplit } from './stream-loader-node.js';
import { DatasetError, type Dataset, type LoaderOptions } from './types.js';

export interface ImageFolderOptions {
  /** Output side S (default 224): training images are random-resized crops of S × S, evaluation images centre crops. */
  imageSize?: number;
  /** Without DIR/train and DIR/val: the fraction of each class held out for evaluation (a fixed, seeded choice). */
  valFraction?: number;
  /** The decoding pool (default: the process's shared one). */
  pool?: DecodePool;
  /** Whole batches decoded ahead (default: StreamLoader's). */
  prefetch?: number;
  /**
   * Folder of an on-disk cache of the decoded, resized, centre-cropped images that evaluation (and training with
   * --no-augment) reads, so that later passes skip decoding; false for none. Default: $ONELAYER_IMAGE_CACHE when
   * set, else none. Entries are keyed on each image's path, size and mtime and the image size, and checked on
   * every read (see decode-worker-node.ts). Training's random crops are not cached.
   */
  cacheDir?: string | false;
}

/** The image cache's folder, absolute: options.cacheDir, else $ONELAYER_IMAGE_CACHE, else none; made when missing. */
async function imageCacheDir(option: string | false | undefined, env: Record<string, string | undefined> = process.env): Promise<string | undefined> {
  const [dir, from] = option === undefined ? [env.ONELAYER_IMAGE_CACHE, 'ONELAYER_IMAGE_CACHE'] : [option, 'cacheDir'];
  if (!dir) return undefined;
  const abs = resolve(dir);
  try {
    await makeDirs(abs);
  } catch (e) {
    throw new DatasetError(`${abs}: cannot create the image cache folder (${from}): ${(e as Error).message}`);
  }
  return abs;
}

const EXPECTED = `the ImageFolder layout: DIR/train/<class>/<images> and DIR/val/<class>/<images>, or DIR/<class>/<images> with --val-fraction; images ${IMAGE_EXTENSIONS.join(' ')}`;

const hidden = (name: string) => name.startsWith('.');

/** The sub-folders of `dir` (symbolic links followed), hidden ones skipped; other entries are ignored. */
async function classFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    if (hidden(e.name)) continue;
    if (e.isDirectory() || (e.isSymbolicLink() && (await pathKind(join(dir, e.name))) === 'dir')) out.push(e.name);
  }
  return out.sort(compareCodePoints);
}

/**
 * Image files below a class folder, as torchvision lists them: a folder's files in code-point order, then its
 * sub-folders (symbolic links followed) in code-point order. Any other file is an error; hidden entries are skipped.
 */
async function imagesBelow(dir: string, rel = ''): Promise<string[]> {
  const entries = (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => compareCodePoints(a.name, b.name));
  const files: string[] = [];
  const folders: string[] = [];
  for (const e of entries) {
    if (hidden(e.name)) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    const kind = e.isSymbolicLink() ? await pathKind(join(dir, r)) : e.isDirectory() ? 'dir' : 'file';
    if (kind === 'dir') folders.push(r);
    else if (kind === 'file') {
      if (!hasImageExtension(e.name)) throw new DatasetError(`${join(dir, r)}: not an image file (expected one of the extensions ${IMAGE_EXTENSIONS.join(' ')}, any case; the folder layout is ${EXPECTED})`);
      files.push(join(dir, r));
    }
  }
  for (const f of folders) files.push(...(await imagesBelow(dir, f)));
  return files;
}

/** Every image of `dir`'s class folders, labelled by `classes` (the class list comes from the training folder). */
async function scanSplit(dir: string, classes: string[], own: string[], pool: DecodePool): Promise<StreamedSplit> {
  // Labels are 16-bit.
  if (classes.length > 65536) throw new DatasetError(`${dir}: ${classes.length} class folders, at most 65536 supported`);
  const paths: string[] = [];
  const labels: number[] = [];
  for (const name of own) {
    const c = classes.indexOf(name);
    if (c < 0) throw new DatasetError(`${join(dir, name)}: class folder '${name}' is not one of the ${classes.length} training classes`);
    const images = await imagesBelow(join(dir, name));
    if (images.length === 0) throw new DatasetError(`${join(dir, name)}: class folder holds no images (expected files ending in ${IMAGE_EXTENSIONS.join(' ')})`);
    for (const p of images) {
      paths.push(p);
      labels.push(c);
    }
  }
  // Every file's first bytes, read in the decoding threads: a file that is no image fails here, before training.
  await pool.checkImages(paths);
  return { paths, labels: Uint16Array.from(labels) };
}

function pick(split: StreamedSplit, idx: number[]): StreamedSplit {
  return { paths: idx.map((i) => split.paths[i]), labels: Uint16Array.from(idx, (i) => split.labels[i]) };
}

/**
 * An image folder as a streamed Dataset: class k = the k-th class folder name in code-point order; the images stay
 * on disk and are decoded batch by batch (Dataset.makeLoader). Errors name the path at fault.
 */
export async function loadImageFolder(path: string, options: ImageFolderOptions = {}): Promise<Dataset> {
  const size = options.imageSize ?? 224;
  if (!(Number.isInteger(size) && size >= 1 && size <= 4096)) throw new DatasetError(`--image-size must be an integer in [1, 4096], got ${size}`);
  const root = resolve(path);
  if ((await pathKind(root)) !== 'dir') throw new DatasetError(`${root}: not a folder (imagefolder needs ${EXPECTED})`);
  const trainDir = join(root, 'train');
  const valDir = join(root, 'val');
  const hasTrain = (await pathKind(trainDir)) === 'dir';
  const hasVal = (await pathKind(valDir)) === 'dir';
  const fraction = options.valFraction;
  const pool = options.pool ?? sharedDecodePool();
  const cacheDir = await imageCacheDir(options.cacheDir);
  let classes: string[];
  let train: StreamedSplit;
  let test: StreamedSplit;
  if (hasTrain && hasVal) {
    if (fraction !== undefined) throw new DatasetError(`${root}: has train/ and val/ folders, so --val-fraction ${fraction} does not apply (drop it, or point --data at one folder of classes)`);
    classes = await classFolders(trainDir);
    if (classes.length === 0) throw new DatasetError(`${trainDir}: no class folders (expected ${EXPECTED})`);
    train = await scanSplit(trainDir, classes, classes, pool);
    const valClasses = await classFolders(valDir);
    if (valClasses.length === 0) throw new DatasetError(`${valDir}: no class folders (expected ${EXPECTED})`);
    test = await scanSplit(valDir, classes, valClasses, pool);
  } else {
    if (hasVal) throw new DatasetError(`${trainDir}: not found, though ${valDir} is there (expected ${EXPECTED})`);
    const dir = hasTrain ? trainDir : root;
    if (hasTrain && fraction === undefined) throw new DatasetError(`${valDir}: not found; add it (${EXPECTED}) or pass --val-fraction F to hold out a fraction F of ${trainDir}`);
    classes = await classFolders(dir);
    if (classes.length === 0) throw new DatasetError(`${dir}: no class folders (expected ${EXPECTED})`);
    if (fraction === undefined) throw new DatasetError(`${root}: has no train/ and val/ folders; pass --val-fraction F (e.g. 0.1) to hold out that fraction of each class of ${dir} for evaluation, or use ${EXPECTED}`);
    const all = await scanSplit(dir, classes, classes, pool);
    const { train: t, val: v } = splitByFraction(all.labels, classes.length, fraction);
    if (v.length === 0) throw new DatasetError(`${dir}: --val-fraction ${fraction} holds out no image (${all.paths.length} images in ${classes.length} classes)`);
    train = pick(all, t);
    test = pick(all, v);
  }
  const splits = { train, test };
  const empty = new Uint8Array(0);
  const ds: Dataset = {
    name: 'imagefolder',
    numClasses: classes.length,
    channels: 3,
    height: size,
    width: size,
    train: { images: empty, labels: train.labels, count: train.paths.length },
    test: { images: empty, labels: test.labels, count: test.paths.length },
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    classNames: classes,
    makeLoader: (split: 'train' | 'test', o: LoaderOptions) =>
      new StreamLoader(pool, splits[split], { ...o, augment: o.augment !== false && o.augment !== undefined, size, mean: IMAGENET_MEAN, std: IMAGENET_STD, prefetch: options.prefetch, name: `imagefolder ${split} (${root})`, cacheDir }),
    close: () => (options.pool ? Promise.resolve() : pool.close()),
  };
  return ds;
}

/**
 * ImageNet (ILSVRC-2012) in the usual layout, DIR/train/<wnid>/*.JPEG and DIR/val/<wnid>/*.JPEG (the validation
 * images sorted into class folders, as torchvision's ImageNet and most training scripts expect): an image folder
 * whose class names come from LOC_synset_mapping.txt (in DIR or up to three folders above it) when there is one.
 */
export async function loadImageNet(path: string, options: ImageFolderOptions = {}): Promise<Dataset> {
  const root = resolve(path);
  const val = join(root, 'val');
  if ((await pathKind(val)) === 'dir' && (await classFolders(val)).length === 0) {
    throw new DatasetError(`${val}: no class folders. ImageNet's validation images ship in one folder; sort them into val/<wnid>/ first (LOC_val_solution.csv names each image's wnid)`);
  }
  const ds = await loadImageFolder(root, options);
  let mapping: string | undefined;
  for (let d = root, i = 0; i < 4; i++, d = dirname(d)) {
    if ((await pathKind(join(d, 'LOC_synset_mapping.txt'))) === 'file') {
      mapping = join(d, 'LOC_synset_mapping.txt');
      break;
    }
  }
  if (!mapping) return { ...ds, name: 'imagenet' };
  const names = parseSynsetNames(await readFileText(mapping, 'synset mapping'), mapping);
  const classNames = (ds.classNames ?? []).map((w) => {
    const n = names.get(w);
    if (n === undefined) throw new DatasetError(`${mapping}: has no line for the class folder ${w}`);
    return n;
  });
  return { ...ds, name: 'imagenet', classNames };
}
