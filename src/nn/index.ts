export { Module, StateDictError, type StateEntry, type LoadStateDictOptions, type LoadStateDictResult } from './module.js';
export {
  Conv2d,
  BatchNorm2d,
  Linear,
  Blend,
  ReLU,
  MaxPool2d,
  Sequential,
  ModuleList,
  initUniform,
  type InitOptions,
  type Conv2dOptions,
  type BatchNorm2dLayerOptions,
  type LinearOptions,
  type BlendOptions,
} from './layers.js';
