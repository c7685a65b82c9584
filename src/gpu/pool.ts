/**
 * GPU buffers pooled by size class. A class is a power of two split into four steps (1, 1.25, 1.5, 1.75 × 2^k),
 * so a pooled buffer wastes at most 25%. Buffers are never destroyed while the runtime lives: a released buffer
 * waits in its class for the next request of that class.
 */
export interface MemoryStats {
  liveBytes: number;
  liveBuffers: number;
  pooledBytes: number;
  pooledBuffers: number;
  /** Highest liveBytes seen since the last resetPeak(). */
  peakLiveBytes: number;
}

/** GPUBufferUsage flags as numbers: in Node the GPUBufferUsage global only exists after Dawn is loaded. */
export const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
export const STORAGE_USAGE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;

export function sizeClass(bytes: number): number {
  const n = Math.max(256, Math.ceil(bytes));
  const k = Math.floor(Math.log2(n));
  const base = 2 ** k;
  if (n === base) return n;
  const step = base / 4;
  return base + Math.ceil((n - base) / step) * step;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  private stats = { liveBytes: 0, pooledBytes: 0, pooledBuffers: 0, peakLiveBytes: 0 };

  constructor(private device: GPUDevice) {}

  acquire(bytes: number, usage: number = STORAGE_USAGE, label?: string): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    let buf = list?.pop();
    if (buf) {
      this.stats.pooledBytes -= size;
      this.stats.pooledBuffers--;
    } else {
      buf = this.device.createBuffer({ size, usage, label: label ?? `onelayer:${size}` });
    }
    this.live.add(buf);
    this.onAcquire?.(buf);
    this.stats.liveBytes += size;
    if (this.stats.liveBytes > this.stats.peakLiveBytes) this.stats.peakLiveBytes = this.stats.liveBytes;
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) throw new Error('onelayer internal: released a buffer that is not live (double dispose?)');
    const key = `${buf.usage}:${buf.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buf);
    this.stats.liveBytes -= buf.size;
    this.stats.pooledBytes += buf.size;
    this.stats.pooledBuffers++;
  }

  /** Sees every acquisition (a step capture in src/gpu/capture.ts tracks the buffers it allocates). */
  onAcquire: ((buf: GPUBuffer) => void) | null = null;

  isLive(buf: GPUBuffer): boolean {
    return this.live.has(buf);
  }

  /**
   * Takes a released buffer back out of its free list and counts it live again, without handing it to anyone
   * through acquire(): a captured step keeps the buffers its recording binds (static memory plan). Returns false
   * when the buffer is not in a free list. Give it back with release().
   */
  withhold(buf: GPUBuffer): boolean {
    const list = this.free.get(`${buf.usage}:${buf.size}`);
    const i = list ? list.indexOf(buf) : -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.live.add(buf);
    this.stats.pooledBytes -= buf.size;
    this.stats.pooledBuffers--;
    this.stats.liveBytes += buf.size;
    if (this.stats.liveBytes > this.stats.peakLiveBytes) this.stats.peakLiveBytes = this.stats.liveBytes;
    return true;
  }

  /** Called before trim() destroys buffers (the runtime drops its cached bind groups, which may hold them). */
  onTrim: (() => void) | null = null;

  /** Frees every pooled (not live) buffer. */
  trim(): void {
    this.onTrim?.();
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
    this.stats.pooledBuffers = 0;
  }

  resetPeak(): void {
    this.stats.peakLiveBytes = this.stats.liveBytes;
  }

  memoryStats(): MemoryStats {
    return { liveBytes: this.stats.liveBytes, liveBuffers: this.live.size, pooledBytes: this.stats.pooledBytes, pooledBuffers: this.stats.pooledBuffers, peakLiveBytes: this.stats.peakLiveBytes };
  }
}
