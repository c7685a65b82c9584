// Tiny ImageNet (tiny-imagenet-200) official layout; JPEG decoding is injected (sharp in the decoding threads in Node, createImageBitmap in browsers).
import { parseSynsetNames } from './imagefolder.js';
import { channelStats, DatasetError, type Dataset, type DatasetSplit, type NamedBytes } from './types.js';

/** Interleaved (HWC) pixels with 1 (gray), 3 (RGB) or 4 (RGBA) channels. */
export interface DecodedImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array | Uint8ClampedArray;
}
export type ImageDecoder = (bytes: Uint8Array, name: string) => DecodedImage | Promise<DecodedImage>;

/** A read-only file tree: paths use '/', relative to any root; the folder holding wnids.txt is found by the parser. */
export interface FileTree {
  list(): string[] | Promise<string[]>;
  read(path: string): Uint8Array | Promise<Uint8Array>;
}

export interface TinyImagenetOptions {
  /** Use at most this many training images per class (a quick subset); the val split is kept whole. */
  maxPerClass?: number;
  /** Images decoded concurrently when the decoder is asynchronous. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

const SIZE = 64;
const PLANE = SIZE * SIZE;

/** A FileTree over bytes already in memory (tests, or files picked in a browser and read up front). */
export function memoryFileTree(files: NamedBytes[]): FileTree {
  const map = new Map(files.map((f) => [f.name.replace(/\\/g, '/'), f.bytes]));
  return {
    list: () => [...map.keys()],
    read: (path) => {
      const b = map.get(path);
      if (!b) throw new DatasetError(`${path}: file not found`);
      return b;
    },
  };
}

export interface BrowserDecoderOptions {
  /** Decode straight to width × height (createImageBitmap's resizeWidth / resizeHeight); both or neither. */
  width?: number;
  height?: number;
  /** createImageBitmap's resizeQuality (default 'high'). */
  resizeQuality?: ResizeQuality;
}

/**
 * A decoder for browsers and workers (RGBA out): createImageBitmap decodes, and with `width` and `height` resizes in
 * the same step (an image already of that size is not resampled); one OffscreenCanvas, reused, reads the pixels.
 */
export function createBrowserImageDecoder(options: BrowserDecoderOptions = {}): ImageDecoder {
  const { width, height } = options;
  if ((width === undefined) !== (height === undefined)) throw new DatasetError('createBrowserImageDecoder: give both width and height, or neither');
  for (const v of [width, height]) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= 16384)) throw new DatasetError(`createBrowserImageDecoder: width and height must be integers in [1, 16384], got ${v}`);
  }
  const resize: ImageBitmapOptions = width === undefined ? {} : { resizeWidth: width, resizeHeight: height, resizeQuality: options.resizeQuality ?? 'high' };
  let canvas: OffscreenCanvas | undefined;
  let ctx: OffscreenCanvasRenderingContext2D | null = null;
  return async (bytes, name) => {
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), resize);
    } catch (e) {
      throw new DatasetError(`${name}: cannot decode image (${(e as Error).message})`);
    }
    try {
      const w = bitmap.width;
      const h = bitmap.height;
      // Drawing and reading back are synchronous, so images decoded concurrently can share the canvas.
      if (!canvas || canvas.width !== w || canvas.height !== h) {
        canvas = new OffscreenCanvas(w, h);
        ctx = canvas.getContext('2d', { willReadFrequently: true });
      }
      if (!ctx) throw new DatasetError(`${name}: no 2d canvas context to decode images`);
      ctx.clearRect(0, 0, w, h);
      ctx.drawImage(bitmap, 0, 0);
      const img = ctx.getImageData(0, 0, w, h);
      return { width: img.width, height: img.height, channels: 4, data: img.data };
    } finally {
      bitmap.close();
    }
  };
}

/** createBrowserImageDecoder() at the image's own size. */
export const browserImageDecoder: ImageDecoder = createBrowserImageDecoder();

/** HWC (1, 3 or 4 channels) → CHW RGB into `out` at image `n`; grayscale is replicated, alpha dropped. */
function toCHW(img: DecodedImage, name: string, out: Uint8Array, n: number): void {
  if (typeof img !== 'object' || img === null) throw new DatasetError(`${name}: the image decoder returned ${String(img)}`);
  if (img.width !== SIZE || img.height !== SIZE) throw new DatasetError(`${name}: ${SIZE}×${SIZE} image expected, got ${img.width}×${img.height}`);
  const ch = img.channels;
  if (ch !== 1 && ch !== 3 && ch !== 4) throw new DatasetError(`${name}: 1, 3 or 4 channels expected, got ${ch}`);
  if (!(img.data instanceof Uint8Array || img.data instanceof Uint8ClampedArray) || img.data.length < PLANE * ch) throw new DatasetError(`${name}: decoder returned ${img.data?.length} bytes, ${PLANE * ch} expected`);
  const base = n * 3 * PLANE;
  const d = img.data;
  for (let i = 0; i < PLANE; i++) {
    const s = i * ch;
    out[base + i] = d[s];
    out[base + PLANE + i] = d[ch === 1 ? s : s + 1];
    out[base + 2 * PLANE + i] = d[ch === 1 ? s : s + 2];
  }
}

async function decodeAll(
  tree: FileTree,
  paths: string[],
  decode: ImageDecoder,
  images: Uint8Array,
  opts: TinyImagenetOptions,
  progress: { done: number; total: number },
): Promise<void> {
  const width = opts.concurrency ?? 16;
  let next = 0;
  let failed = false;
  const worker = async () => {
    // After a failure the other workers stop too: the whole load fails anyway.
    while (next < paths.length && !failed) {
      const i = next++;
      const path = paths[i];
      let img: DecodedImage;
      try {
        img = await decode(await tree.read(path), path);
        toCHW(img, path, images, i);
      } catch (e) {
        failed = true;
        if (e instanceof DatasetError) throw e;
        throw new DatasetError(`${path}: cannot decode image (${e instanceof Error ? e.message : String(e)})`);
      }
      progress.done++;
      if (opts.onProgress && (progress.done % 1000 === 0 || progress.done === progress.total)) opts.onProgress(progress.done, progress.total);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, paths.length) }, worker));
}

const text = async (tree: FileTree, path: string): Promise<string> => new TextDecoder().decode(await tree.read(path));

/** Tiny ImageNet: train/<wnid>/images/*.JPEG for training, val/ (labels from val_annotations.txt) as the test split. */
export async function parseTinyImagenet(tree: FileTree, decode: ImageDecoder, options: TinyImagenetOptions = {}): Promise<Dataset> {
  for (const k of ['maxPerClass', 'concurrency'] as const) {
    const v = options[k];
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) throw new DatasetError(`tiny-imagenet: ${k} must be a positive integer, got ${v}`);
  }
  const all = (await tree.list()).map((p) => p.replace(/\\/g, '/'));
  const wnidsPath = all.filter((p) => p === 'wnids.txt' || p.endsWith('/wnids.txt')).sort((a, b) => a.length - b.length)[0];
  if (!wnidsPath) throw new DatasetError('tiny-imagenet: wnids.txt not found (expected the tiny-imagenet-200 folder)');
  const root = wnidsPath.slice(0, wnidsPath.length - 'wnids.txt'.length);
  const wnids = (await text(tree, wnidsPath)).split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (wnids.length === 0) throw new DatasetError(`${wnidsPath}: no class ids`);
  // Labels are uint16.
  if (wnids.length > 65536) throw new DatasetError(`${wnidsPath}: ${wnids.length} class ids, at most 65536 supported`);
  const classOf = new Map<string, number>();
  wnids.forEach((w, i) => {
    if (classOf.has(w)) throw new DatasetError(`${wnidsPath}: duplicate wnid ${w} on line ${i + 1}`);
    classOf.set(w, i);
  });

  // Training images, grouped by class, sorted for a deterministic order.
  const perClass: string[][] = wnids.map(() => []);
  const trainRe = new RegExp(`^${escape(root)}train/([^/]+)/images/[^/]+\\.jpe?g$`, 'i');
  for (const p of all) {
    const m = trainRe.exec(p);
    if (!m) continue;
    const c = classOf.get(m[1]);
    if (c === undefined) throw new DatasetError(`${p}: class folder ${m[1]} is not listed in ${wnidsPath}`);
    perClass[c].push(p);
  }
  const trainPaths: string[] = [];
  const trainLabels: number[] = [];
  perClass.forEach((paths, c) => {
    if (paths.length === 0) throw new DatasetError(`${root}train/${wnids[c]}/images/: no JPEG images for class ${wnids[c]} (line ${c + 1} of ${wnidsPath})`);
    paths.sort();
    for (const p of paths.slice(0, options.maxPerClass ?? paths.length)) {
      trainPaths.push(p);
      trainLabels.push(c);
    }
  });

  // Validation images: "val_0.JPEG<TAB>n03444034<TAB>x0<TAB>y0<TAB>x1<TAB>y1".
  const annPath = `${root}val/val_annotations.txt`;
  if (!all.includes(annPath)) throw new DatasetError(`${annPath}: not found (needed for the test split)`);
  const present = new Set(all);
  const valPaths: string[] = [];
  const valLabels: number[] = [];
  const lineOf = new Map<string, number>();
  (await text(tree, annPath)).split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const [file, wnid] = line.split('\t');
    const c = wnid === undefined ? undefined : classOf.get(wnid.trim());
    if (c === undefined) throw new DatasetError(`${annPath}: line ${i + 1} ("${line.trim()}"): wnid ${wnid ?? '(missing)'} is not in wnids.txt`);
    const path = `${root}val/images/${file.trim()}`;
    if (!present.has(path)) throw new DatasetError(`${annPath}: line ${i + 1}: image ${path} not found`);
    // The same image twice would count twice in the test accuracy.
    const first = lineOf.get(path);
    if (first !== undefined) throw new DatasetError(`${annPath}: line ${i + 1}: image ${file.trim()} already annotated on line ${first}`);
    lineOf.set(path, i + 1);
    valPaths.push(path);
    valLabels.push(c);
  });
  if (valPaths.length === 0) throw new DatasetError(`${annPath}: no annotations`);

  const progress = { done: 0, total: trainPaths.length + valPaths.length };
  const makeSplit = async (paths: string[], labels: number[]): Promise<DatasetSplit> => {
    const images = new Uint8Array(paths.length * 3 * PLANE);
    await decodeAll(tree, paths, decode, images, options, progress);
    return { images, labels: Uint16Array.from(labels), count: paths.length };
  };
  const train = await makeSplit(trainPaths, trainLabels);
  const test = await makeSplit(valPaths, valLabels);
  const { mean, std } = channelStats(train, 3);
  // Class names from words.txt when it is there (every WordNet id's description), else the ids themselves.
  const wordsPath = `${root}words.txt`;
  const words = all.includes(wordsPath) ? parseSynsetNames(await text(tree, wordsPath), wordsPath) : undefined;
  const classNames = wnids.map((w) => words?.get(w) ?? w);
  return { name: 'tiny-imagenet', numClasses: wnids.length, channels: 3, height: SIZE, width: SIZE, train, test, mean, std, classNames };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
