// ImageFolder conventions shared by every platform (torchvision's datasets.ImageFolder): class folders sorted by
// code point, image extensions, the split of one folder by a validation fraction. Node's reader is imagefolder-node.ts.
import { Random } from '../tensor/random.js';
import { IMAGE_EXTENSIONS } from './decode-protocol.js';
import { DatasetError } from './types.js';

export { IMAGE_EXTENSIONS };

/** ImageNet's per-channel mean and std (torchvision's Normalize for ImageNet-trained models), used for image folders. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** The fixed seed of the --val-fraction split: the same folder always splits the same way, whatever --seed is. */
export const VAL_SPLIT_SEED = 20_260_115;

/**
 * Orders strings by Unicode code point, as Python's sorted() does (and as UTF-8 bytes sort). JavaScript's default
 * sort compares UTF-16 code units, which puts U+FF5E above U+1F600; localeCompare is locale order ('a' < 'B').
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate (an astral code point ≥ U+10000) is above every BMP code unit; two surrogates compare as code units.
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Whether a file name has one of the image extensions, in any case. */
export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && (IMAGE_EXTENSIONS as readonly string[]).includes(name.slice(dot).toLowerCase());
}

/**
 * Splits the images of each class: round(fraction × n) of them (chosen by a seeded shuffle) go to validation, the
 * rest to training; both keep the input order. Every class with two or more images keeps at least one of each.
 */
export function splitByFraction(labels: ArrayLike<number>, numClasses: number, fraction: number, seed = VAL_SPLIT_SEED): { train: number[]; val: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new DatasetError(`--val-fraction must be a number in (0, 1), got ${fraction}`);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const rng = new Random(seed);
  const isVal = new Uint8Array(labels.length);
  byClass.forEach((idx) => {
    let k = Math.round(fraction * idx.length);
    if (idx.length >= 2) k = Math.min(Math.max(k, 1), idx.length - 1);
    const order = Int32Array.from(idx);
    rng.shuffle(order);
    for (let i = 0; i < k; i++) isVal[order[i]] = 1;
  });
  const train: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < labels.length; i++) (isVal[i] ? val : train).push(i);
  return { train, val };
}

/**
 * Class descriptions by WordNet id from ImageNet's LOC_synset_mapping.txt ("n01440764 tench, Tinca tinca") or Tiny
 * ImageNet's words.txt ("n00001740<TAB>entity"): the id, then whitespace, then the description. Blank lines are
 * skipped; a line without a description is an error naming the file and line.
 */
export function parseSynsetNames(text: string, source: string): Map<string, string> {
  const names = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '') return;
    const m = /^(\S+)\s+(.+)$/.exec(t);
    if (!m) throw new DatasetError(`${source}: line ${i + 1} ("${t}") is not "<wnid> <description>"`);
    names.set(m[1], m[2].trim());
  });
  return names;
}
