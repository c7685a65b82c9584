import { type Shape, type Tensor, empty, tensor, uniform, zeros, ones } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';
import { conv2d } from '../ops/conv/index.js';
import { blend } from '../ops/blend.js';
import { foldBlend } from '../ops/fold.js';
import { narrowChannels } from '../ops/pad.js';
import { batchNorm2d, batchNormRelu } from '../ops/norm.js';
import { maxPool2d } from '../ops/pool.js';
import { linear } from '../ops/linear.js';
import { relu } from '../ops/elementwise.js';
import { cast } from '../ops/cast.js';
import { Module } from './module.js';

/** How a layer draws its initial values. Models pass one generator to every layer so a seed fixes the whole init. */
export interface InitOptions {
  /** The generator (default: a fresh Random(0)). */
  rng?: Random;
  /**
   * false: allocate the tensors without writing values (their contents are undefined). Only for counting
   * parameters / shapes, e.g. the model table, where initialising 20M values would be wasted work.
   */
  initialize?: boolean;
}

function checkPositiveInt(layer: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`onelayer: ${layer}: ${what} must be a positive integer, got ${v}`);
}

/** U(−bound, bound): PyTorch's default for conv/linear weights (kaiming_uniform with a = √5 gives bound = 1/√fan_in) and biases. */
export function initUniform(shape: Shape, bound: number, init: InitOptions): Tensor {
  if (init.initialize === false) return empty(shape);
  return uniform(shape, { generator: init.rng ?? new Random(0), low: -bound, high: bound });
}

export interface Conv2dOptions extends InitOptions {
  stride?: number;
  padding?: number;
  /** Default true, as torch.nn.Conv2d. */
  bias?: boolean;
}

/** torch.nn.Conv2d (square kernel, groups = 1). Weight [out, in, k, k]; init U(±1/√(in·k·k)) for weight and bias. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2dOptions = {},
  ) {
    super();
    checkPositiveInt('Conv2d', 'inChannels', inChannels);
    checkPositiveInt('Conv2d', 'outChannels', outChannels);
    checkPositiveInt('Conv2d', 'kernelSize', kernelSize);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    this.weight = this.registerParameter('weight', initUniform([outChannels, inChannels, kernelSize, kernelSize], bound, options));
    this.bias = options.bias === false ? null : this.registerParameter('bias', initUniform([outChannels], bound, options));
  }

  forward(x: Tensor): Tensor {
    return this.forwardStride(x, this.stride);
  }

  /**
   * The same conv with another stride: a shared conv is applied with stride 1 or 2 depending on where it is used.
   * With `blendFirst` (an SL blend's [inChannels, C'] matrix) it computes conv(blend(x, blendFirst)) as one conv
   * with the folded weight foldBlend(weight, blendFirst); x then has C' channels.
   * With `zeroPadded`, x [N, C, H, W] stands for itself zero-padded to the conv's (or the blend's) input width:
   * the conv then uses only the weight's (or the blend's) first C input channels, the same sums without the
   * zero terms.
   */
  forwardStride(x: Tensor, stride: number, blendFirst: Tensor | null = null, zeroPadded = false): Tensor {
    const C = x.shape[1];
    const narrow = (t: Tensor) => (zeroPadded && C < t.shape[1] ? narrowChannels(t, C) : t);
    const mixed = this.precision === 'mixed';
    // Mixed: the fold writes its weight in f16 directly (no cast pass); a plain weight is cast.
    const w = blendFirst ? foldBlend(this.weight, narrow(blendFirst), { dtype: mixed ? 'f16' : 'f32' }) : narrow(this.weight);
    if (mixed) return conv2d(cast(x, 'f16'), cast(w, 'f16'), this.bias, { stride, padding: this.padding });
    return conv2d(x, w, this.bias, { stride, padding: this.padding });
  }
}

export interface BatchNorm2dLayerOptions extends InitOptions {
  momentum?: number;
  eps?: number;
}

/** torch.nn.BatchNorm2d: weight 1, bias 0, running_mean 0, running_var 1 (buffers; num_batches_tracked is not kept). */
export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly momentum: number;
  readonly eps: number;

  constructor(
    readonly numFeatures: number,
    options: BatchNorm2dLayerOptions = {},
  ) {
    super();
    checkPositiveInt('BatchNorm2d', 'numFeatures', numFeatures);
    this.momentum = options.momentum ?? 0.1;
    this.eps = options.eps ?? 1e-5;
    const skip = options.initialize === false;
    this.weight = this.registerParameter('weight', skip ? empty([numFeatures]) : ones([numFeatures]));
    this.bias = this.registerParameter('bias', skip ? empty([numFeatures]) : zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', skip ? empty([numFeatures]) : zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', skip ? empty([numFeatures]) : ones([numFeatures]));
  }

  private opts() {
    return { weight: this.weight, bias: this.bias, runningMean: this.runningMean, runningVar: this.runningVar, training: this.training, momentum: this.momentum, eps: this.eps };
  }

  forward(x: Tensor): Tensor {
    return batchNorm2d(x, this.opts());
  }

  /** relu(bn(x)) fused in one kernel (same result as forward followed by relu). */
  forwardRelu(x: Tensor): Tensor {
    return batchNormRelu(x, this.opts());
  }
}

export interface LinearOptions extends InitOptions {
  bias?: boolean;
}

/** torch.nn.Linear: weight [out, in], bias [out], both U(±1/√in). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', initUniform([outFeatures, inFeatures], bound, options));
    this.bias = options.bias === false ? null : this.registerParameter('bias', initUniform([outFeatures], bound, options));
  }

  forward(x: Tensor): Tensor {
    if (this.precision === 'mixed') return linear(cast(x, 'f16'), cast(this.weight, 'f16'), this.bias);
    return linear(x, this.weight, this.bias);
  }
}

export interface BlendOptions extends InitOptions {
  /** Default false (the SL models' blends have no bias). */
  bias?: boolean;
  /**
   * 'identity' (default): I + U(±0.1/√n) noise, so an SL model starts as its S model plus a small channel mix
   * (the identity is full rank, so no symmetry to break). 'kaiming': U(±1/√n) as a 1×1 torch conv.
   */
  init?: 'identity' | 'kaiming';
}

/** An n×n channel mix (a 1×1 conv without spatial extent): y[:, o] = Σ_i m[o, i] x[:, i] (+ bias[o]). */
export class Blend extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly n: number,
    options: BlendOptions = {},
  ) {
    super();
    checkPositiveInt('Blend', 'n', n);
    const mode = options.init ?? 'identity';
    if (mode !== 'identity' && mode !== 'kaiming') throw new Error(`onelayer: Blend: init must be 'identity' or 'kaiming', got '${String(mode)}'`);
    const bound = 1 / Math.sqrt(n);
    let w: Tensor;
    if (options.initialize === false) w = empty([n, n]);
    else if (mode === 'kaiming') w = initUniform([n, n], bound, options);
    else {
      const rng = options.rng ?? new Random(0);
      const data = new Float32Array(n * n);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * 0.1 * bound;
      for (let i = 0; i < n; i++) data[i * n + i] += 1;
      w = tensor(data, [n, n]);
    }
    this.weight = this.registerParameter('weight', w);
    this.bias = options.bias ? this.registerParameter('bias', initUniform([n], bound, options)) : null;
  }

  forward(x: Tensor): Tensor {
    const mixed = this.precision === 'mixed';
    const xs = mixed ? cast(x, 'f16') : x;
    const m = mixed ? cast(this.weight, 'f16') : this.weight;
    return this.bias ? blend(xs, m, this.bias) : blend(xs, m);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride: number = kernelSize,
  ) {
    super();
    checkPositiveInt('MaxPool2d', 'kernelSize', kernelSize);
    checkPositiveInt('MaxPool2d', 'stride', stride);
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride });
  }
}

/** Children registered as '0', '1', … (PyTorch names) and applied in order. */
export class Sequential extends Module {
  private readonly layers: Module[] = [];
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }
  append(m: Module): this {
    this.registerModule(String(this.layers.length), m);
    this.layers.push(m);
    return this;
  }
  get length(): number {
    return this.layers.length;
  }
  at(i: number): Module {
    const m = this.layers[i];
    if (!m) throw new Error(`onelayer: Sequential.at(${i}): index out of range (length ${this.layers.length})`);
    return m;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i];
      // BatchNorm followed by ReLU runs as one fused kernel (same values, one pass fewer over the activations).
      if (m instanceof BatchNorm2d && this.layers[i + 1] instanceof ReLU) {
        y = m.forwardRelu(y);
        i++;
      } else y = m.forward(y);
    }
    return y;
  }
}

/**
 * An indexed list of modules ('0', '1', …) that the owner applies itself (per-position BatchNorms or blends
 * of a shared-weight model). It has no forward of its own.
 */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];
  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.append(m);
  }
  append(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new Error(`onelayer: ModuleList.at(${i}): index out of range (length ${this.items.length})`);
    return m;
  }
  forward(): Tensor {
    throw new Error('onelayer: ModuleList has no forward(): its owner applies the modules one by one (use at(i))');
  }
}
