import { runtime } from '../device/index.js';
import type { Bindable } from '../gpu/runtime.js';
import { type DType, byteSizeOf, fromHalf, toHalf } from './dtype.js';
import { Random, globalRandom } from './random.js';
import { trackInScope } from './scope.js';

export type Shape = readonly number[];

/** A reference-counted GPU buffer; tensor views (reshape) and autograd's saved tensors share one. */
export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteSize: number,
    /** false: the buffer belongs to someone else (a compiled step's recording) and does not return to the pool. */
    public pooled = true,
    /**
     * Where the values start in the buffer (a view into an arena, see view()): a multiple of 256, the binding
     * offset alignment of WebGPU storage buffers.
     */
    readonly byteOffset = 0,
    /** The arena's storage a view keeps alive (released with the view's last reference). */
    readonly parent: Storage | null = null,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs !== 0) return;
    if (this.parent) this.parent.release();
    else if (this.pooled) runtime().pool.release(this.buffer);
  }
}

/** WebGPU's minStorageBufferOffsetAlignment default (and the most any adapter asks): views start at multiples of it. */
export const VIEW_ALIGNMENT = 256;

/** A node of the autograd graph: the op that produced a tensor, its inputs, and how to send gradients back. */
export interface GradNode {
  op: string;
  inputs: Tensor[];
  /** Accumulates (+=) into the inputs' .grad buffers, given the output's gradient. */
  backward(gradOut: Tensor): void;
  /** Drops saved tensors; called once backward has used them. */
  release(): void;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

let nextId = 1;

/**
 * The graph walk behind Tensor.backward(). Tensors sit below autograd (autograd's nodes and gradient buffers are
 * tensors), so this file cannot import the engine; src/autograd/engine.ts registers its `backward` here when it
 * loads. Every op imports the engine to record its node, so any tensor with a graph has it registered.
 */
export type BackwardFn = (root: Tensor, gradient?: Tensor) => void;
let backwardImpl: BackwardFn | null = null;

/** Called once by src/autograd/engine.ts. */
export function registerBackward(fn: BackwardFn): void {
  backwardImpl = fn;
}

/** Contiguous, NCHW; float32 unless created with dtype 'f16' (the mixed-precision ops' operands). */
export class Tensor implements Bindable {
  readonly id = nextId++;
  readonly size: number;
  requiresGrad: boolean;
  /** The gradient, accumulated in place by every use of this tensor (one buffer however often it is used). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it needs gradients. */
  node: GradNode | null = null;
  name = '';
  private _storage: Storage | null;
  /** Why the storage is gone when it was not a dispose() (a compiled step's output after the step's next call). */
  private expired: string | null = null;

  constructor(
    readonly shape: Shape,
    storage: Storage,
    requiresGrad = false,
    /** The element type. A gradient is always f32, whatever the tensor's dtype. */
    readonly dtype: DType = 'f32',
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 1) throw new Error(`onelayer: invalid tensor shape ${shapeStr(shape)}: every dimension must be a positive integer`);
    }
    this.size = sizeOf(shape);
    this._storage = storage;
    this.requiresGrad = requiresGrad;
    trackInScope(this);
  }

  get storage(): Storage {
    if (!this._storage && this.expired) throw new Error(this.expired);
    if (!this._storage) throw new Error(`onelayer: tensor ${shapeStr(this.shape)}${this.name ? ` '${this.name}'` : ''} was used after dispose()`);
    return this._storage;
  }
  get gpuBuffer(): GPUBuffer {
    return this.storage.buffer;
  }
  /** Offset of the values in gpuBuffer: 0, or a view's place in its arena. */
  get byteOffset(): number {
    return this.storage.byteOffset;
  }
  /**
   * Moves this tensor onto other storage (same size), releasing the old one: the tensor object, and so every
   * reference to it, stays. The optimizer uses it to move parameters into its arena; the caller copies the values.
   */
  replaceStorage(storage: Storage): void {
    if (storage.byteSize !== this.byteSize) throw new Error(`onelayer: replaceStorage: ${storage.byteSize} bytes for tensor ${shapeStr(this.shape)}`);
    const old = this.storage;
    this._storage = storage;
    old.release();
  }
  get byteSize(): number {
    return byteSizeOf(this.size, this.dtype);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this._storage === null;
  }
  /** Whether a gradient flows into this tensor (it requires grad and was not produced by an op: a parameter or input). */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** Copies the values back to the CPU, f16 widened to f32. (Not async: inside a step capture, the refusal throws right here.) */
  toArray(): Promise<Float32Array> {
    return runtime()
      .read(this, 'toArray')
      .then((b) => (this.dtype === 'f16' ? fromHalf(b, this.size) : new Float32Array(b, 0, this.size)));
  }

  /** The single value of a one-element tensor. */
  item(): Promise<number> {
    if (this.size !== 1) return Promise.reject(new Error(`onelayer: item() needs a one-element tensor, got shape ${shapeStr(this.shape)}`));
    return this.toArray().then((a) => a[0]);
  }

  /** Drops the storage like dispose(); a later use throws `message` (src/tensor/compile.ts: stale step outputs). */
  expire(message: string): void {
    this.dispose();
    this.expired = message;
  }

  /**
   * Frees the GPU buffer now (it returns to the pool), and the gradient. Safe to call twice. The autograd
   * node stays: an intermediate disposed before backward still routes gradients, since backward keeps its
   * own references to the values it needs.
   */
  dispose(): void {
    if (this._storage) {
      this._storage.release();
      this._storage = null;
    }
    this.grad?.dispose();
    this.grad = null;
  }

  /**
   * Reverse-mode autodiff from this tensor, as PyTorch's Tensor.backward: no argument for a one-element
   * tensor, a seed gradient of the same shape otherwise. All GPU work is recorded before this returns
   * (so it may be called inside tidy()); the promise resolves once it has been submitted.
   */
  backward(gradient?: Tensor): Promise<void> {
    if (!backwardImpl) throw new Error('onelayer: backward(): the autograd engine is not loaded (import it from onelayer, or any op)');
    backwardImpl(this, gradient);
    runtime().flush();
    return Promise.resolve();
  }

  /** A new tensor holding the same values, not connected to the graph. */
  detach(): Tensor {
    return new Tensor(this.shape, this.storage.retain(), false, this.dtype);
  }

  toString(): string {
    return `Tensor(${shapeStr(this.shape)}${this.dtype === 'f32' ? '' : `, ${this.dtype}`}${this.requiresGrad ? ', requiresGrad' : ''}${this.name ? `, '${this.name}'` : ''})`;
  }
}

export interface TensorOptions {
  requiresGrad?: boolean;
  /** Default 'f32'. */
  dtype?: DType;
}

/** An uninitialised tensor (its contents are whatever the pooled buffer held). Ops use it for outputs. */
export function empty(shape: Shape, options: TensorOptions = {}): Tensor {
  const dtype = options.dtype ?? 'f32';
  const bytes = byteSizeOf(sizeOf(shape), dtype);
  return new Tensor(shape, new Storage(runtime().allocate(bytes), bytes), options.requiresGrad ?? false, dtype);
}

/**
 * A tensor over `shape` that shares `base`'s buffer from float `offset` on (a view into an arena: the optimizer's
 * parameters, gradients and momentum). offset·4 + base.byteOffset must be a multiple of VIEW_ALIGNMENT, so that
 * the view can be bound on its own. The view keeps the base's storage alive.
 */
export function view(base: Tensor, offset: number, shape: Shape): Tensor {
  if (base.dtype !== 'f32') throw new Error(`onelayer: view(): the base must be f32, got ${base.dtype}`);
  const bytes = sizeOf(shape) * 4;
  const byteOffset = base.byteOffset + offset * 4;
  if (!Number.isInteger(offset) || offset < 0 || offset + sizeOf(shape) > base.size || byteOffset % VIEW_ALIGNMENT !== 0) {
    throw new Error(`onelayer: view(): ${shapeStr(shape)} at offset ${offset} does not fit ${shapeStr(base.shape)} at a ${VIEW_ALIGNMENT}-byte boundary`);
  }
  return new Tensor(shape, new Storage(base.gpuBuffer, bytes, false, byteOffset, base.storage.retain()));
}

export function tensor(values: Float32Array | number[], shape?: Shape, options: TensorOptions = {}): Tensor {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  const s = shape ?? [data.length];
  if (sizeOf(s) !== data.length) throw new Error(`onelayer: tensor(): ${data.length} values do not fill shape ${shapeStr(s)} (${sizeOf(s)} elements)`);
  const t = empty(s, options);
  if (t.dtype === 'f16') {
    const half = toHalf(data);
    runtime().upload(t.gpuBuffer, new Uint32Array(half.buffer), 'tensor');
  } else runtime().upload(t.gpuBuffer, data, 'tensor');
  return t;
}

export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  const t = empty(shape, options);
  runtime().clear(t, 'zeros');
  return t;
}

export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  if (options.dtype === 'f16') throw new Error(`onelayer: full(): f16 is not supported; create the tensor in f32 and cast() it`);
  const t = empty(shape, options);
  runtime().dispatch({ op: 'full', kernel: 'fill', buffers: { out: t }, params: { n: t.size, value }, workgroups: Math.ceil(t.size / 256) });
  return t;
}

export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

export interface RandomOptions extends TensorOptions {
  seed?: number;
  /** A generator to draw from (models pass their own so that initialisation is reproducible). */
  generator?: Random;
}

/** Normal(mean, std) values from the seeded generator. */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const g = options.generator ?? (options.seed !== undefined ? new Random(options.seed) : globalRandom());
  const data = new Float32Array(sizeOf(shape));
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  for (let i = 0; i < data.length; i++) data[i] = mean + std * g.normal();
  return tensor(data, shape, options);
}

/** Uniform values in [low, high) from the seeded generator. */
export function uniform(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const g = options.generator ?? (options.seed !== undefined ? new Random(options.seed) : globalRandom());
  const data = new Float32Array(sizeOf(shape));
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * g.next();
  return tensor(data, shape, options);
}
