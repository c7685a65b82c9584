/** Names accepted by loadDataset (Node) and the CLI. */
export const DATASETS = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'tiny-imagenet', 'imagefolder', 'imagenet'] as const;
export type DatasetName = (typeof DATASETS)[number];

/**
 * One split of an image-classification dataset, kept as bytes so that even Tiny ImageNet fits in memory. A streamed
 * dataset (Dataset.makeLoader set: images decoded from disk batch by batch) has labels and count but no image bytes.
 */
export interface DatasetSplit {
  /** [count, C, H, W] uint8, NCHW; empty for a streamed dataset. */
  images: Uint8Array;
  labels: Uint16Array;
  count: number;
}

export interface Dataset {
  name: string;
  numClasses: number;
  channels: number;
  height: number;
  width: number;
  train: DatasetSplit;
  test: DatasetSplit;
  /** Per channel, in [0, 1] pixel units, computed from the train split. */
  mean: number[];
  std: number[];
  classNames?: string[];
  /**
   * Streamed datasets (imagefolder) decode their images on demand and make their own loaders, with the same
   * contract as BatchLoader; undefined for datasets held in memory. Use createLoader() rather than calling it.
   */
  makeLoader?: (split: 'train' | 'test', options: LoaderOptions) => BatchSource;
  /** Releases what a streamed dataset holds (decoding threads); a no-op for datasets in memory. */
  close?: () => Promise<void>;
}

/** How a loader orders and augments a split (BatchLoader and the streamed loaders alike). */
export interface LoaderOptions {
  batchSize: number;
  shuffle?: boolean;
  /**
   * true = the dataset's training augmentation (in-memory sets: random crop with zero padding 4 + horizontal flip;
   * imagefolder: random-resized crop + flip); in-memory sets also take { crop, flip, pad }.
   */
  augment?: boolean | { crop?: boolean; flip?: boolean; pad?: number };
  seed?: number;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
}

/** Batches of one split: batch(epoch, index) is a pure function of (seed, epoch, index), whatever the call order. */
export interface BatchSource {
  numBatches(): number;
  batch(epoch: number, index: number): Batch | Promise<Batch>;
}

/** A batch ready for upload: normalised images [count, C, H, W] and integer labels. */
export interface Batch {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** A named file handed to a browser-safe parser (the bytes of a file picked in the browser or read in Node). */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** Thrown for malformed or missing dataset files; the message names the file at fault. */
export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** Per-channel mean and standard deviation of a split in [0, 1] units (float64 accumulation: 50k images of 3k bytes). */
export function channelStats(split: DatasetSplit, channels: number): { mean: number[]; std: number[] } {
  const plane = split.count === 0 ? 0 : split.images.length / (split.count * channels);
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const img = split.images;
  for (let n = 0; n < split.count; n++) {
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * plane;
      // Integer sums within one plane are exact; fold into float64 once per plane.
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < plane; i++) {
        const v = img[base + i];
        s += v;
        s2 += v * v;
      }
      sum[c] += s;
      sumSq[c] += s2;
    }
  }
  const count = split.count * plane;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    const m = count > 0 ? sum[c] / count : 0;
    const v = count > 0 ? Math.max(sumSq[c] / count - m * m, 0) : 0;
    mean.push(m / 255);
    // A constant channel would divide by zero when normalising; 1 keeps it finite.
    std.push(v > 0 ? Math.sqrt(v) / 255 : 1);
  }
  return { mean, std };
}

/** Checks that every label is below numClasses; names the file and record at fault. */
export function checkLabels(labels: Uint16Array, numClasses: number, source: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) throw new DatasetError(`${source}: label ${labels[i]} of record ${i} is out of range [0, ${numClasses})`);
  }
}
