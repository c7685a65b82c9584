import { BufferPool, STORAGE_USAGE, Usage, type MemoryStats } from './pool.js';
import type { BindingInfo, ShaderInfo } from './shaders.js';
import type { KernelName } from './registry.js';
import type { CaptureSink, CapturedDispatch, UploadSource } from './capture-sink.js';

/** Anything that can be bound as a storage buffer: a GPUBuffer range (tensors implement this). */
export interface Bindable {
  readonly gpuBuffer: GPUBuffer;
  /** Bytes to bind, from byteOffset. */
  readonly byteSize: number;
  /** Where the range starts (a view into an arena; a multiple of 256); absent = 0. */
  readonly byteOffset?: number;
}

export interface DispatchSpec {
  /** The user-facing op, for error messages: 'conv2d', 'batchNorm2d.backward', ... */
  op: string;
  kernel: KernelName;
  entry?: string;
  /** WGSL `override` constants: tile sizes, workgroup size. Each distinct set is its own cached pipeline. */
  constants?: Record<string, number>;
  /** Storage buffers by their WGSL variable name. */
  buffers: Record<string, Bindable>;
  /** Members of the shader's uniform struct, by name (u32, i32 or f32). */
  params?: Record<string, number>;
  /** Workgroup counts; a single number larger than the 65535 limit is split over x and y (kernels rebuild the linear id). */
  workgroups: number | [number, number, number?];
}

export class GPUOpError extends Error {
  override name = 'GPUOpError';
}

/** The GPU device is gone (driver reset, GPU removed, device destroyed): nothing on it can be used again. */
export class DeviceLostError extends GPUOpError {
  override name = 'DeviceLostError';
}

/** Timing of one dispatch, filled in by the profiler. */
export interface DispatchRecord {
  op: string;
  kernel: string;
  entry: string;
  flops: number;
  /** The pipeline's cache key (kernel/entry/constants). */
  pipeline: string;
  /** The first dispatch of this pipeline on the device: a driver that compiles lazily (lavapipe) compiles here. */
  firstUse: boolean;
  /** Index into the timestamp query set (begin = 2i, end = 2i+1), or -1 when not profiled. */
  query: number;
}

export interface ProfilerHooks {
  /** Returns timestampWrites for one dispatch's pass, or undefined when the query set is full. */
  timestampWrites(rec: Omit<DispatchRecord, 'query'>): GPUComputePassTimestampWrites | undefined;
}

/** One pipeline the runtime created, and what createComputePipeline cost on the host. */
export interface PipelineRecord {
  key: string;
  kernel: string;
  entry: string;
  constants: Record<string, number>;
  /**
   * Milliseconds inside createComputePipeline. Drivers that compile there (SwiftShader) spend their compile time
   * here; lavapipe compiles at the first dispatch instead, which the profiler times (compileSummary).
   */
  createMs: number;
}

const MAX_DISPATCHES_PER_BATCH = 512;
const UNIFORM_SLOT = 256;

/** The pipeline cache key: kernel/entry/constants sorted by name (what the profiler's compile table lists). */
export function pipelineKey(kernel: string, entry: string, constants: Record<string, number> = {}): string {
  return `${kernel}/${entry}/${Object.entries(constants).sort().map(([k, v]) => `${k}=${v}`).join(',')}`;
}

/** Splits a 1-D workgroup count over x and y so that neither exceeds the device limit. */
export function grid(count: number, limit = 65535): [number, number, number] {
  if (count <= limit) return [Math.max(1, count), 1, 1];
  const y = Math.ceil(count / limit);
  return [Math.ceil(count / y), y, 1];
}

/**
 * The kernel runtime: pipeline cache, reflected-binding validation, command batching, uniform arena,
 * buffer pool, readback and error reporting. Dispatches are recorded into one command encoder and
 * submitted in batches; reading a buffer back is the only point where the CPU waits for the GPU.
 */
export class Runtime {
  readonly pool: BufferPool;
  private pipelines = new Map<string, GPUComputePipeline>();
  /** Every pipeline created so far, in creation order (the profiler's "pipelines compiled" table reads it). */
  readonly pipelineLog: PipelineRecord[] = [];
  private dispatched = new Set<string>();
  // getBindGroupLayout() makes a new wrapper object on every call (a native call in Dawn): one per pipeline.
  private layouts = new Map<GPUComputePipeline, GPUBindGroupLayout>();
  // Bind groups by pipeline and bound ranges. A training step binds the same pooled buffers at the same uniform
  // slots every step, so after the first step nearly every dispatch finds its group here instead of paying for
  // createBindGroup (13 µs of the ~45 µs that recording one dispatch costs in Node/Dawn). Pooled buffers are
  // destroyed only by pool.trim(), which clears this map first.
  private bindGroups = new Map<string, GPUBindGroup>();
  private ids = new WeakMap<object, number>();
  private nextId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchOps: string[] = [];
  private uniformArena: GPUBuffer;
  private uniformBytes: Uint8Array;
  private uniformView: DataView;
  private uniformUsed = 0;
  private pendingErrors: Promise<void>[] = [];
  private firstError: GPUOpError | null = null;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private lastOp = '(none)';
  profiler: ProfilerHooks | null = null;
  /** The step capture in progress (src/gpu/capture.ts), or null. */
  capture: CaptureSink | null = null;
  /** Debug aid: submit and check errors after every dispatch, so an error names exactly one op. */
  syncEveryOp = false;
  dispatchCount = 0;
  /** A CPU-backed adapter (SwiftShader and the like): kernels pick their variants and splits from it. */
  software = false;
  /**
   * Recorded dispatches are submitted once this many have piled up (and at every read or sync), so that the GPU
   * starts on them while JavaScript records the next ones. At most MAX_DISPATCHES_PER_BATCH.
   */
  dispatchesPerSubmit = MAX_DISPATCHES_PER_BATCH;

  constructor(
    readonly device: GPUDevice,
    readonly shaders: Map<string, ShaderInfo>,
  ) {
    this.pool = new BufferPool(device);
    this.pool.onTrim = () => this.bindGroups.clear();
    const arenaSize = MAX_DISPATCHES_PER_BATCH * UNIFORM_SLOT;
    this.uniformArena = device.createBuffer({ size: arenaSize, usage: Usage.UNIFORM | Usage.COPY_DST, label: 'onelayer:uniforms' });
    this.uniformBytes = new Uint8Array(arenaSize);
    this.uniformView = new DataView(this.uniformBytes.buffer);
    device.lost.then((info) => {
      this.lostInfo = info;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.firstError ??= new GPUOpError(`onelayer: GPU error after op '${this.lastOp}': ${err.message}`);
    });
  }

  checkHealthy(op: string): void {
    if (this.lostInfo) {
      throw new DeviceLostError(`onelayer: the GPU device was lost (${this.lostInfo.reason}: ${this.lostInfo.message}); op '${op}' cannot run. Re-run init() and reload the last checkpoint.`);
    }
    if (this.firstError) throw this.firstError;
  }

  private pipeline(spec: DispatchSpec, shader: ShaderInfo, entry: string, key: string): GPUComputePipeline {
    const constants = spec.constants ?? {};
    let p = this.pipelines.get(key);
    if (!p) {
      for (const name of Object.keys(constants)) {
        if (!shader.overrides.has(name)) {
          throw new GPUOpError(`onelayer: op '${spec.op}': shaders/${spec.kernel}.wgsl has no override constant '${name}' (it has: ${[...shader.overrides].join(', ') || 'none'})`);
        }
      }
      const t0 = performance.now();
      p = this.device.createComputePipeline({
        label: `${spec.op}:${key}`,
        layout: 'auto',
        compute: { module: shader.module, entryPoint: entry, constants },
      });
      this.pipelineLog.push({ key, kernel: spec.kernel, entry, constants: { ...constants }, createMs: performance.now() - t0 });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private writeParams(spec: DispatchSpec, b: BindingInfo): number {
    if (this.uniformUsed + UNIFORM_SLOT > this.uniformBytes.byteLength) this.flush();
    const offset = this.uniformUsed;
    const given = spec.params ?? {};
    for (const key of Object.keys(given)) {
      if (!b.members!.has(key)) throw new GPUOpError(`onelayer: op '${spec.op}': shaders/${spec.kernel}.wgsl uniform '${b.name}' has no member '${key}'`);
    }
    for (const [name, m] of b.members!) {
      const v = given[name];
      if (v === undefined || !Number.isFinite(v)) throw new GPUOpError(`onelayer: op '${spec.op}': shaders/${spec.kernel}.wgsl needs uniform ${b.name}.${name} (got ${v})`);
      if (m.type === 'f32') this.uniformView.setFloat32(offset + m.offset, v, true);
      else if (m.type === 'u32') this.uniformView.setUint32(offset + m.offset, v, true);
      else this.uniformView.setInt32(offset + m.offset, v, true);
    }
    this.uniformUsed += Math.max(UNIFORM_SLOT, Math.ceil(b.size / UNIFORM_SLOT) * UNIFORM_SLOT);
    return offset;
  }

  private ensureEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.encoder = this.device.createCommandEncoder({ label: 'onelayer:batch' });
    }
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  private bindGroup(op: string, pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
    let key = `${this.id(pipeline)}`;
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      key += `|${e.binding}:${this.id(r.buffer)}:${r.offset ?? 0}:${r.size ?? 0}`;
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      let layout = this.layouts.get(pipeline);
      if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
      group = this.device.createBindGroup({ label: op, layout, entries });
      // A bound on the cache for programs that never repeat a binding (the map is rebuilt as they run).
      if (this.bindGroups.size >= 8192) this.bindGroups.clear();
      this.bindGroups.set(key, group);
    }
    return group;
  }

  /** Whether this device loaded the kernel (an optional one needs its feature: src/gpu/registry.ts). */
  hasKernel(kernel: KernelName): boolean {
    return this.shaders.has(kernel);
  }

  /** Records one compute dispatch. Validates the bindings against the shader's reflected interface first. */
  dispatch(spec: DispatchSpec, flops = 0): void {
    this.checkHealthy(spec.op);
    const shader = this.shaders.get(spec.kernel);
    if (!shader) throw new GPUOpError(`onelayer: op '${spec.op}': unknown kernel '${spec.kernel}' (not in src/gpu/registry.ts)`);
    const entry = spec.entry ?? 'main';
    const bindings = shader.entries.get(entry);
    if (!bindings) throw new GPUOpError(`onelayer: op '${spec.op}': shaders/${spec.kernel}.wgsl has no compute entry point '${entry}'`);
    const where = (): string => `op '${spec.op}', shaders/${spec.kernel}.wgsl entry '${entry}'`;
    for (const name of Object.keys(spec.buffers)) {
      const b = bindings.find((x) => x.name === name);
      if (!b || b.kind === 'uniform') {
        throw new GPUOpError(`onelayer: ${where()}: no storage binding named '${name}' (bindings: ${bindings.filter((x) => x.kind !== 'uniform').map((x) => x.name).join(', ')})`);
      }
    }
    const entries: GPUBindGroupEntry[] = [];
    // Bound ranges per buffer: views of one arena may share a dispatch when their ranges are disjoint.
    const seen = new Map<GPUBuffer, { b: BindingInfo; start: number; end: number }[]>();
    let uniform: CapturedDispatch['uniform'] = null;
    for (const b of bindings) {
      if (b.kind === 'uniform') {
        const offset = this.writeParams(spec, b);
        if (this.capture) uniform = { index: entries.length, bytes: this.uniformBytes.slice(offset, this.uniformUsed) };
        entries.push({ binding: b.binding, resource: { buffer: this.uniformArena, offset, size: Math.max(16, Math.ceil(b.size / 16) * 16) } });
        continue;
      }
      const t = spec.buffers[b.name];
      if (!t) throw new GPUOpError(`onelayer: ${where()}: binding '${b.name}' (@binding(${b.binding})) was not given a buffer`);
      if (t.byteSize <= 0 || t.byteSize < b.size) throw new GPUOpError(`onelayer: ${where()}: binding '${b.name}' needs at least ${Math.max(4, b.size)} bytes, got ${t.byteSize}`);
      const offset = t.byteOffset ?? 0;
      // Rounded up to whole vec4s where the buffer allows (pooled buffers and arena views always do): vec4 kernels
      // may then cover a tensor whose size is not a multiple of 4, computing into the padding.
      const size = Math.min(t.gpuBuffer.size - offset, Math.ceil(t.byteSize / 16) * 16);
      const ranges = seen.get(t.gpuBuffer) ?? [];
      for (const o of ranges) {
        // WebGPU: a buffer written through one binding may not be bound read-only in the same dispatch (whatever the
        // ranges), and two written bindings may not overlap.
        const overlap = offset < o.end && o.start < offset + size;
        const rw = (o.b.kind === 'storage-read-write' ? 1 : 0) + (b.kind === 'storage-read-write' ? 1 : 0);
        if (rw === 1 || (rw === 2 && overlap)) {
          throw new GPUOpError(`onelayer: ${where()}: the same buffer is bound to '${o.b.name}' and '${b.name}', and one of them is written (WebGPU forbids this aliasing)`);
        }
      }
      seen.set(t.gpuBuffer, [...ranges, { b, start: offset, end: offset + size }]);
      entries.push({ binding: b.binding, resource: { buffer: t.gpuBuffer, offset, size } });
    }
    const key = pipelineKey(spec.kernel, entry, spec.constants);
    const pipeline = this.pipeline(spec, shader, entry, key);
    const firstUse = !this.dispatched.has(key);
    if (firstUse) this.dispatched.add(key);
    const encoder = this.ensureEncoder();
    const bindGroup = this.bindGroup(spec.op, pipeline, entries);
    const wg: [number, number, number] = typeof spec.workgroups === 'number' ? grid(spec.workgroups) : [spec.workgroups[0], spec.workgroups[1], spec.workgroups[2] ?? 1];
    if (wg.some((n) => n > 65535)) throw new GPUOpError(`onelayer: ${where()}: workgroup count ${wg.join('×')} exceeds 65535`);
    this.capture?.dispatch({ op: spec.op, kernel: spec.kernel, entry, flops, pipeline, key, entries, uniform, workgroups: wg });
    const timestampWrites = this.profiler?.timestampWrites({ op: spec.op, kernel: spec.kernel, entry, flops, pipeline: key, firstUse });
    if (timestampWrites) {
      this.endPass();
      const p = encoder.beginComputePass({ label: spec.op, timestampWrites });
      p.setPipeline(pipeline);
      p.setBindGroup(0, bindGroup);
      p.dispatchWorkgroups(wg[0], wg[1], wg[2]);
      p.end();
    } else {
      this.pass ??= encoder.beginComputePass({ label: 'onelayer:pass' });
      this.pass.setPipeline(pipeline);
      this.pass.setBindGroup(0, bindGroup);
      this.pass.dispatchWorkgroups(wg[0], wg[1], wg[2]);
    }
    this.lastOp = spec.op;
    this.batchOps.push(spec.op);
    this.dispatchCount++;
    if (this.syncEveryOp || this.batchOps.length >= Math.min(this.dispatchesPerSubmit, MAX_DISPATCHES_PER_BATCH)) this.flush();
  }

  /** Zero-fills a buffer range, ordered with the dispatches around it. */
  clear(target: Bindable, op: string): void {
    this.checkHealthy(op);
    const offset = target.byteOffset ?? 0;
    this.capture?.clear(target.gpuBuffer, Math.ceil(target.byteSize / 4) * 4, op, offset);
    const encoder = this.ensureEncoder();
    this.endPass();
    encoder.clearBuffer(target.gpuBuffer, offset, Math.ceil(target.byteSize / 4) * 4);
    this.batchOps.push(op);
  }

  copy(src: Bindable, dst: Bindable, bytes: number, op: string): void {
    this.checkHealthy(op);
    const srcOffset = src.byteOffset ?? 0;
    const dstOffset = dst.byteOffset ?? 0;
    this.capture?.copy(src.gpuBuffer, dst.gpuBuffer, bytes, op, srcOffset, dstOffset);
    const encoder = this.ensureEncoder();
    this.endPass();
    encoder.copyBufferToBuffer(src.gpuBuffer, srcOffset, dst.gpuBuffer, dstOffset, bytes);
    this.batchOps.push(op);
  }

  /**
   * Uploads CPU data. Flushes first: queue writes run before any unsubmitted commands, and the pooled buffer may
   * have been used by them. `from` names the argument of a compiled step the data was derived from (see
   * src/tensor/compile.ts); inside a capture any other upload is refused.
   */
  upload(target: GPUBuffer, data: Float32Array | Uint32Array | Int32Array, op: string, from?: UploadSource, byteOffset = 0): void {
    this.checkHealthy(op);
    if (byteOffset !== 0 && this.capture) throw new GPUOpError(`onelayer: op '${op}': an upload into a view (byte offset ${byteOffset}) cannot be captured`);
    this.capture?.upload(target, data.byteLength, op, from);
    this.flush();
    this.device.queue.writeBuffer(target, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submits everything recorded so far. Does not wait for the GPU. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformBytes.buffer, 0, this.uniformUsed);
    const ops = this.batchOps;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.batchOps = [];
    this.uniformUsed = 0;
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    const describe = (kind: string, e: GPUError) => {
      const unique = [...new Set(ops)];
      this.firstError ??= new GPUOpError(`onelayer: GPU ${kind} in a batch of ops [${unique.slice(0, 12).join(', ')}${unique.length > 12 ? ', …' : ''}]: ${e.message}`);
    };
    this.pendingErrors.push(
      Promise.all([oom, validation]).then(([o, v]) => {
        if (o) describe('out-of-memory', o);
        if (v) describe('validation error', v);
      }),
    );
    if (this.syncEveryOp) void this.checkErrors();
  }

  /** Waits for error scopes of submitted batches and throws the first GPU error, naming its ops. */
  async checkErrors(): Promise<void> {
    const pending = this.pendingErrors;
    this.pendingErrors = [];
    await Promise.all(pending);
    this.checkHealthy(this.lastOp);
  }

  /**
   * Host work that is part of a training step but not a GPU command (SGD writing the step's learning rate):
   * runs now, and a capture records it to run again before every replay.
   */
  perStep(op: string, fn: () => void): void {
    if (this.capture) this.capture.perStep(op, fn);
    else fn();
  }

  /** Reads a buffer back: the only place the CPU waits for the GPU. Refused (synchronously) inside a capture. */
  read(src: Bindable, op = 'read'): Promise<ArrayBuffer> {
    this.capture?.read(op);
    return this.readBack(src, op);
  }

  private async readBack(src: Bindable, op: string): Promise<ArrayBuffer> {
    this.checkHealthy(op);
    const bytes = Math.ceil(src.byteSize / 4) * 4;
    const staging = this.pool.acquire(bytes, Usage.MAP_READ | Usage.COPY_DST, 'onelayer:readback');
    try {
      this.ensureEncoder();
      this.endPass();
      this.encoder!.copyBufferToBuffer(src.gpuBuffer, src.byteOffset ?? 0, staging, 0, bytes);
      this.batchOps.push(op);
      this.flush();
      await this.checkErrors();
      try {
        await staging.mapAsync(0x0001 /* GPUMapMode.READ */, 0, bytes);
      } catch (e) {
        // A lost device fails pending maps ("Buffer was unmapped before mapping was resolved") before its lost
        // promise settles: give that a moment, so the error says what happened.
        await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 200))]);
        this.checkHealthy(op);
        throw e;
      }
      const copy = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
      this.checkHealthy(op);
      return copy;
    } finally {
      this.pool.release(staging);
    }
  }

  /** Waits until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  // Replay (src/gpu/capture.ts) encodes straight into the batch: these give it the open pass or encoder and count
  // what it recorded, so batching, submission and error reports work as for dispatch().

  /** The open compute pass of the current batch (begun if needed). */
  replayPass(): GPUComputePassEncoder {
    return (this.pass ??= this.ensureEncoder().beginComputePass({ label: 'onelayer:pass' }));
  }

  /** The batch's encoder with no pass open (for clears and copies). */
  replayEncoder(): GPUCommandEncoder {
    const e = this.ensureEncoder();
    this.endPass();
    return e;
  }

  /** Counts one replayed command; returns true when it submitted the batch (the pass is gone). */
  replayed(op: string, dispatch: boolean): boolean {
    this.batchOps.push(op);
    this.lastOp = op;
    if (dispatch) this.dispatchCount++;
    if (this.batchOps.length < Math.min(this.dispatchesPerSubmit, MAX_DISPATCHES_PER_BATCH)) return false;
    this.flush();
    return true;
  }

  allocate(bytes: number, label?: string): GPUBuffer {
    return this.pool.acquire(bytes, STORAGE_USAGE, label);
  }

  memoryStats(): MemoryStats {
    return this.pool.memoryStats();
  }
}
