import { autoArch, BASELINE_NAMES, type BaselineName, MODEL_NAMES, RESNET_ARCHS, type ResNetArch, type Model, type ModelConfig, type ModelName, type ModelOptions } from './model.js';
import { SharedVGG16, VGG16 } from './vgg.js';
import { ResNet, type ResNetDepth } from './resnet.js';
import { SharedResNet } from './shared-resnet.js';

function usage(): string {
  return `valid models: ${MODEL_NAMES.join(', ')} (s-/sl- models need a width n ≥ 1, e.g. { width: 64 })`;
}

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/** 's-resnet50' → { kind: 's', base: 'resnet50' }. */
export function parseModelName(name: ModelName): { kind: 'baseline' | 's' | 'sl'; base: BaselineName } {
  const m = /^(sl?-)?(.+)$/.exec(name)!;
  const kind = m[1] === 's-' ? 's' : m[1] === 'sl-' ? 'sl' : 'baseline';
  return { kind, base: m[2] as BaselineName };
}

function checkInt(name: string, what: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`onelayer: createModel('${name}'): ${what} must be an integer ≥ ${min}, got ${v}. ${usage()}`);
}

/** Validates the options and fills in the defaults. */
export function resolveConfig(name: string, options: ModelOptions = {}): ModelConfig {
  if (!isModelName(name)) throw new Error(`onelayer: createModel: unknown model '${name}'. ${usage()}`);
  const { kind } = parseModelName(name);
  const numClasses = options.numClasses ?? 10;
  const inputSize = options.inputSize ?? 32;
  const inChannels = options.inChannels ?? 3;
  const stem = options.stem ?? 'pad';
  const seed = options.seed ?? 0;
  const blendInit = options.blendInit ?? 'identity';
  const requested = options.arch ?? 'auto';
  if (requested !== 'auto' && !RESNET_ARCHS.includes(requested)) throw new Error(`onelayer: createModel('${name}'): arch must be 'cifar', 'imagenet' or 'auto', got '${String(requested)}'`);
  if (options.width !== undefined) checkInt(name, 'width', options.width, 1);
  checkInt(name, 'numClasses', numClasses, 1);
  checkInt(name, 'inputSize', inputSize, 1);
  checkInt(name, 'inChannels', inChannels, 1);
  checkInt(name, 'seed', seed, 0);
  if (stem !== 'pad' && stem !== 'conv') throw new Error(`onelayer: createModel('${name}'): stem must be 'pad' or 'conv', got '${String(stem)}'`);
  if (blendInit !== 'identity' && blendInit !== 'kaiming') throw new Error(`onelayer: createModel('${name}'): blendInit must be 'identity' or 'kaiming', got '${String(blendInit)}'`);
  const vgg = name.endsWith('vgg16');
  if (vgg && requested === 'imagenet') throw new Error(`onelayer: createModel('${name}'): VGG-16 has only the CIFAR form; arch 'imagenet' applies to the ResNets (use 'auto' or 'cifar')`);
  // 'auto': the ImageNet form from 128 px on (autoArch); VGG is always 'cifar'.
  const arch: ResNetArch = vgg ? 'cifar' : requested === 'auto' ? autoArch(inputSize) : requested;
  let width: number | null = null;
  if (kind !== 'baseline') {
    if (options.width === undefined) throw new Error(`onelayer: createModel('${name}'): a width is required for shared-weight models. ${usage()}`);
    width = options.width;
    // The ImageNet form's 7×7 stem conv maps inChannels to n: no padding, any width.
    if (arch === 'cifar' && stem === 'pad' && width < inChannels) {
      throw new Error(`onelayer: createModel('${name}'): width ${width} is smaller than inChannels ${inChannels}; zero-padding cannot shrink the input (use a width ≥ ${inChannels} or stem: 'conv')`);
    }
    if (name.endsWith('resnet50') && width % 4 !== 0) {
      throw new Error(`onelayer: createModel('${name}'): width must be a multiple of 4 (the bottleneck's inner width is n/4), got ${width}`);
    }
  }
  return { name, width, numClasses, inputSize, inChannels, stem, arch, seed, blendInit };
}

/**
 * Builds a model by name with the given options (see ModelOptions for defaults). Parameters are initialised
 * from Random(seed) as PyTorch initialises them, and named with PyTorch dotted names.
 */
export function createModel(name: string, options: ModelOptions = {}): Model {
  const config = resolveConfig(name, options);
  const init = options.initialize ?? true;
  const { kind, base } = parseModelName(config.name);
  let model: Model;
  if (base === 'vgg16') model = kind === 'baseline' ? new VGG16(config, init) : new SharedVGG16(config, kind === 'sl', init, options.fuseBlend ?? true);
  else {
    const depth = Number(base.slice('resnet'.length)) as ResNetDepth;
    model = kind === 'baseline' ? new ResNet(config, depth, init) : new SharedResNet(config, depth, kind === 'sl', init, options.fuseBlend ?? true);
  }
  model.nameTensors();
  if (options.precision) model.setPrecision(options.precision);
  return model;
}

export { MODEL_NAMES, BASELINE_NAMES };
