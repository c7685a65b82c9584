// Node-only: a pool of worker threads that decode and resize images with sharp (libvips, libjpeg-turbo).
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { makeDirs, writeFileAtomic } from '../platform/files-node.js';
import type { DecodedImage } from './tinyimagenet.js';
import type { CropJob, DecodeJob, DecodeReply, SniffJob } from './decode-protocol.js';
import { decodeWorkerSource } from './decode-worker-node.js';
import { DatasetError } from './types.js';

/** Jobs a worker holds at once: the second one is queued in the worker while it decodes the first. */
const PER_WORKER = 2;
/** Image-cache entries being written at once; beyond that an entry is skipped (written on a later pass). */
const MAX_PENDING_WRITES = 64;

/** What the pool's crops did with the image cache (counts since the pool was made). */
export interface DecodeStats {
  /** Images decoded by a crop job (with or without a cache). */
  decoded: number;
  /** Crops read from the image cache instead of being decoded. */
  cacheHits: number;
  /** Cache entries that were there but invalid (truncated, damaged, foreign, another version): decoded and replaced. */
  cacheRejected: number;
  /** Cache entries written. */
  cacheWrites: number;
  /** Cache entries not written: the write failed (e.g. a read-only folder) or too many were pending. */
  cacheSkipped: number;
}

/**
 * Decoding threads by default: ONELAYER_DECODE_THREADS when set, else every core but one (the main thread records
 * GPU work), at least one.
 */
export function defaultDecodeThreads(env: Record<string, string | undefined> = process.env): number {
  const v = env.ONELAYER_DECODE_THREADS;
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 1 && n <= 1024)) throw new DatasetError(`ONELAYER_DECODE_THREADS=${v}: expected an integer in [1, 1024]`);
    return n;
  }
  return Math.max(1, availableParallelism() - 1);
}

type Done = Extract<DecodeReply, { ok: true; data: unknown }>;
type Sniffed = Extract<DecodeReply, { ok: true; sniffed: unknown }>;

interface Pending {
  resolve(reply: Done | Sniffed): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  busy: Map<number, Pending>;
}

type JobInput = { op: 'rgb'; bytes: Uint8Array; name: string; maxPixels: number } | Omit<CropJob, 'id'> | Omit<SniffJob, 'id'>;

let sharpPath: string | undefined;
function resolveSharp(): string {
  if (!sharpPath) {
    try {
      sharpPath = createRequire(import.meta.url).resolve('sharp');
    } catch (e) {
      throw new DatasetError(`image decoding needs the 'sharp' package, which is not installed (${(e as Error).message}); run npm install`);
    }
  }
  return sharpPath;
}

/**
 * Decoding threads, started on first use. Jobs are served first come first served, so batches asked for in order
 * complete in order; idle workers do not keep the process alive. Errors are DatasetErrors naming the image.
 */
export class DecodePool {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private readonly queue: { job: DecodeJob; pending: Pending; transfer: ArrayBuffer[] }[] = [];
  private nextId = 1;
  private closed = false;
  private readonly writes = new Set<Promise<void>>();
  private readonly madeDirs = new Set<string>();
  readonly stats: DecodeStats = { decoded: 0, cacheHits: 0, cacheRejected: 0, cacheWrites: 0, cacheSkipped: 0 };

  /** true after close(). */
  get isClosed(): boolean {
    return this.closed;
  }

  constructor(threads: number = defaultDecodeThreads()) {
    if (!(Number.isInteger(threads) && threads >= 1)) throw new DatasetError(`DecodePool: threads must be a positive integer, got ${threads}`);
    this.threads = threads;
  }

  /** An image in memory → RGB (HWC, 3 channels) at its own size; larger than maxPixels is an error. */
  async decodeRgb(bytes: Uint8Array, name: string, maxPixels = 4096 * 4096): Promise<DecodedImage> {
    if (!(Number.isSafeInteger(maxPixels) && maxPixels > 0)) throw new DatasetError(`DecodePool.decodeRgb: maxPixels must be a positive integer, got ${maxPixels}`);
    // A copy travels to the worker (the caller's bytes may be a view into a shared or pooled buffer).
    const own = new Uint8Array(bytes);
    const r = (await this.run({ op: 'rgb', bytes: own, name, maxPixels }, [own.buffer])) as Done;
    return { width: r.width, height: r.height, channels: 3, data: r.data as Uint8Array };
  }

  /**
   * An image file → a normalised float32 CHW RGB image of job.size² (see CropJob). With `cacheDir` (evaluation crops
   * only), a valid cache entry is read instead of the image, and a missing or invalid one is written afterwards
   * (atomically, best effort, in the background: see flush()).
   */
  async crop(job: Omit<CropJob, 'id' | 'op'>): Promise<Float32Array> {
    const r = (await this.run({ op: 'crop', ...job }, [])) as Done;
    if (r.cache === 'hit') this.stats.cacheHits++;
    else this.stats.decoded++;
    if (r.cache === 'rejected') this.stats.cacheRejected++;
    if (r.entry) this.writeEntry(r.entry.path, r.entry.bytes);
    return r.data as Float32Array;
  }

  private writeEntry(path: string, bytes: Uint8Array): void {
    if (this.writes.size >= MAX_PENDING_WRITES) {
      this.stats.cacheSkipped++;
      return;
    }
    const dir = dirname(path);
    const p = (async () => {
      if (!this.madeDirs.has(dir)) {
        await makeDirs(dir);
        this.madeDirs.add(dir);
      }
      await writeFileAtomic(path, bytes);
      this.stats.cacheWrites++;
    })()
      .catch(() => {
        // The cache is an optimisation: a failed write only means decoding this image again next time.
        this.stats.cacheSkipped++;
      })
      .finally(() => this.writes.delete(p));
    this.writes.add(p);
  }

  /** Waits until the image-cache entries being written are on disk (or have failed). */
  async flush(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
  }

  /**
   * Checks, in the decoding threads, that every file starts like an image of a format we decode; the first that
   * does not (in the order given) is an error naming it and its first bytes.
   */
  async checkImages(paths: string[], chunk = 1024): Promise<void> {
    const jobs: Promise<Sniffed>[] = [];
    for (let i = 0; i < paths.length; i += chunk) jobs.push(this.run({ op: 'sniff', paths: paths.slice(i, i + chunk) }, []) as Promise<Sniffed>);
    const replies = await Promise.all(jobs);
    replies.forEach((r, k) => {
      if (!r.sniffed) return;
      const head = r.sniffed.head.slice(0, 8).map((x) => x.toString(16).padStart(2, '0')).join(' ') || 'an empty file';
      throw new DatasetError(`${paths[k * chunk + r.sniffed.index]}: not an image (it starts with ${head}; expected JPEG, PNG, WebP, TIFF, BMP or PPM/PGM data)`);
    });
  }

  private run(input: JobInput, transfer: ArrayBuffer[]): Promise<Done | Sniffed> {
    if (this.closed) return Promise.reject(new DatasetError('DecodePool: used after close()'));
    const job = { ...input, id: this.nextId++ } as DecodeJob;
    return new Promise((resolve, reject) => {
      this.queue.push({ job, pending: { resolve, reject }, transfer });
      this.pump();
    });
  }

  private spawn(): Slot {
    const worker = new Worker(decodeWorkerSource(), { eval: true, workerData: { sharpPath: resolveSharp() } });
    const slot: Slot = { worker, busy: new Map() };
    worker.on('message', (reply: DecodeReply) => {
      const p = slot.busy.get(reply.id);
      if (!p) return;
      slot.busy.delete(reply.id);
      if (reply.ok) p.resolve(reply);
      else p.reject(new DatasetError(reply.error));
      this.pump();
    });
    const die = (e: Error) => {
      // A worker that crashed takes its jobs with it; the next job starts a fresh one.
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const p of slot.busy.values()) p.reject(new DatasetError(`image decoding thread failed: ${e.message}`));
      slot.busy.clear();
      if (!this.closed) this.pump();
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`exited with code ${code}`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.reduce<Slot | undefined>((best, s) => (s.busy.size < PER_WORKER && (!best || s.busy.size < best.busy.size) ? s : best), undefined);
      if (!slot || (slot.busy.size > 0 && this.slots.length < this.threads)) slot = this.slots.length < this.threads ? this.spawn() : slot;
      if (!slot) break;
      const { job, pending, transfer } = this.queue.shift()!;
      slot.busy.set(job.id, pending);
      slot.worker.postMessage(job, transfer);
    }
    // Busy workers keep the process alive (a pending decode is awaited); idle ones do not.
    for (const s of this.slots) {
      if (s.busy.size > 0) s.worker.ref();
      else s.worker.unref();
    }
  }

  /** Stops the workers; jobs still queued or running are rejected; image-cache entries being written are finished. */
  async close(): Promise<void> {
    this.closed = true;
    for (const { pending } of this.queue.splice(0)) pending.reject(new DatasetError('DecodePool: closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
    await this.flush();
  }
}

let shared: DecodePool | undefined;

/** The process's shared pool (default thread count); loaders use it unless given their own. */
export function sharedDecodePool(): DecodePool {
  if (!shared || shared.isClosed) shared = new DecodePool();
  return shared;
}
