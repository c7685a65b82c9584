// onelayer/node: the facade of the Node-only parts (package entry `onelayer/node`; the browser bundle never imports
// it): atomic file writes, datasets on disk, training runs, PNG output. It sits above every layer and only
// re-exports; the file primitives themselves are the platform layer, src/platform/files-node.ts.
export { writeFileAtomic, readFileBytes, readFileText, makeDirs } from '../platform/files-node.js';
export { loadDataset } from '../data/node.js';
export { runTraining, adapterName, MODEL_FILE, OPTIMIZER_FILE } from '../train/run-node.js';
export type { TrainConfig, RunSummary, Progress, EpochMetrics } from '../train/types.js';
export { renderPng, svgToPng, rgbaToPng, renderBlendLayers, blendContactSheet, type BlendPictures } from '../analysis/image-node.js';
