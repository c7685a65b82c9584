import type { TrainConfig } from './types.js';

/** Learning rate at a global step (0-based) out of totalSteps: optional linear warm-up, then the schedule. */
export function learningRate(config: Pick<TrainConfig, 'lr' | 'schedule' | 'stepEpochs' | 'gamma' | 'warmupSteps' | 'epochs'>, step: number, totalSteps: number): number {
  const warm = config.warmupSteps ?? 0;
  if (step < warm) return (config.lr * (step + 1)) / warm;
  switch (config.schedule) {
    case 'constant':
      return config.lr;
    case 'cosine': {
      const t = Math.min(1, (step - warm) / Math.max(1, totalSteps - warm));
      return 0.5 * config.lr * (1 + Math.cos(Math.PI * t));
    }
    case 'step': {
      const stepsPerEpoch = totalSteps / Math.max(1, config.epochs);
      const epoch = Math.floor(step / stepsPerEpoch);
      const every = config.stepEpochs ?? Math.max(1, Math.round(config.epochs / 3));
      return config.lr * (config.gamma ?? 0.1) ** Math.floor(epoch / every);
    }
  }
}
