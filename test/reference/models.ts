// Plain float64 CPU forward passes of every onelayer model, written from the architectures' definitions
// (VGG-16 / ResNet as torchvision defines them for CIFAR; the S / SL variants as README.md describes them),
// reading the weights by their PyTorch names from a state dict. Nothing here calls the models' code: the layer
// order, strides, pools and shortcuts are spelled out again, so a model that applies a layer in the wrong place
// gives other logits (and another trace) than this.
//
// Every run also records a trace of the applications, one line each, in the order the layers run:
//   `conv CxHxW sS -> NxOxOHxOW` a convolution (input channels and side, stride, output shape); ` +blend`
//                                after the stride when an SL blend is folded into its weight. The first shared
//                                conv after a zero-padding stem reads the C unpadded input channels (the padded
//                                ones are zero: the conv skips them), unless an unfused blend mixes them first or
//                                the padded input is needed anyway (S-ResNet-50's first shortcut)
//   `blend NxCxHxW`              an SL blend applied on its own (fuseBlend: false)
//   `bn NxCxHxW` / `bn+relu …`   a BatchNorm, with a fused ReLU or not
//   `maxpool kK sS in -> out`    a max-pool (the parameter-free stride-2 shortcut is a 1×1 one)
//   `gap NxCxHxW`                the global average pool before the classifier
// With no weights given (`state` null) only shapes are followed: the trace of a full-size baseline costs nothing.
import { blendRef, conv2dRef } from './conv.js';
import { linearRef } from './linear_loss.js';
import { batchNormRef, globalAvgPoolRef, maxPoolRef, padChannelsRef, type Shape4 } from './norm_pool.js';

export type State = ReadonlyMap<string, ArrayLike<number>>;

export interface RefModelConfig {
  /** One of MODEL_NAMES. */
  name: string;
  /** n of an S / SL model. */
  width?: number;
  inChannels: number;
  numClasses: number;
  stem?: 'pad' | 'conv';
  /**
   * How an SL blend is applied (the same values either way): folded into the conv's weight (default), traced
   * as `conv … +blend -> …`; or as its own pass over the activations first, traced as `blend NxCxHxW`.
   */
  fuseBlend?: boolean;
}

interface Act {
  x: Float64Array | null;
  s: Shape4;
}

const dims = (s: readonly number[]) => s.join('x');

/** VGG-16's configuration (Simonyan & Zisserman, configuration D): 13 convs, 'M' = 2×2 max-pool. */
const VGG_D: (number | 'M')[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];
/** Blocks per stage (He et al., table 1). */
const STAGES: Record<string, number[]> = { resnet18: [2, 2, 2, 2], resnet34: [3, 4, 6, 3], resnet50: [3, 4, 6, 3] };

class Ref {
  readonly trace: string[] = [];
  /** Training mode: each BN's running statistics after this forward (PyTorch's update, momentum 0.1). */
  readonly running = new Map<string, Float64Array>();
  /** Channels of the input before zero-padding, until the first conv after a padding stem has read it. */
  unpadded: number | null = null;
  constructor(
    private readonly state: State | null,
    private readonly training: boolean,
    private readonly fuseBlend: boolean,
  ) {}

  private w(name: string): ArrayLike<number> {
    const v = this.state!.get(name);
    if (!v) throw new Error(`reference: the state dict has no '${name}'`);
    return v;
  }

  conv(a: Act, weight: string, bias: string | null, O: number, K: number, stride: number, pad: number, blend: string | null = null): Act {
    const [N, C, H, W] = a.s;
    const OH = Math.floor((H + 2 * pad - K) / stride) + 1;
    const OW = Math.floor((W + 2 * pad - K) / stride) + 1;
    const s: Shape4 = [N, O, OH, OW];
    if (blend && !this.fuseBlend) this.trace.push(`blend ${dims(a.s)}`);
    const reads = this.unpadded !== null && (!blend || this.fuseBlend) ? this.unpadded : C;
    this.unpadded = null;
    this.trace.push(`conv ${reads}x${H}x${W} s${stride}${blend && this.fuseBlend ? ' +blend' : ''} -> ${dims(s)}`);
    if (!a.x) return { x: null, s };
    // SL: the blend (an n×n channel mix, no bias) is applied to the conv's input.
    const xin = blend ? blendRef(N, C, H, W, C, a.x, this.w(blend), null) : a.x;
    return { x: conv2dRef({ N, C, H, W, O, KH: K, KW: K, stride, pad }, xin, this.w(weight), bias ? this.w(bias) : null), s };
  }

  bn(a: Act, prefix: string, relu: boolean): Act {
    this.trace.push(`bn${relu ? '+relu' : ''} ${dims(a.s)}`);
    if (!a.x) return a;
    const r = batchNormRef(a.x, a.s, {
      weight: this.w(`${prefix}.weight`),
      bias: this.w(`${prefix}.bias`),
      runningMean: this.w(`${prefix}.running_mean`),
      runningVar: this.w(`${prefix}.running_var`),
      training: this.training,
      relu,
    });
    if (r.runningMean && r.runningVar) {
      this.running.set(`${prefix}.running_mean`, r.runningMean);
      this.running.set(`${prefix}.running_var`, r.runningVar);
    }
    return { x: r.y, s: a.s };
  }

  maxpool(a: Act, k: number, stride: number): Act {
    const s: Shape4 = [a.s[0], a.s[1], Math.floor((a.s[2] - k) / stride) + 1, Math.floor((a.s[3] - k) / stride) + 1];
    this.trace.push(`maxpool k${k} s${stride} ${dims(a.s)} -> ${dims(s)}`);
    return { x: a.x ? maxPoolRef(a.x, a.s, { kernelSize: k, stride }).y : null, s };
  }

  /** relu(a + b): the end of every residual block. */
  addRelu(a: Act, b: Act): Act {
    if (dims(a.s) !== dims(b.s)) throw new Error(`reference: residual shapes differ: ${dims(a.s)} vs ${dims(b.s)}`);
    return { x: a.x && b.x ? a.x.map((v, i) => Math.max(v + b.x![i], 0)) : null, s: a.s };
  }

  padChannels(a: Act, n: number): Act {
    this.unpadded = a.s[1];
    return { x: a.x ? padChannelsRef(a.x, a.s, n) : null, s: [a.s[0], n, a.s[2], a.s[3]] };
  }

  head(a: Act, numClasses: number, prefix: string): Float64Array | null {
    this.trace.push(`gap ${dims(a.s)}`);
    if (!a.x) return null;
    const [N, C] = a.s;
    return linearRef(globalAvgPoolRef(a.x, a.s), Float64Array.from(this.w(`${prefix}.weight`)), Float64Array.from(this.w(`${prefix}.bias`)), N, C, numClasses);
  }
}

/** VGG-16 with BatchNorm, torchvision layout: features.i = conv, i+1 = BN, i+2 = ReLU, pools take one index. */
function vgg16(r: Ref, x: Act, numClasses: number): Float64Array | null {
  let i = 0;
  for (const v of VGG_D) {
    if (v === 'M') {
      x = r.maxpool(x, 2, 2);
      i += 1;
    } else {
      x = r.bn(r.conv(x, `features.${i}.weight`, `features.${i}.bias`, v, 3, 1, 1), `features.${i + 1}`, true);
      i += 3;
    }
  }
  return r.head(x, numClasses, 'classifier');
}

/** The input brought to n channels: zero channels appended, or stem.0 (3×3 conv, no bias) + stem.1 (BN) + ReLU. */
function stem(r: Ref, x: Act, n: number, kind: 'pad' | 'conv'): Act {
  return kind === 'conv' ? r.bn(r.conv(x, 'stem.0.weight', null, n, 3, 1, 1), 'stem.1', true) : r.padChannels(x, n);
}

/** S-/SL-VGG-16: ONE n→n 3×3 conv with bias at the 13 positions of VGG-16, each with its own BN (and blend); the same five pools. */
function sharedVgg16(r: Ref, x: Act, c: RefModelConfig, linked: boolean): Float64Array | null {
  const n = c.width!;
  x = stem(r, x, n, c.stem ?? 'pad');
  let pos = 0;
  for (const v of VGG_D) {
    if (v === 'M') x = r.maxpool(x, 2, 2);
    else {
      x = r.bn(r.conv(x, 'shared.weight', 'shared.bias', n, 3, 1, 1, linked ? `blends.${pos}.weight` : null), `bns.${pos}`, true);
      pos++;
    }
  }
  return r.head(x, c.numClasses, 'classifier');
}

/** Stride of block b of stage s: the first block of stages 2–4 halves the resolution. */
const blockStride = (s: number, b: number) => (s > 0 && b === 0 ? 2 : 1);

/** torchvision ResNet with the CIFAR stem (3×3 conv, stride 1, no max-pool); BasicBlock or Bottleneck (v1.5: stride on the 3×3). */
function resnet(r: Ref, x: Act, c: RefModelConfig, depth: string): Float64Array | null {
  const bottleneck = depth === 'resnet50';
  const expansion = bottleneck ? 4 : 1;
  x = r.bn(r.conv(x, 'conv1.weight', null, 64, 3, 1, 1), 'bn1', true);
  let inPlanes = 64;
  STAGES[depth].forEach((blocks, s) => {
    const planes = 64 << s;
    for (let b = 0; b < blocks; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = blockStride(s, b);
      let h: Act;
      if (bottleneck) {
        h = r.bn(r.conv(x, `${p}.conv1.weight`, null, planes, 1, 1, 0), `${p}.bn1`, true);
        h = r.bn(r.conv(h, `${p}.conv2.weight`, null, planes, 3, stride, 1), `${p}.bn2`, true);
        h = r.bn(r.conv(h, `${p}.conv3.weight`, null, planes * 4, 1, 1, 0), `${p}.bn3`, false);
      } else {
        h = r.bn(r.conv(x, `${p}.conv1.weight`, null, planes, 3, stride, 1), `${p}.bn1`, true);
        h = r.bn(r.conv(h, `${p}.conv2.weight`, null, planes, 3, 1, 1), `${p}.bn2`, false);
      }
      // Projection shortcut (1×1 conv with the block's stride + BN) where the shape changes.
      const shortcut = stride !== 1 || inPlanes !== planes * expansion ? r.bn(r.conv(x, `${p}.downsample.0.weight`, null, planes * expansion, 1, stride, 0), `${p}.downsample.1`, false) : x;
      x = r.addRelu(h, shortcut);
      inPlanes = planes * expansion;
    }
  });
  return r.head(x, c.numClasses, 'fc');
}

/**
 * S-/SL-ResNet-18/34: the shared n→n 3×3 conv (no bias) at the stem position (bn1, blend1) and at both convs
 * of every basic block (blend1/bn1 with the block's stride, blend2/bn2); S-/SL-ResNet-50: the shared bottleneck
 * 1×1 n→n/4, 3×3 n/4→n/4 (the block's stride), 1×1 n/4→n at the 16 block positions, each with its own bn1–bn3
 * (and one blend before the first 1×1); no stem conv. Widths never change: the shortcut is x itself, or x
 * subsampled (x[:, :, ::2, ::2], a 1×1 max-pool with stride 2) where the resolution halves.
 */
function sharedResnet(r: Ref, x: Act, c: RefModelConfig, depth: string, linked: boolean): Float64Array | null {
  const n = c.width!;
  const bottleneck = depth === 'resnet50';
  x = stem(r, x, n, c.stem ?? 'pad');
  // ResNet-50's first block also adds its input as the identity shortcut: the padded input is built anyway.
  if (bottleneck) r.unpadded = null;
  if (!bottleneck) x = r.bn(r.conv(x, 'shared.weight', null, n, 3, 1, 1, linked ? 'blend1.weight' : null), 'bn1', true);
  STAGES[depth].forEach((blocks, s) => {
    for (let b = 0; b < blocks; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = blockStride(s, b);
      let h: Act;
      if (bottleneck) {
        h = r.bn(r.conv(x, 'shared.conv1.weight', null, n / 4, 1, 1, 0, linked ? `${p}.blend.weight` : null), `${p}.bn1`, true);
        h = r.bn(r.conv(h, 'shared.conv2.weight', null, n / 4, 3, stride, 1), `${p}.bn2`, true);
        h = r.bn(r.conv(h, 'shared.conv3.weight', null, n, 1, 1, 0), `${p}.bn3`, false);
      } else {
        h = r.bn(r.conv(x, 'shared.weight', null, n, 3, stride, 1, linked ? `${p}.blend1.weight` : null), `${p}.bn1`, true);
        h = r.bn(r.conv(h, 'shared.weight', null, n, 3, 1, 1, linked ? `${p}.blend2.weight` : null), `${p}.bn2`, false);
      }
      x = r.addRelu(h, stride === 2 ? r.maxpool(x, 1, 2) : x);
    }
  });
  return r.head(x, c.numClasses, 'fc');
}

/**
 * The reference forward of model `c.name` on x [N, inChannels, H, W]: logits [N, numClasses] (null without a
 * state) and the trace of applications. Training mode (default): BN normalises with the batch statistics, and
 * `running` holds every BN's running statistics as that forward leaves them; eval mode: BN uses the state's
 * running statistics.
 */
export function referenceForward(
  c: RefModelConfig,
  state: State | null,
  x: ArrayLike<number> | null,
  shape: Shape4,
  training = true,
): { logits: Float64Array | null; trace: string[]; running: Map<string, Float64Array> } {
  const r = new Ref(state, training, c.fuseBlend ?? true);
  const a: Act = { x: state && x ? Float64Array.from(x) : null, s: shape };
  const m = /^(sl?-)?(vgg16|resnet18|resnet34|resnet50)$/.exec(c.name);
  if (!m) throw new Error(`reference: unknown model ${c.name}`);
  const linked = m[1] === 'sl-';
  const base = m[2];
  let logits: Float64Array | null;
  if (!m[1]) logits = base === 'vgg16' ? vgg16(r, a, c.numClasses) : resnet(r, a, c, base);
  else logits = base === 'vgg16' ? sharedVgg16(r, a, c, linked) : sharedResnet(r, a, c, base, linked);
  return { logits, trace: r.trace, running: r.running };
}
