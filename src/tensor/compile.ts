import { runtime } from '../device/index.js';
import { CaptureError, Recording } from '../gpu/capture.js';
import { Storage, Tensor, shapeStr } from './tensor.js';
import { tidy } from './scope.js';

/**
 * compileStep(fn): capture a training step once, replay it with no per-op host work — what CUDA Graphs and
 * TinyJit do, for WebGPU.
 *
 *   const step = compileStep((x: Tensor, labels: Int32Array) => {
 *     const loss = crossEntropy(model.forward(x), labels);
 *     loss.backward(); optimizer.step(); optimizer.zeroGrad();
 *     return loss;
 *   });
 *   const loss = step(x, labels);   // 1st call with these argument shapes: runs eagerly and records; later: replay
 *
 * - The first call for a set of argument shapes runs fn eagerly inside tidy() while src/gpu/capture.ts records
 *   every command and keeps the buffers the step used (see Recording). When that call created state that outlives
 *   it (a model's first step makes the gradient and momentum buffers), it records again on the next call. Later calls copy tensor arguments into the
 *   captured input buffers, re-derive uploads made from CPU arguments (crossEntropy's labels), run the per-step
 *   host callbacks (SGD's learning rate and step count) and re-encode the recorded commands. A new set of shapes
 *   records a new variant; the least recently used beyond `maxVariants` is freed.
 * - fn must do the same GPU work whenever it gets arguments of the same shapes: host state it reads (model.training,
 *   which parameters have gradients, option values) is baked into the recording, and host code in fn runs on
 *   recording calls only (set the learning rate before calling the step, not inside it). Values that change from
 *   step to step without changing the work go through runtime().perStep() (SGD does this for its learning rate).
 * - fn may return a Tensor, or arrays / plain objects of Tensors. They are valid until the next call of the same
 *   compiled step (like CUDA graph outputs): that call overwrites their buffers, and using them after it throws.
 * - What a replay cannot repeat is an error at the first call, naming the op: a readback inside fn (so also any
 *   data-dependent shape), an upload of CPU data that is not an argument, a tensor created inside fn that outlives
 *   it and is not zero-initialised.
 * - Arguments: Tensors (not requiring grad), typed arrays and number arrays (their lengths are part of the shape
 *   signature), and primitives (their values are: a new value records a new variant).
 */
export interface CompiledStep<A extends unknown[], R> {
  (...args: A): R;
  readonly name: string;
  /** Variants recorded and kept (one per argument-shape signature). */
  readonly variants: number;
  /** Dispatches one replay of the most recently used variant encodes. */
  readonly dispatchesPerStep: number;
  /** Frees every recording (their buffers return to the pool) and invalidates the last outputs. */
  dispose(): void;
}

export interface CompileOptions {
  /** Names the step in errors. */
  name?: string;
  /** Variants kept before the least recently used is freed. Default 4. */
  maxVariants?: number;
}

interface Variant {
  /** null: the call that should have recorded created state (a model's first step): the next call records. */
  recording: Recording | null;
  /** fn's captured result: rebuilt around fresh output tensors on every replay. */
  result: unknown;
  /** The first call's returned tensors (identity keys into result; expired after that call) and their buffers. */
  outputs: Tensor[];
  buffers: GPUBuffer[];
}

function signature(name: string, args: readonly unknown[]): string {
  let key = '';
  args.forEach((a, i) => {
    if (a instanceof Tensor) key += `t${a.shape.join('x')};`;
    else if (ArrayBuffer.isView(a)) key += `${a.constructor.name}${(a as unknown as ArrayLike<number>).length};`;
    else if (Array.isArray(a) && a.every((v) => typeof v === 'number')) key += `a${a.length};`;
    else if (a === null || a === undefined || ['number', 'string', 'boolean'].includes(typeof a)) key += `${typeof a}:${String(a)};`;
    else throw new CaptureError(`onelayer: compileStep '${name}': argument ${i} must be a Tensor, a typed array, an array of numbers or a primitive, got ${typeof a}`);
  });
  return key;
}

/** Rebuilds a result of Tensors / arrays / plain objects with each Tensor mapped; anything else is refused. */
function mapTensors(name: string, value: unknown, f: (t: Tensor) => Tensor): unknown {
  if (value instanceof Tensor) return f(value);
  if (value === undefined || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => mapTensors(name, v, f));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapTensors(name, v, f)]));
  }
  throw new CaptureError(`onelayer: compileStep '${name}': fn must return Tensors (or arrays / plain objects of them), got ${typeof value}: a replay could not recompute it`);
}

let unnamed = 0;

export function compileStep<A extends unknown[], R>(fn: (...args: A) => R, options: CompileOptions = {}): CompiledStep<A, R> {
  const name = options.name ?? (fn.name || `step${++unnamed}`);
  const maxVariants = Math.max(1, options.maxVariants ?? 4);
  const variants = new Map<string, Variant>();
  let last: Tensor[] = [];
  let lastDispatches = 0;
  const stale = `onelayer: this tensor was returned by compiled step '${name}', which has been called again since (or disposed): a compiled step's outputs live until its next call, whose replay overwrites them. Read or copy what you need before calling the step again.`;

  const expireLast = () => {
    for (const t of last) t.expire(stale);
    last = [];
  };

  /** Records a call. retry: the previous call with these shapes created state (see Recording.finalize). */
  const capture = (args: readonly unknown[], retry: boolean): Variant => {
    const rt = runtime();
    const recording = new Recording(rt, name, args);
    let result: unknown;
    try {
      // Tensor arguments are copied into buffers of the recording, which fn sees instead of the caller's.
      const wrapped = args.map((a, i) => {
        if (!(a instanceof Tensor)) return a;
        if (a.requiresGrad) throw new CaptureError(`onelayer: compileStep '${name}': argument ${i} ${shapeStr(a.shape)} requires grad; a compiled step's tensor arguments are data (gradients flow into parameters)`);
        const buffer = rt.allocate(a.byteSize, `onelayer:step:${name}:input${i}`);
        recording.addInput(i, buffer, a.byteSize);
        rt.copy(a, { gpuBuffer: buffer, byteSize: a.byteSize }, a.byteSize, 'compileStep.input');
        return new Tensor(a.shape, new Storage(buffer, a.byteSize, false), false, a.dtype);
      });
      recording.begin();
      try {
        result = tidy(() => fn(...(wrapped as A)));
      } finally {
        recording.end();
      }
      if (recording.error) throw recording.error;
      const outputs: Tensor[] = [];
      const seen = new Set<Tensor>();
      mapTensors(name, result, (t) => {
        if (!seen.has(t)) outputs.push(t);
        seen.add(t);
        return t;
      });
      const buffers = new Set(outputs.map((t) => t.gpuBuffer));
      for (const t of outputs) {
        if (!recording.madeInside(t.gpuBuffer)) {
          throw new CaptureError(`onelayer: compileStep '${name}': fn returned ${t} which existed before the step (an argument or parameter); return a tensor computed by the step`);
        }
      }
      const creates = recording.finalize(buffers);
      if (creates !== null) {
        recording.release();
        if (retry) throw new CaptureError(`onelayer: compileStep '${name}': op '${creates}' writes a tensor that is created inside the step and outlives it, on every call: a replay cannot create tensors. Create it before the step, or return it.`);
        return { recording: null, result, outputs: [], buffers: [] };
      }
      // The recording owns the returned tensors' buffers now: disposing them must not hand them to the pool.
      for (const t of outputs) t.storage.pooled = false;
      return { recording, result, outputs, buffers: outputs.map((t) => t.gpuBuffer) };
    } catch (e) {
      recording.release();
      throw e;
    }
  };

  const step = ((...args: A): R => {
    const key = signature(name, args);
    let v = variants.get(key);
    const rec = v?.recording;
    if (v && rec) {
      variants.delete(key); // re-inserted below: Map order is the LRU order
      variants.set(key, v);
      for (const a of args) if (a instanceof Tensor && a.isDisposed) throw new CaptureError(`onelayer: compileStep '${name}': argument ${a} was disposed`);
      rec.replay(args); // encodes the argument copies first, so a previous output may be passed back in
      expireLast();
      const buffers = v.buffers;
      const fresh = v.outputs.map((t, i) => new Tensor(t.shape, new Storage(buffers[i], t.byteSize, false), false, t.dtype));
      const index = new Map(v.outputs.map((t, i) => [t, fresh[i]]));
      last = fresh;
      lastDispatches = rec.dispatches;
      return mapTensors(name, v.result, (t) => index.get(t)!) as R;
    }
    expireLast();
    variants.delete(key);
    while (variants.size >= maxVariants) {
      const [oldest, old] = variants.entries().next().value as [string, Variant];
      variants.delete(oldest);
      old.recording?.release();
    }
    const retry = v !== undefined;
    v = capture(args, retry);
    variants.set(key, v);
    last = [...v.outputs];
    lastDispatches = v.recording?.dispatches ?? 0;
    return v.result as R;
  }) as CompiledStep<A, R>;

  Object.defineProperties(step, {
    name: { value: name },
    variants: { get: () => variants.size },
    dispatchesPerStep: { get: () => lastDispatches },
    dispose: {
      value: () => {
        expireLast();
        for (const v of variants.values()) v.recording?.release();
        variants.clear();
      },
    },
  });
  return step;
}
