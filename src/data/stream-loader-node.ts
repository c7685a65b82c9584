// Node-only: batches decoded from image files by the decoding pool, prefetched ahead of the GPU. The images of a
// batch, their order and their random crops are a pure function of (seed, epoch, index), so prefetching, the thread
// count and the order in which the threads finish change nothing in what the model sees.
import { DatasetError, type Batch, type BatchSource, type LoaderOptions } from './types.js';
import { epochPermutation, mix } from './loader.js';
import type { DecodePool } from './decode-pool-node.js';

export interface StreamedSplit {
  /** Absolute paths of the image files. */
  paths: string[];
  labels: Uint16Array;
}

export interface StreamLoaderOptions extends LoaderOptions {
  /** Output side S: every image becomes 3 × S × S. */
  size: number;
  mean: number[];
  std: number[];
  /** Whole batches decoded ahead of the one asked for (default: as many as fit in 512 MB, 1 to 4). */
  prefetch?: number;
  /** For messages. */
  name?: string;
  /**
   * Folder of the on-disk cache of decoded, resized, centre-cropped images, used without augmentation only (then
   * the crop depends on the file alone); training's random crops are always decoded. Absent: no cache.
   */
  cacheDir?: string;
}

export class StreamLoader implements BatchSource {
  private readonly batchSize: number;
  private readonly seed: number;
  private readonly train: boolean;
  private readonly prefetch: number;
  private readonly inFlight = new Map<string, Promise<Batch>>();
  private permEpoch = -1;
  private perm: Int32Array | undefined;

  constructor(
    private readonly pool: DecodePool,
    private readonly split: StreamedSplit,
    private readonly options: StreamLoaderOptions,
  ) {
    const bs = options.batchSize;
    if (!Number.isInteger(bs) || bs <= 0) throw new Error(`StreamLoader: batchSize must be a positive integer, got ${bs}`);
    if (split.paths.length !== split.labels.length) throw new Error(`StreamLoader: ${split.paths.length} paths but ${split.labels.length} labels`);
    if (typeof options.augment === 'object') throw new Error('StreamLoader: augment is true (random-resized crop + flip) or false (resize + centre crop)');
    this.batchSize = bs;
    this.seed = (options.seed ?? 0) >>> 0;
    this.train = options.augment === true;
    const batchBytes = bs * 3 * options.size * options.size * 4;
    this.prefetch = options.prefetch ?? Math.max(1, Math.min(4, Math.floor(512 * 2 ** 20 / batchBytes)));
  }

  get count(): number {
    return this.split.paths.length;
  }

  numBatches(): number {
    const n = this.count / this.batchSize;
    return this.options.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  private order(epoch: number): Int32Array | undefined {
    if (!this.options.shuffle) return undefined;
    if (this.permEpoch !== epoch || !this.perm) {
      this.perm = epochPermutation(this.seed, epoch, this.count);
      this.permEpoch = epoch;
    }
    return this.perm;
  }

  /** Batch `index` of `epoch`; starts decoding the next `prefetch` batches of the epoch too. */
  batch(epoch: number, index: number): Promise<Batch> {
    const nb = this.numBatches();
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`StreamLoader.batch: epoch must be a non-negative integer, got ${epoch}`);
    if (!Number.isInteger(index) || index < 0 || index >= nb) {
      throw new Error(`StreamLoader.batch: index ${index} out of range [0, ${nb}) for ${this.options.name ?? 'the split'} (${this.count} images, batch size ${this.batchSize})`);
    }
    const key = `${epoch}:${index}`;
    const p = this.inFlight.get(key) ?? this.start(epoch, index);
    this.inFlight.delete(key);
    // Batches of other epochs or behind this one are not asked for again (in order): forget them.
    for (const k of [...this.inFlight.keys()]) {
      const [e, i] = k.split(':').map(Number);
      if (e !== epoch || i < index) this.inFlight.delete(k);
    }
    for (let i = index + 1; i <= Math.min(index + this.prefetch, nb - 1); i++) {
      const k = `${epoch}:${i}`;
      if (!this.inFlight.has(k)) {
        const q = this.start(epoch, i);
        q.catch(() => undefined); // reported when that batch is asked for
        this.inFlight.set(k, q);
      }
    }
    return p;
  }

  private async start(epoch: number, index: number): Promise<Batch> {
    const start = index * this.batchSize;
    const count = Math.min(this.batchSize, this.count - start);
    const order = this.order(epoch);
    const { size, mean, std } = this.options;
    const plane = 3 * size * size;
    const labels = new Int32Array(count);
    const jobs: Promise<Float32Array>[] = [];
    for (let n = 0; n < count; n++) {
      const k = order ? order[start + n] : start + n;
      labels[n] = this.split.labels[k];
      // One seed per image position of the epoch: the crop and flip of every image are fixed by (seed, epoch, index).
      const seed = mix(this.seed, mix(epoch, mix(start + n, 0xc409)));
      const cacheDir = this.train ? undefined : this.options.cacheDir;
      jobs.push(this.pool.crop({ path: this.split.paths[k], size, train: this.train, seed, mean, std, ...(cacheDir !== undefined && { cacheDir }) }));
    }
    const images = new Float32Array(count * plane);
    const done = await Promise.all(jobs);
    done.forEach((img, n) => {
      if (img.length !== plane) throw new DatasetError(`${this.split.paths[order ? order[start + n] : start + n]}: decoded to ${img.length} values, expected ${plane}`);
      images.set(img, n * plane);
    });
    return { images, labels, count };
  }
}
