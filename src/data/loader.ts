// Deterministic batches: batch(epoch, index) depends only on (seed, epoch, index), so runs replay and resume exactly.
import { Random } from '../tensor/random.js';
import { normalisationTables, resolveAugment, writeImage, type AugmentOptions, type ResolvedAugment } from './augment.js';
import type { Batch, BatchSource, Dataset, DatasetSplit, LoaderOptions } from './types.js';

export interface BatchLoaderOptions extends LoaderOptions {
  /** true = random crop (zero padding 4) + horizontal flip; or choose: { crop, flip, pad }. */
  augment?: boolean | AugmentOptions;
}

/** The loader of a split: the dataset's own for streamed datasets (imagefolder), else a BatchLoader over its bytes. */
export function createLoader(ds: Dataset, split: 'train' | 'test', options: BatchLoaderOptions): BatchSource {
  return ds.makeLoader ? ds.makeLoader(split, options) : new BatchLoader(ds, split, options);
}

/** The seeded permutation of `count` images for an epoch (the order every loader uses when shuffling). */
export function epochPermutation(seed: number, epoch: number, count: number): Int32Array {
  const perm = new Int32Array(count);
  for (let i = 0; i < perm.length; i++) perm[i] = i;
  new Random(mix(seed >>> 0, mix(epoch, 0x5eed))).shuffle(perm);
  return perm;
}

/** 32-bit mix (murmur3 finaliser) so nearby (seed, epoch, index) triples give unrelated streams. */
export function mix(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class BatchLoader implements BatchSource {
  private readonly split: DatasetSplit;
  private readonly batchSize: number;
  private readonly shuffle: boolean;
  private readonly aug: ResolvedAugment;
  private readonly seed: number;
  private readonly dropLast: boolean;
  private readonly tables: Float32Array[];
  private readonly imageSize: number;
  // The permutation of the last epoch asked for: batch() stays a pure function, this only saves recomputing it.
  private permEpoch = -1;
  private perm: Int32Array | undefined;

  constructor(
    private readonly ds: Dataset,
    splitName: 'train' | 'test',
    options: BatchLoaderOptions,
  ) {
    if (splitName !== 'train' && splitName !== 'test') throw new Error(`BatchLoader: split must be 'train' or 'test', got ${String(splitName)}`);
    const bs = options.batchSize;
    if (!Number.isInteger(bs) || bs <= 0) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${bs}`);
    if (ds.makeLoader) throw new Error(`BatchLoader: ${ds.name} is streamed from disk (its images are not in memory): use createLoader()`);
    this.split = ds[splitName];
    this.imageSize = ds.channels * ds.height * ds.width;
    if (this.split.images.length !== this.split.count * this.imageSize) {
      throw new Error(
        `BatchLoader: ${ds.name} ${splitName} has ${this.split.images.length} bytes, expected ${this.split.count} × ${ds.channels}×${ds.height}×${ds.width}`,
      );
    }
    if (ds.mean.length !== ds.channels || ds.std.length !== ds.channels) {
      throw new Error(`BatchLoader: ${ds.name} has ${ds.channels} channels but mean/std of length ${ds.mean.length}/${ds.std.length}`);
    }
    this.batchSize = bs;
    this.shuffle = options.shuffle ?? false;
    this.aug = resolveAugment(options.augment);
    this.seed = (options.seed ?? 0) >>> 0;
    this.dropLast = options.dropLast ?? false;
    this.tables = normalisationTables(ds.mean, ds.std);
  }

  numBatches(): number {
    const n = this.split.count / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** Image order of an epoch: identity without shuffling, else a seeded permutation. */
  order(epoch: number): Int32Array | undefined {
    if (!this.shuffle) return undefined;
    if (this.permEpoch !== epoch || !this.perm) {
      this.perm = epochPermutation(this.seed, epoch, this.split.count);
      this.permEpoch = epoch;
    }
    return this.perm;
  }

  /** Batch `index` of epoch `epoch`: a pure function of (seed, epoch, index) so runs are reproducible and resumable. */
  batch(epoch: number, index: number): Batch {
    const nb = this.numBatches();
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`BatchLoader.batch: epoch must be a non-negative integer, got ${epoch}`);
    if (!Number.isInteger(index) || index < 0 || index >= nb) {
      throw new Error(`BatchLoader.batch: index ${index} out of range [0, ${nb}) for ${this.ds.name} (${this.split.count} images, batch size ${this.batchSize})`);
    }
    const start = index * this.batchSize;
    const count = Math.min(this.batchSize, this.split.count - start);
    const order = this.order(epoch);
    const { channels, height, width } = this.ds;
    const size = this.imageSize;
    const images = new Float32Array(count * size);
    const labels = new Int32Array(count);
    const { crop, flip, pad } = this.aug;
    const rng = crop || flip ? new Random(mix(this.seed, mix(epoch, mix(index, 0xa06)))) : undefined;
    for (let n = 0; n < count; n++) {
      const k = order ? order[start + n] : start + n;
      labels[n] = this.split.labels[k];
      let dx = 0;
      let dy = 0;
      let flipped = false;
      if (rng) {
        if (crop) {
          dx = rng.int(2 * pad + 1) - pad;
          dy = rng.int(2 * pad + 1) - pad;
        }
        if (flip) flipped = rng.next() < 0.5;
      }
      writeImage(images, n * size, this.split.images, k * size, channels, height, width, this.tables, dx, dy, flipped);
    }
    return { images, labels, count };
  }
}
