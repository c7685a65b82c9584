import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, type InitOptions, Linear, Sequential } from '../nn/layers.js';
import { addRelu } from '../ops/elementwise.js';
import { maxPool2d } from '../ops/pool.js';
import { Model, type ModelConfig, poolAndClassify } from './model.js';

export type ResNetDepth = 18 | 34 | 50;

/** Blocks per stage. 18 and 34 use basic blocks, 50 bottlenecks. */
export const RESNET_STAGES: Record<ResNetDepth, readonly number[]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
};

/** Stride of block b of stage s: 2 for the first block of stages 2–4 (the resolution halves), else 1. */
export function blockStride(stage: number, block: number): number {
  return stage > 0 && block === 0 ? 2 : 1;
}

/** torchvision BasicBlock: 3×3 conv (stride) + BN + ReLU, 3×3 conv + BN, shortcut (1×1 conv + BN projection when the shape changes). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, stride: number, init: InitOptions) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, ...init }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes, init));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false, ...init }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes, init));
    this.downsample = stride !== 1 || inPlanes !== planes ? this.registerModule('downsample', projection(inPlanes, planes, stride, init)) : null;
  }

  forward(x: Tensor): Tensor {
    const h = this.bn2.forward(this.conv2.forward(this.bn1.forwardRelu(this.conv1.forward(x))));
    return addRelu(h, this.downsample ? this.downsample.forward(x) : x);
  }
}

/** torchvision Bottleneck (v1.5: stride on the 3×3): 1×1 → 3×3 (stride) → 1×1 (×4), each with BN; projection shortcut when needed. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, stride: number, init: InitOptions) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 1, { bias: false, ...init }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes, init));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false, ...init }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes, init));
    this.conv3 = this.registerModule('conv3', new Conv2d(planes, out, 1, { bias: false, ...init }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(out, init));
    this.downsample = stride !== 1 || inPlanes !== out ? this.registerModule('downsample', projection(inPlanes, out, stride, init)) : null;
  }

  forward(x: Tensor): Tensor {
    let h = this.bn1.forwardRelu(this.conv1.forward(x));
    h = this.bn2.forwardRelu(this.conv2.forward(h));
    h = this.bn3.forward(this.conv3.forward(h));
    return addRelu(h, this.downsample ? this.downsample.forward(x) : x);
  }
}

/** The ImageNet stem's conv (torchvision `conv1`): 7×7, stride 2, padding 3, no bias (BN follows). */
export function imagenetStemConv(inChannels: number, out: number, init: InitOptions): Conv2d {
  return new Conv2d(inChannels, out, 7, { stride: 2, padding: 3, bias: false, ...init });
}

/** The ImageNet stem's max-pool (torchvision `maxpool`, no parameters): 3×3, stride 2, padding 1. */
export function imagenetStemPool(x: Tensor): Tensor {
  return maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 });
}

function projection(inPlanes: number, out: number, stride: number, init: InitOptions): Sequential {
  return new Sequential(new Conv2d(inPlanes, out, 1, { stride, bias: false, ...init }), new BatchNorm2d(out, init));
}

/**
 * ResNet-18/34/50 with torchvision's names: `conv1` + `bn1` + ReLU, `layer1`–`layer4` at widths 64-128-256-512
 * (stride 2 in the first block of layers 2–4), global average pool, `fc`.
 * - arch 'cifar': `conv1` is 3×3 inChannels→64, stride 1, no bias; no max-pool. Parameters for 10 classes:
 *   ResNet-18 11,173,962; ResNet-34 21,282,122; ResNet-50 23,520,842.
 * - arch 'imagenet' (torchvision's resnet18/34/50 exactly): `conv1` is 7×7 stride 2 padding 3, no bias, and a
 *   3×3 stride-2 padding-1 max-pool follows `bn1` + ReLU. Parameters for 1000 classes: ResNet-18 11,689,512;
 *   ResNet-34 21,797,672; ResNet-50 25,557,032.
 */
export class ResNet extends Model {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layers: Sequential[] = [];
  readonly fc: Linear;
  readonly shared = null;

  constructor(config: ModelConfig, depth: ResNetDepth, initialize = true) {
    super(config, `resnet${depth}`, initialize);
    const Block = depth === 50 ? Bottleneck : BasicBlock;
    this.conv1 = this.registerModule(
      'conv1',
      config.arch === 'imagenet' ? imagenetStemConv(config.inChannels, 64, this.init) : new Conv2d(config.inChannels, 64, 3, { padding: 1, bias: false, ...this.init }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64, this.init));
    let inPlanes = 64;
    RESNET_STAGES[depth].forEach((blocks, s) => {
      const planes = 64 << s;
      const layer = this.registerModule(`layer${s + 1}`, new Sequential());
      for (let b = 0; b < blocks; b++) {
        layer.append(new Block(inPlanes, planes, blockStride(s, b), this.init));
        inPlanes = planes * Block.expansion;
      }
      this.layers.push(layer);
    });
    this.fc = this.registerModule('fc', new Linear(inPlanes, config.numClasses, this.init));
  }

  get classifier(): Linear {
    return this.fc;
  }

  forward(x: Tensor): Tensor {
    let h = this.bn1.forwardRelu(this.conv1.forward(x));
    if (this.config.arch === 'imagenet') h = imagenetStemPool(h);
    for (const layer of this.layers) h = layer.forward(h);
    return poolAndClassify(h, this.fc);
  }
}
