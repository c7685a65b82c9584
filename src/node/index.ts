// onelayer/node: the Node-only parts (file system, datasets on disk, training runs). The browser bundle never imports this.
export { writeFileAtomic, readFileBytes, readFileText } from './files.js';
export { loadDataset } from '../data/node.js';
export { runTraining, adapterName, MODEL_FILE, OPTIMIZER_FILE } from '../train/run-node.js';
export type { TrainConfig, RunSummary, Progress, EpochMetrics } from '../train/types.js';
