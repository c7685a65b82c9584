import type { DispatchRecord, PipelineRecord, ProfilerHooks, Runtime } from './runtime.js';
import { Usage } from './pool.js';

/** One timed dispatch. Times in microseconds from the first profiled dispatch. */
export interface TimedDispatch {
  op: string;
  kernel: string;
  entry: string;
  flops: number;
  startUs: number;
  durationUs: number;
  /** The pipeline's key (kernel/entry/constants). */
  pipeline: string;
  /** The pipeline's first dispatch on the device (on lavapipe it includes the shader's compilation). */
  firstUse: boolean;
}

/** What one pipeline cost to compile: host time in createComputePipeline plus the first dispatch's excess. */
export interface PipelineCompile {
  pipeline: string;
  kernel: string;
  createMs: number;
  /** GPU time of its first dispatch, and the median of its other dispatches (null: it ran once). */
  firstMs: number;
  steadyMs: number | null;
  /** createMs + firstMs − steadyMs (firstMs when it ran once: an upper bound). */
  compileMs: number;
}

export interface KernelSummary {
  kernel: string;
  ops: string;
  count: number;
  totalMs: number;
  meanUs: number;
  gflops: number | null;
  share: number;
}

const QUERIES_PER_SET = 4096; // WebGPU's limit on a query set's size: 2048 dispatches (begin + end).

/**
 * Times every dispatch with timestamp queries. While a Profiler is attached, each dispatch gets its own
 * compute pass with timestampWrites into a shared query set; nothing is read back until collect(), which
 * resolves all query sets at once (one sync). Dawn's timestamp quantisation is turned off by init() in Node.
 */
export class Profiler implements ProfilerHooks {
  private sets: GPUQuerySet[] = [];
  private records: DispatchRecord[] = [];

  constructor(private rt: Runtime) {
    if (!rt.device.features.has('timestamp-query')) {
      throw new Error("onelayer profiler: this device has no 'timestamp-query' feature (Chrome: start with --enable-dawn-features=allow_unsafe_apis or --enable-unsafe-webgpu).");
    }
  }

  /** Starts timing every dispatch of the runtime. */
  start(): this {
    this.rt.flush();
    this.rt.profiler = this;
    return this;
  }

  stop(): void {
    this.rt.flush();
    if (this.rt.profiler === this) this.rt.profiler = null;
  }

  timestampWrites(rec: Omit<DispatchRecord, 'query'>): GPUComputePassTimestampWrites {
    const i = this.records.length;
    const set = Math.floor((2 * i) / QUERIES_PER_SET);
    if (set === this.sets.length) this.sets.push(this.rt.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: `onelayer:profiler:${set}` }));
    const local = (2 * i) % QUERIES_PER_SET;
    this.records.push({ ...rec, query: i });
    return { querySet: this.sets[set], beginningOfPassWriteIndex: local, endOfPassWriteIndex: local + 1 };
  }

  /** Resolves every query recorded so far and returns the timings; the profiler then starts afresh. */
  async collect(): Promise<TimedDispatch[]> {
    const n = this.records.length;
    if (n === 0) return [];
    this.rt.flush();
    const bytes = 2 * n * 8;
    const resolve = this.rt.device.createBuffer({ size: Math.ceil(bytes / 256) * 256, usage: Usage.QUERY_RESOLVE | Usage.COPY_SRC });
    const readback = this.rt.device.createBuffer({ size: Math.ceil(bytes / 256) * 256, usage: Usage.MAP_READ | Usage.COPY_DST });
    const enc = this.rt.device.createCommandEncoder({ label: 'onelayer:profiler-resolve' });
    // Only the sets this profile used: sets from an earlier, longer profile are kept for reuse but hold nothing now.
    for (let s = 0; s < Math.ceil((2 * n) / QUERIES_PER_SET); s++) {
      const count = Math.min(QUERIES_PER_SET, 2 * n - s * QUERIES_PER_SET);
      enc.resolveQuerySet(this.sets[s], 0, count, resolve, s * QUERIES_PER_SET * 8);
    }
    enc.copyBufferToBuffer(resolve, 0, readback, 0, resolve.size);
    this.rt.device.queue.submit([enc.finish()]);
    await readback.mapAsync(0x0001);
    const ts = new BigUint64Array(readback.getMappedRange().slice(0, bytes));
    readback.unmap();
    resolve.destroy();
    readback.destroy();
    const origin = ts[0];
    const out = this.records.map((r, i) => ({
      op: r.op,
      kernel: r.entry === 'main' ? r.kernel : `${r.kernel}:${r.entry}`,
      entry: r.entry,
      flops: r.flops,
      pipeline: r.pipeline,
      firstUse: r.firstUse,
      startUs: Number(ts[2 * i] - origin) / 1000,
      durationUs: Math.max(0, Number(ts[2 * i + 1] - ts[2 * i])) / 1000,
    }));
    this.records = [];
    return out;
  }

  destroy(): void {
    this.stop();
    for (const s of this.sets) s.destroy();
    this.sets = [];
  }
}

/** Groups timings by kernel (file:entry), sorted by total time. */
export function summarize(timings: TimedDispatch[]): KernelSummary[] {
  const groups = new Map<string, { ops: Set<string>; count: number; us: number; flops: number }>();
  let total = 0;
  for (const t of timings) {
    let g = groups.get(t.kernel);
    if (!g) groups.set(t.kernel, (g = { ops: new Set(), count: 0, us: 0, flops: 0 }));
    g.ops.add(t.op);
    g.count++;
    g.us += t.durationUs;
    g.flops += t.flops;
    total += t.durationUs;
  }
  return [...groups.entries()]
    .map(([kernel, g]) => ({
      kernel,
      ops: [...g.ops].join(','),
      count: g.count,
      totalMs: g.us / 1000,
      meanUs: g.us / g.count,
      gflops: g.flops > 0 && g.us > 0 ? g.flops / (g.us * 1000) : null,
      share: total > 0 ? g.us / total : 0,
    }))
    .sort((a, b) => b.totalMs - a.totalMs);
}

export function formatSummary(rows: KernelSummary[], top = 20): string {
  const head = ['kernel', 'ops', 'count', 'total ms', 'mean µs', 'GFLOP/s', 'share'];
  const body = rows.slice(0, top).map((r) => [r.kernel, r.ops.length > 40 ? `${r.ops.slice(0, 39)}…` : r.ops, String(r.count), r.totalMs.toFixed(2), r.meanUs.toFixed(1), r.gflops === null ? '-' : r.gflops.toFixed(2), `${(100 * r.share).toFixed(1)}%`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Compile cost of every pipeline first dispatched in `timings` (profile the first step to catch them all), slowest
 * first. Drivers compile either in createComputePipeline (SwiftShader: `created` has that host time) or lazily at
 * the first dispatch (lavapipe/llvmpipe, where it lands between the dispatch's timestamps). With `lazy` the host
 * time is left out of compileMs: lavapipe's createComputePipeline waits for its queue, so while the queue compiles
 * another pipeline, that wait (up to the other's whole compile time) is not this pipeline's cost.
 */
export function compileSummary(timings: TimedDispatch[], created: readonly PipelineRecord[], lazy = false): PipelineCompile[] {
  const createMs = new Map(created.map((c) => [c.key, c.createMs]));
  const others = new Map<string, number[]>();
  for (const t of timings) {
    if (t.firstUse) continue;
    let list = others.get(t.pipeline);
    if (!list) others.set(t.pipeline, (list = []));
    list.push(t.durationUs / 1000);
  }
  return timings
    .filter((t) => t.firstUse)
    .map((t) => {
      const firstMs = t.durationUs / 1000;
      const rest = others.get(t.pipeline);
      const steadyMs = rest?.length ? median(rest) : null;
      const host = createMs.get(t.pipeline) ?? 0;
      return { pipeline: t.pipeline, kernel: t.kernel, createMs: host, firstMs, steadyMs, compileMs: (lazy ? 0 : host) + Math.max(0, firstMs - (steadyMs ?? 0)) };
    })
    .sort((a, b) => b.compileMs - a.compileMs);
}

export function formatCompiles(rows: PipelineCompile[], top = 20): string {
  const head = ['pipeline (kernel/entry/constants)', 'compile ms', 'create ms', 'first ms', 'steady ms'];
  const body = rows.slice(0, top).map((r) => [r.pipeline, r.compileMs.toFixed(0), r.createMs.toFixed(1), r.firstMs.toFixed(1), r.steadyMs === null ? '-' : r.steadyMs.toFixed(2)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const total = rows.reduce((s, r) => s + r.compileMs, 0);
  return [`${rows.length} pipelines compiled, ${(total / 1000).toFixed(1)} s in all${rows.length > top ? ` (slowest ${top} shown)` : ''}`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Chrome trace format (chrome://tracing, Perfetto): one complete event per dispatch. */
export function chromeTrace(timings: TimedDispatch[], processName = 'onelayer GPU'): { traceEvents: object[] } {
  return {
    traceEvents: [
      { name: 'process_name', ph: 'M', pid: 1, tid: 1, args: { name: processName } },
      ...timings.map((t) => ({ name: t.kernel, cat: t.op, ph: 'X', ts: t.startUs, dur: t.durationUs, pid: 1, tid: 1, args: { op: t.op, flops: t.flops, gflops: t.durationUs > 0 ? t.flops / (t.durationUs * 1000) : 0 } })),
    ],
  };
}
