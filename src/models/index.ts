export { MODEL_NAMES, BASELINE_NAMES, Model, type ModelName, type BaselineName, type ModelOptions, type ModelConfig, subsample2d } from './model.js';
export { createModel, resolveConfig, isModelName, parseModelName } from './registry.js';
export { VGG16, SharedVGG16, VGG16_CFG } from './vgg.js';
export { ResNet, BasicBlock, Bottleneck, RESNET_STAGES, type ResNetDepth } from './resnet.js';
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
