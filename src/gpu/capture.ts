import { GPUOpError, type Runtime } from './runtime.js';
import { Usage } from './pool.js';
import type { CaptureSink, CapturedDispatch, UploadSource } from './capture-sink.js';

/**
 * Step capture and replay: the GPU half of compileStep (src/tensor/compile.ts).
 *
 * While a Recording is the runtime's `capture`, the step runs eagerly as usual and every dispatch, clear, copy,
 * argument upload and per-step host callback is also written down, together with the buffers it binds. Every
 * buffer the pool hands out meanwhile is tracked: those the step released again (its intermediates) and those it
 * returns are withheld from the pool afterwards and belong to the recording — a static memory plan in which the
 * pool's own reuse during the step already shares buffers between non-overlapping lifetimes. Replay then encodes
 * the same commands from prebuilt bind groups (uniforms in one buffer of 256-byte slots, written once): no
 * validation, no uniform packing, no cache keys, no allocation.
 *
 * The runtime calls a CaptureSink (the Recording) from dispatch/clear/copy/upload/read/perStep while one is set.
 */

export type { CaptureSink, CapturedDispatch, UploadSource };

/** A step cannot be captured (a readback inside it, an upload of data that is not an argument, ...). */
export class CaptureError extends GPUOpError {
  override name = 'CaptureError';
}

const DISPATCH = 0;
const CLEAR = 1;
const COPY = 2;
const HOST = 3;

/** One recorded command. One class (not a union of object shapes) so that the replay loop stays monomorphic. */
class Command {
  group: GPUBindGroup | null = null;
  constructor(
    readonly kind: number,
    readonly op: string,
    readonly dispatch: CapturedDispatch | null,
    readonly src: GPUBuffer | null,
    readonly dst: GPUBuffer | null,
    readonly bytes: number,
    readonly host: ((args: readonly unknown[]) => void) | null,
    /** Byte offsets of clears and copies (views into an arena). */
    readonly srcOffset = 0,
    readonly dstOffset = 0,
  ) {}
}

const SLOT = 256;
const layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();

export class Recording implements CaptureSink {
  private commands: Command[] = [];
  /** Host commands that touch nothing recorded before them: run together before the first command of a replay. */
  private prelude: Command[] = [];
  private inputs: { arg: number; buffer: GPUBuffer; bytes: number }[] = [];
  private acquired = new Set<GPUBuffer>();
  /** Acquired during the capture and not yet used by any command since. */
  private fresh = new Set<GPUBuffer>();
  /** The op that first used a buffer after its (last) acquisition: names tensors that outlive the step. */
  private firstUse = new Map<GPUBuffer, string>();
  private touched = new Set<GPUBuffer>();
  private hostDepth = 0;
  private hostTargets: GPUBuffer[] = [];
  private owned: GPUBuffer[] = [];
  /** Buffers the recording binds but does not own (parameters, gradients, optimizer state): checked before replay. */
  private external: GPUBuffer[] = [];
  private uniforms: GPUBuffer | null = null;
  /** Buffers of argument uploads into a buffer the step had used before (see upload()). */
  private staging: GPUBuffer[] = [];
  /** The first refusal (kept: fn may have caught it, or it surfaced as a rejected promise). */
  error: CaptureError | null = null;
  dispatches = 0;

  constructor(
    private readonly rt: Runtime,
    readonly name: string,
    private readonly args: readonly unknown[],
  ) {}

  /** An argument tensor is copied into this buffer (owned by the recording) at the start of every replay. */
  addInput(arg: number, buffer: GPUBuffer, bytes: number): void {
    this.inputs.push({ arg, buffer, bytes });
    this.owned.push(buffer);
  }

  /** Whether the buffer was handed out by the pool during the capture. */
  madeInside(b: GPUBuffer): boolean {
    return this.acquired.has(b);
  }

  begin(): void {
    if (this.rt.capture) throw new CaptureError(`onelayer: compileStep '${this.name}': called while another step is being captured`);
    this.rt.capture = this;
    this.rt.pool.onAcquire = (b) => {
      this.acquired.add(b);
      this.fresh.add(b);
      this.firstUse.delete(b);
    };
  }

  end(): void {
    if (this.rt.capture === this) this.rt.capture = null;
    this.rt.pool.onAcquire = null;
  }

  private fail(op: string, message: string): never {
    this.error ??= new CaptureError(`onelayer: compileStep '${this.name}': op '${op}' ${message}`);
    throw this.error;
  }

  private touch(b: GPUBuffer, op: string): void {
    if (this.fresh.delete(b)) this.firstUse.set(b, op);
    this.touched.add(b);
  }

  dispatch(d: CapturedDispatch): void {
    d.entries.forEach((e, i) => {
      if (i !== d.uniform?.index) this.touch((e.resource as GPUBufferBinding).buffer, d.op);
    });
    this.commands.push(new Command(DISPATCH, d.op, d, null, null, 0, null));
  }

  clear(buffer: GPUBuffer, bytes: number, op: string, offset = 0): void {
    this.touch(buffer, op);
    this.commands.push(new Command(CLEAR, op, null, null, buffer, bytes, null, 0, offset));
  }

  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, op: string, srcOffset = 0, dstOffset = 0): void {
    this.touch(src, op);
    this.touch(dst, op);
    this.commands.push(new Command(COPY, op, null, src, dst, bytes, null, srcOffset, dstOffset));
  }

  upload(target: GPUBuffer, bytes: number, op: string, from: UploadSource | undefined): void {
    if (this.hostDepth > 0) {
      this.hostTargets.push(target);
      return;
    }
    const arg = from ? this.args.indexOf(from.source) : -1;
    if (arg < 0) {
      this.fail(op, 'uploads CPU data that is not an argument of the step: a replay could not repeat it. Pass the data as an argument, or create the tensor before the step.');
    }
    const rt = this.rt;
    const convert = from!.convert as (s: unknown) => Float32Array | Int32Array | Uint32Array;
    if (this.touched.has(target)) {
      // The pool gave the step a buffer it had used earlier in the step: writing it first thing on replay would
      // clobber that earlier use, and writing it in place would split the replay's submission. Upload into a
      // buffer of its own first thing instead, and copy from there in place (a GPU command, in order).
      const staging = rt.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST, label: `onelayer:step:${this.name}:upload` });
      this.staging.push(staging);
      this.host(op, [staging], (args) => rt.upload(staging, convert(args[arg]), op));
      this.copy(staging, target, bytes, op);
      return;
    }
    this.host(op, [target], (args) => rt.upload(target, convert(args[arg]), op));
  }

  read(op: string): void {
    this.fail(op, 'reads GPU data back inside the step: a replay cannot wait for the GPU or depend on values. Read the step\'s returned tensors after it returns.');
  }

  perStep(op: string, fn: () => void): void {
    this.hostDepth++;
    this.hostTargets = [];
    try {
      fn();
    } finally {
      this.hostDepth--;
    }
    this.host(op, this.hostTargets, fn);
  }

  /** A host command. Hoisted to the start of a replay when nothing recorded before it used what it writes. */
  private host(op: string, targets: GPUBuffer[], run: (args: readonly unknown[]) => void): void {
    const hoist = targets.every((t) => !this.touched.has(t));
    for (const t of targets) this.touch(t, op);
    const c = new Command(HOST, op, null, null, null, 0, run);
    (hoist ? this.prelude : this.commands).push(c);
  }

  /**
   * Ends the plan: withholds the step's intermediates from the pool, then builds the uniform buffer and the bind
   * groups. `outputs`: the buffers of returned tensors. Returns null, or — when the step created tensors that
   * outlive it (gradients, momentum buffers: state made on a model's first step) — the op that first wrote one:
   * such a recording is not replayable (it would initialise that state again, and that state's buffer may have
   * served as an intermediate earlier in the step), so the caller releases it and records the next call instead.
   */
  finalize(outputs: Set<GPUBuffer>): string | null {
    const pool = this.rt.pool;
    for (const b of this.acquired) if (pool.withhold(b)) this.owned.push(b);
    const owned = new Set(this.owned);
    for (const b of this.acquired) {
      if (!owned.has(b) && !outputs.has(b) && pool.isLive(b)) return this.firstUse.get(b) ?? '(unused)';
    }
    for (const b of outputs) {
      if (this.acquired.has(b)) {
        this.owned.push(b);
        owned.add(b);
      }
    }
    const staging = new Set(this.staging);
    this.external = [...this.touched].filter((b) => !owned.has(b) && !staging.has(b));
    // Uniforms: one buffer, each dispatch's bytes in its own 256-byte-aligned slot, bound at that offset.
    let size = 0;
    for (const c of this.commands) if (c.dispatch?.uniform) size += Math.ceil(c.dispatch.uniform.bytes.length / SLOT) * SLOT;
    const device = this.rt.device;
    const bytes = new Uint8Array(Math.max(SLOT, size));
    const ubuf = (this.uniforms = device.createBuffer({ size: bytes.length, usage: Usage.UNIFORM | Usage.COPY_DST, label: `onelayer:step:${this.name}:uniforms` }));
    let offset = 0;
    for (const c of this.commands) {
      const d = c.dispatch;
      if (!d) continue;
      this.dispatches++;
      const entries = d.entries.slice();
      if (d.uniform) {
        bytes.set(d.uniform.bytes, offset);
        const r = entries[d.uniform.index].resource as GPUBufferBinding;
        entries[d.uniform.index] = { binding: entries[d.uniform.index].binding, resource: { buffer: ubuf, offset, size: r.size } };
        offset += Math.ceil(d.uniform.bytes.length / SLOT) * SLOT;
      }
      let layout = layouts.get(d.pipeline);
      if (!layout) layouts.set(d.pipeline, (layout = d.pipeline.getBindGroupLayout(0)));
      c.group = device.createBindGroup({ label: d.op, layout, entries });
    }
    device.queue.writeBuffer(ubuf, 0, bytes);
    return null;
  }

  /** Re-encodes the step for these arguments (already checked against the recorded shapes). */
  replay(args: readonly unknown[]): void {
    const rt = this.rt;
    rt.checkHealthy(`compileStep '${this.name}'`);
    const pool = rt.pool;
    for (const b of this.external) {
      if (!pool.isLive(b)) throw new CaptureError(`onelayer: compileStep '${this.name}': a tensor the step uses (${b.label}) was disposed after it was captured (a parameter, gradient or optimizer buffer?); compile the step again.`);
    }
    if (this.prelude.length > 0) {
      rt.flush();
      for (const c of this.prelude) c.host!(args);
    }
    for (const i of this.inputs) {
      const arg = args[i.arg] as { gpuBuffer: GPUBuffer; byteOffset?: number };
      rt.replayEncoder().copyBufferToBuffer(arg.gpuBuffer, arg.byteOffset ?? 0, i.buffer, 0, i.bytes);
      rt.replayed('compileStep.input', false);
    }
    const profiler = rt.profiler;
    let pass: GPUComputePassEncoder | null = null;
    let pipeline: GPUComputePipeline | null = null; // the pass's current pipeline: consecutive dispatches often share one
    const cmds = this.commands;
    for (let i = 0; i < cmds.length; i++) {
      const c = cmds[i];
      const kind = c.kind;
      if (kind === DISPATCH) {
        const d = c.dispatch!;
        const tw = profiler?.timestampWrites({ op: c.op, kernel: d.kernel, entry: d.entry, flops: d.flops, pipeline: d.key, firstUse: false });
        if (tw) {
          const p = rt.replayEncoder().beginComputePass({ label: c.op, timestampWrites: tw });
          p.setPipeline(d.pipeline);
          p.setBindGroup(0, c.group);
          p.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
          p.end();
          pass = null;
        } else {
          if (!pass) {
            pass = rt.replayPass();
            pipeline = null;
          }
          if (d.pipeline !== pipeline) pass.setPipeline((pipeline = d.pipeline));
          pass.setBindGroup(0, c.group);
          pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
        }
      } else if (kind === CLEAR) {
        rt.replayEncoder().clearBuffer(c.dst!, c.dstOffset, c.bytes);
        pass = null;
      } else if (kind === COPY) {
        rt.replayEncoder().copyBufferToBuffer(c.src!, c.srcOffset, c.dst!, c.dstOffset, c.bytes);
        pass = null;
      } else {
        c.host!(args); // flushes before it writes
        pass = null;
      }
      if (rt.replayed(c.op, kind === DISPATCH)) pass = null;
    }
  }

  /** Gives the owned buffers back to the pool (after submitting anything that still uses them). */
  release(): void {
    this.end();
    this.rt.flush();
    for (const b of this.owned) if (this.rt.pool.isLive(b)) this.rt.pool.release(b);
    this.owned = [];
    for (const b of this.staging) b.destroy();
    this.staging = [];
    this.commands = [];
    this.prelude = [];
    this.uniforms = null;
  }
}
