import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Blend, type BlendOptions, Conv2d, type InitOptions, Linear, Sequential } from '../nn/layers.js';
import { addRelu } from '../ops/elementwise.js';
import { InputStem, Model, type ModelConfig, poolAndClassify, subsample2d } from './model.js';
import { RESNET_STAGES, blockStride, imagenetStemConv, imagenetStemPool, type ResNetDepth } from './resnet.js';

/**
 * S / SL ResNets of width n. Widths never change, so shortcuts carry no parameters: identity, or a stride-2
 * subsample where the resolution halves (first block of stages 2–4). Every use of the shared entity has its own
 * BatchNorms; SL adds an n×n blend (no bias) before every use, folded into the conv's weight when `fuseBlend` (default).
 *
 * Names, arch 'cifar': `shared.*` (the one shared entity), `blend1`/`bn1` (stem use, basic-block models),
 * `layerS.B.blendK`, `layerS.B.bnK`, `fc`; `stem.*` with stem: 'conv'.
 * Names, arch 'imagenet': `conv1` (the unshared 7×7 stride-2 stem conv inChannels→n, no bias) and `bn1` (its BN),
 * as in torchvision's ResNet, then `shared.*`, `layerS.B.*`, `fc` as above; no stem use of the shared conv.
 */

function blendOf(n: number, config: ModelConfig, init: InitOptions): BlendOptions {
  return { rng: init.rng, initialize: init.initialize, init: config.blendInit };
}

/** Where a use reads whether to fold its blend into the conv: the owning model, so one switch covers every use. */
export interface BlendFusion {
  readonly fuseBlend: boolean;
}

/**
 * conv(blend(x)) for one use of a shared conv: with fusion one conv with foldBlend(conv.weight, blend.weight)
 * (no pass over the activations for the blend), else the blend then the conv; without a blend just the conv.
 */
function blendThenConv(x: Tensor, blend: Blend | null, conv: Conv2d, stride: number, fusion: BlendFusion): Tensor {
  if (blend && !blend.bias && fusion.fuseBlend) return conv.forwardStride(x, stride, blend.weight);
  return conv.forwardStride(blend ? blend.forward(x) : x, stride);
}

/** One position of S-ResNet-18/34: two uses of the shared 3×3 conv (the first with the block's stride). */
export class SharedBasicUse extends Module {
  readonly blend1: Blend | null;
  readonly bn1: BatchNorm2d;
  readonly blend2: Blend | null;
  readonly bn2: BatchNorm2d;

  constructor(
    readonly conv: Conv2d,
    readonly stride: number,
    n: number,
    linked: boolean,
    config: ModelConfig,
    init: InitOptions,
    readonly fusion: BlendFusion = { fuseBlend: true },
  ) {
    super();
    this.blend1 = linked ? this.registerModule('blend1', new Blend(n, blendOf(n, config, init))) : null;
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(n, init));
    this.blend2 = linked ? this.registerModule('blend2', new Blend(n, blendOf(n, config, init))) : null;
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(n, init));
  }

  forward(x: Tensor): Tensor {
    let h = this.bn1.forwardRelu(blendThenConv(x, this.blend1, this.conv, this.stride, this.fusion));
    h = this.bn2.forward(blendThenConv(h, this.blend2, this.conv, 1, this.fusion));
    return addRelu(h, this.stride === 2 ? subsample2d(x) : x);
  }
}

/** The one bottleneck of S-ResNet-50: 1×1 n→n/4, 3×3 n/4→n/4, 1×1 n/4→n, no biases. Applied by SharedBottleneckUse. */
export class SharedBottleneck extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  constructor(n: number, init: InitOptions) {
    super();
    const m = n / 4;
    this.conv1 = this.registerModule('conv1', new Conv2d(n, m, 1, { bias: false, ...init }));
    this.conv2 = this.registerModule('conv2', new Conv2d(m, m, 3, { padding: 1, bias: false, ...init }));
    this.conv3 = this.registerModule('conv3', new Conv2d(m, n, 1, { bias: false, ...init }));
  }
  forward(): Tensor {
    throw new Error('onelayer: SharedBottleneck has no forward(): each block position applies it with its own BatchNorms (SharedBottleneckUse)');
  }
}

/** One of the 16 block positions of S-ResNet-50: the shared bottleneck with this position's BNs (and blend). */
export class SharedBottleneckUse extends Module {
  readonly blend: Blend | null;
  readonly bn1: BatchNorm2d;
  readonly bn2: BatchNorm2d;
  readonly bn3: BatchNorm2d;

  constructor(
    readonly block: SharedBottleneck,
    readonly stride: number,
    n: number,
    linked: boolean,
    config: ModelConfig,
    init: InitOptions,
    readonly fusion: BlendFusion = { fuseBlend: true },
  ) {
    super();
    this.blend = linked ? this.registerModule('blend', new Blend(n, blendOf(n, config, init))) : null;
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(n / 4, init));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(n / 4, init));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(n, init));
  }

  forward(x: Tensor): Tensor {
    // The blend mixes the residual branch's input; the shortcut carries x itself.
    let h = this.bn1.forwardRelu(blendThenConv(x, this.blend, this.block.conv1, this.block.conv1.stride, this.fusion));
    h = this.bn2.forwardRelu(this.block.conv2.forwardStride(h, this.stride));
    h = this.bn3.forward(this.block.conv3.forward(h));
    return addRelu(h, this.stride === 2 ? subsample2d(x) : x);
  }
}

/**
 * s-resnet18/34 (`shared` = one n→n 3×3 conv without bias) and s-resnet50 (`shared` = one bottleneck), in two forms:
 * - arch 'cifar': the input is brought to n channels (zero-padding, or a learned 3×3 conv with stem: 'conv'); the
 *   shared conv is used at the stem position (`blend1`, `bn1`) and by both convs of every block: 17 / 33 uses;
 *   the shared bottleneck is used at all 16 block positions (no stem use).
 * - arch 'imagenet': torchvision's stem, NOT shared — `conv1` 7×7 stride 2 padding 3 inChannels→n (no bias) +
 *   `bn1` + ReLU + a 3×3 stride-2 padding-1 max-pool — replaces the baseline's `conv1` the way the shared layers
 *   replace its other convs; then the same body: the shared conv at both convs of every block (16 / 32 uses, no
 *   stem use), or the shared bottleneck at the 16 block positions. The `stem` option does not apply.
 */
export class SharedResNet extends Model {
  readonly shared: Conv2d | SharedBottleneck;
  /** arch 'imagenet': the unshared 7×7 stem conv; null for 'cifar'. */
  readonly conv1: Conv2d | null = null;
  /** arch 'cifar', S/SL-ResNet-18/34: the blend of the shared conv's stem use (SL only). */
  readonly blend1: Blend | null = null;
  /** arch 'cifar', S/SL-ResNet-18/34: the BN of the shared conv's stem use; arch 'imagenet': the stem conv's BN. */
  readonly bn1: BatchNorm2d | null = null;
  readonly layers: Sequential[] = [];
  readonly fc: Linear;
  /** arch 'cifar': how the input is brought to n channels; null for 'imagenet'. */
  private readonly stem: InputStem | null;
  /** SL only: fold each blend into the shared conv's weight (one conv per use). Read by every use; can be switched any time. */
  fuseBlend: boolean;

  constructor(config: ModelConfig, depth: ResNetDepth, linked: boolean, initialize = true, fuseBlend = true) {
    super(config, `resnet${depth}`, initialize);
    this.fuseBlend = fuseBlend;
    const n = config.width!;
    const imagenet = config.arch === 'imagenet';
    if (imagenet) {
      this.conv1 = this.registerModule('conv1', imagenetStemConv(config.inChannels, n, this.init));
      this.bn1 = this.registerModule('bn1', new BatchNorm2d(n, this.init));
    }
    this.stem = imagenet ? null : new InputStem(this, config, n, this.init);
    const bottleneck = depth === 50;
    this.shared = this.registerModule('shared', bottleneck ? new SharedBottleneck(n, this.init) : new Conv2d(n, n, 3, { padding: 1, bias: false, ...this.init }));
    if (!bottleneck && !imagenet) {
      this.blend1 = linked ? this.registerModule('blend1', new Blend(n, blendOf(n, config, this.init))) : null;
      this.bn1 = this.registerModule('bn1', new BatchNorm2d(n, this.init));
    }
    RESNET_STAGES[depth].forEach((blocks, s) => {
      const layer = this.registerModule(`layer${s + 1}`, new Sequential());
      for (let b = 0; b < blocks; b++) {
        const stride = blockStride(s, b);
        layer.append(
          this.shared instanceof SharedBottleneck
            ? new SharedBottleneckUse(this.shared, stride, n, linked, config, this.init, this)
            : new SharedBasicUse(this.shared, stride, n, linked, config, this.init, this),
        );
      }
      this.layers.push(layer);
    });
    this.fc = this.registerModule('fc', new Linear(n, config.numClasses, this.init));
  }

  get classifier(): Linear {
    return this.fc;
  }

  forward(x: Tensor): Tensor {
    let h: Tensor;
    if (!this.stem) h = imagenetStemPool(this.bn1!.forwardRelu(this.conv1!.forward(x)));
    else if (this.bn1 && this.shared instanceof Conv2d) {
      const blend = this.blend1;
      // The stem and the first use together (the conv can skip a zero-padded input's zero channels).
      if (!blend || (!blend.bias && this.fuseBlend)) h = this.stem.firstUse(x, this.shared, this.shared.stride, blend ? blend.weight : null);
      else h = blendThenConv(this.stem.forward(x), blend, this.shared, this.shared.stride, this);
      h = this.bn1.forwardRelu(h);
    } else h = this.stem.forward(x);
    for (const layer of this.layers) h = layer.forward(h);
    return poolAndClassify(h, this.fc);
  }
}
