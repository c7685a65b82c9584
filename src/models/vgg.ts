import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Blend, Conv2d, Linear, MaxPool2d, ModuleList, ReLU, Sequential } from '../nn/layers.js';
import { maxPool2d } from '../ops/pool.js';
import { InputStem, Model, type ModelConfig, poolAndClassify } from './model.js';

/** CIFAR VGG-16: 13 convs; 'M' = 2×2 max-pool. */
export const VGG16_CFG: readonly (number | 'M')[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

/** Five pools halve the side five times: it must stay ≥ 1. */
export function checkVggInput(config: ModelConfig): void {
  if (config.inputSize < 32) {
    throw new Error(`onelayer: ${config.name}: inputSize ${config.inputSize} is too small: five 2×2 max-pools need at least 32×32 (pad MNIST's 28×28 to 32×32)`);
  }
}

/**
 * CIFAR-style VGG-16 with BatchNorm: `features` = [Conv2d(3×3, pad 1, bias), BatchNorm2d, ReLU]×13 with
 * MaxPool2d(2) at the 'M's (torchvision indices: features.0 conv, features.1 BN, features.3 next conv, …),
 * global average pool, `classifier` = Linear(512, classes). 14,728,266 parameters for 10 classes.
 */
export class VGG16 extends Model {
  readonly features: Sequential;
  readonly classifier: Linear;
  readonly shared = null;

  constructor(config: ModelConfig, initialize = true) {
    super(config, 'vgg16', initialize);
    checkVggInput(config);
    this.features = this.registerModule('features', new Sequential());
    let c = config.inChannels;
    for (const v of VGG16_CFG) {
      if (v === 'M') this.features.append(new MaxPool2d(2, 2));
      else {
        this.features.append(new Conv2d(c, v, 3, { padding: 1, ...this.init }));
        this.features.append(new BatchNorm2d(v, this.init));
        this.features.append(new ReLU());
        c = v;
      }
    }
    this.classifier = this.registerModule('classifier', new Linear(c, config.numClasses, this.init));
  }

  forward(x: Tensor): Tensor {
    return poolAndClassify(this.features.forward(x), this.classifier);
  }
}

/**
 * S-VGG-16 / SL-VGG-16 of width n: the input is brought to n channels (`stem`), then ONE n→n 3×3 conv with
 * bias (`shared`) is applied at all 13 positions, each followed by its own BatchNorm (`bns.i`) and ReLU, with
 * VGG-16's five max-pools; global average pool; `classifier` = Linear(n, classes). SL adds an n×n blend
 * without bias (`blends.i`) before every application. With `fuseBlend` (default) each SL position runs one conv
 * with the folded weight foldBlend(shared.weight, blends.i.weight) instead of a blend over the activations plus
 * the conv: same parameters, state dict and values.
 */
export class SharedVGG16 extends Model {
  readonly shared: Conv2d;
  readonly bns: ModuleList<BatchNorm2d>;
  readonly blends: ModuleList<Blend> | null;
  readonly classifier: Linear;
  /** The conv applied at each of the 13 positions: the same object every time. */
  readonly positions: Conv2d[];
  private readonly stem: InputStem;
  /** poolAfter[i]: a 2×2 max-pool follows position i. */
  private readonly poolAfter: boolean[] = [];
  /** SL only: fold each blend into the shared conv's weight (one conv per position). Can be switched any time. */
  fuseBlend: boolean;

  constructor(config: ModelConfig, linked: boolean, initialize = true, fuseBlend = true) {
    super(config, 'vgg16', initialize);
    checkVggInput(config);
    this.fuseBlend = fuseBlend;
    const n = config.width!;
    this.stem = new InputStem(this, config, n, this.init);
    this.shared = this.registerModule('shared', new Conv2d(n, n, 3, { padding: 1, ...this.init }));
    this.blends = linked ? this.registerModule('blends', new ModuleList<Blend>()) : null;
    this.bns = this.registerModule('bns', new ModuleList<BatchNorm2d>());
    for (const v of VGG16_CFG) {
      if (v === 'M') {
        this.poolAfter[this.poolAfter.length - 1] = true;
        continue;
      }
      this.blends?.append(new Blend(n, { rng: this.init.rng, initialize: this.init.initialize, init: config.blendInit }));
      this.bns.append(new BatchNorm2d(n, this.init));
      this.poolAfter.push(false);
    }
    this.positions = this.poolAfter.map(() => this.shared);
    this.classifier = this.registerModule('classifier', new Linear(n, config.numClasses, this.init));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.positions.length; i++) {
      const conv = this.positions[i];
      const blend = this.blends?.at(i);
      const fold = blend && !blend.bias && this.fuseBlend ? blend.weight : null;
      // The stem and the first use together (the conv can skip a zero-padded input's zero channels).
      if (i === 0 && (fold || !blend)) h = this.stem.firstUse(x, conv, conv.stride, fold);
      else {
        if (i === 0) h = this.stem.forward(x);
        h = fold ? conv.forwardStride(h, conv.stride, fold) : conv.forwardStride(blend ? blend.forward(h) : h, conv.stride);
      }
      h = this.bns.at(i).forwardRelu(h);
      if (this.poolAfter[i]) h = maxPool2d(h, { kernelSize: 2, stride: 2 });
    }
    return poolAndClassify(h, this.classifier);
  }
}
