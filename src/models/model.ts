import type { Tensor } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, type InitOptions, Linear, Sequential, ReLU } from '../nn/layers.js';
import { globalAvgPool2d, maxPool2d } from '../ops/pool.js';
import { padChannels } from '../ops/pad.js';
import { flatten } from '../ops/elementwise.js';
import type { Precision } from '../tensor/dtype.js';

export const MODEL_NAMES = [
  'vgg16',
  's-vgg16',
  'sl-vgg16',
  'resnet18',
  's-resnet18',
  'sl-resnet18',
  'resnet34',
  's-resnet34',
  'sl-resnet34',
  'resnet50',
  's-resnet50',
  'sl-resnet50',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
export type BaselineName = 'vgg16' | 'resnet18' | 'resnet34' | 'resnet50';
export const BASELINE_NAMES: readonly BaselineName[] = ['vgg16', 'resnet18', 'resnet34', 'resnet50'];

/**
 * The ResNets' two forms. 'cifar': a 3×3 stride-1 stem conv and no max-pool (the input side reaches stage 1
 * whole). 'imagenet': torchvision's resnet18/34/50 — a 7×7 stride-2 pad-3 stem conv (no bias) + BN + ReLU and a
 * 3×3 stride-2 pad-1 max-pool (the side is 1/4 at stage 1). VGG-16 has only the CIFAR form.
 */
export type ResNetArch = 'cifar' | 'imagenet';
export const RESNET_ARCHS: readonly ResNetArch[] = ['cifar', 'imagenet'];
/** `arch: 'auto'` (the default) takes the ImageNet form from this input side on. */
export const IMAGENET_MIN_INPUT = 128;

/**
 * The form an 'auto' (or absent) arch takes: 'imagenet' for inputs of IMAGENET_MIN_INPUT (128) px and more, else
 * 'cifar'. So MNIST and CIFAR (32 px) and Tiny ImageNet (64 px) keep the CIFAR stem — the ImageNet stem's 4×
 * downsampling would leave them 1×1 or 2×2 in stage 4 — and ImageNet-sized inputs (imagefolder / imagenet crops,
 * 224 by default) get torchvision's form. VGG models are always 'cifar'.
 */
export function autoArch(inputSize: number): ResNetArch {
  return inputSize >= IMAGENET_MIN_INPUT ? 'imagenet' : 'cifar';
}

export interface ModelOptions {
  /** Width n of the shared layer; required for S / SL models, ignored by the baselines. */
  width?: number;
  /** Default 10. */
  numClasses?: number;
  /** Square input side; default 32. Only checked (VGG's five 2×2 pools need ≥ 32) and recorded. */
  inputSize?: number;
  /** Default 3 (RGB); MNIST uses 1. */
  inChannels?: number;
  /**
   * How S / SL models bring the input to n channels. 'pad' (default): zero-pad the channels (no parameters).
   * 'conv': a learned 3×3 inChannels→n conv (no bias: BN follows) + BN + ReLU, named `stem.*`, that replaces
   * the padding; the rest of the network is unchanged. Baselines ignore it (their first conv is the stem), and so
   * do ImageNet-form S / SL ResNets (their learned 7×7 conv is the stem).
   */
  stem?: 'pad' | 'conv';
  /**
   * ResNets (and their S / SL variants): 'cifar' (3×3 stem, no max-pool), 'imagenet' (torchvision's 7×7 stride-2
   * stem + 3×3 stride-2 max-pool), or 'auto' (default): 'imagenet' when inputSize ≥ 128, else 'cifar' (autoArch).
   * VGG models have only the CIFAR form: 'auto' gives 'cifar', 'imagenet' is an error.
   */
  arch?: ResNetArch | 'auto';
  /** Seed of the initialisation; default 0. */
  seed?: number;
  /** Init of SL blends: 'identity' (default, I + small noise) or 'kaiming' (U(±1/√n)). */
  blendInit?: 'identity' | 'kaiming';
  /** false: allocate parameters without initial values (counting only). Default true. */
  initialize?: boolean;
  /** SL models: fold each blend into the shared conv's weight, one conv per use (default true); false: blend then conv. */
  fuseBlend?: boolean;
  /** 'mixed': f16 operands for conv, blend and linear (Module.setPrecision); default 'f32'. */
  precision?: Precision;
}

export interface ModelConfig {
  name: ModelName;
  /** n for S / SL models, null for baselines. */
  width: number | null;
  numClasses: number;
  inputSize: number;
  inChannels: number;
  stem: 'pad' | 'conv';
  /** The resolved form ('auto' decided from inputSize); always 'cifar' for VGG models. */
  arch: ResNetArch;
  seed: number;
  blendInit: 'identity' | 'kaiming';
}

/** A network built by createModel: a Module with its name, full configuration and baseline (for compression factors). */
export abstract class Model extends Module {
  readonly name: ModelName;
  readonly config: ModelConfig;
  /** The conventional network this one is compared with (itself for a baseline). */
  readonly baseline: BaselineName;
  /** The shared entity (S / SL models): every parameter under it is shared by all positions. null for baselines. */
  abstract readonly shared: Module | null;
  /** The final Linear layer. */
  abstract readonly classifier: Linear;
  protected readonly init: InitOptions;

  constructor(config: ModelConfig, baseline: BaselineName, initialize = true) {
    super();
    this.name = config.name;
    this.config = config;
    this.baseline = baseline;
    this.init = { rng: new Random(config.seed), initialize };
  }
}

/** Global average pool → [N, C] → linear: the head every model here ends with. */
export function poolAndClassify(x: Tensor, classifier: Linear): Tensor {
  return classifier.forward(flatten(globalAvgPool2d(x)));
}

/**
 * Parameter-free stride-2 shortcut: out[:, :, i, j] = x[:, :, 2i, 2j] (as a 1×1 conv with stride 2 and an
 * identity weight, but without the n² multiply-adds): a 1×1 max-pool with stride 2 picks exactly those values,
 * and its backward routes the gradient to them.
 */
export function subsample2d(x: Tensor): Tensor {
  return maxPool2d(x, { kernelSize: 1, stride: 2 });
}

/**
 * The input stem of an S / SL model: zero-padding to n channels, or a learned conv + BN + ReLU
 * (registered on the owner as `stem` so it appears in the state dict).
 */
export class InputStem {
  readonly conv: Sequential | null;
  constructor(
    owner: Module,
    readonly config: ModelConfig,
    private readonly n: number,
    init: InitOptions,
  ) {
    this.conv =
      config.stem === 'conv'
        ? owner.registerModule('stem', new Sequential(new Conv2d(config.inChannels, n, 3, { padding: 1, bias: false, ...init }), new BatchNorm2d(n, init), new ReLU()))
        : null;
  }
  forward(x: Tensor): Tensor {
    return this.conv ? this.conv.forward(x) : padChannels(x, this.n);
  }

  /**
   * conv(stem(x)) for the first use of a shared conv, with an SL blend [n, n] folded into its weight. With
   * stem 'pad' the padded input's channels C..n−1 are zero, so the conv reads x's C channels directly with the
   * weight (or the blend's columns) narrowed to the first C: the same sums without the zero terms, and for
   * RGB at n = 64 about 1/20 of the work of the model's largest conv (its weight gradient too).
   */
  firstUse(x: Tensor, conv: Conv2d, stride: number, blend: Tensor | null): Tensor {
    return this.conv ? conv.forwardStride(this.conv.forward(x), stride, blend) : conv.forwardStride(x, stride, blend, true);
  }
}
