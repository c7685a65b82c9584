export { MODEL_NAMES, BASELINE_NAMES, RESNET_ARCHS, IMAGENET_MIN_INPUT, autoArch, Model, type ModelName, type BaselineName, type ModelOptions, type ModelConfig, type ResNetArch, subsample2d } from './model.js';
export { createModel, resolveConfig, isModelName, parseModelName } from './registry.js';
export { VGG16, SharedVGG16, VGG16_CFG } from './vgg.js';
export { ResNet, BasicBlock, Bottleneck, RESNET_STAGES, imagenetStemConv, imagenetStemPool, type ResNetDepth } from './resnet.js';
export { SharedResNet, SharedBasicUse, SharedBottleneck, SharedBottleneckUse } from './shared-resnet.js';
export {
  parameterBreakdown,
  compressionFactor,
  baselineParameters,
  modelTable,
  formatTable,
  TABLE_WIDTHS,
  type ParameterBreakdown,
  type ModelTableRow,
} from './count.js';
