// The estimate under Start: time per step and peak GPU memory from the worker's probe, scaled to the run's
// settings, with a warning when the run would take hours on a software adapter.
import type { Event, TrainSettings } from './protocol.js';

type Probe = Extract<Event, { type: 'estimate' }>;

/** Longer than this on a software adapter earns a warning. */
const SLOW_SECONDS = 3600;

export function duration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 90 * 60) return `${(seconds / 60).toFixed(0)} min`;
  return `${(seconds / 3600).toFixed(1)} hours`;
}

/**
 * The estimate for `s` from a probe, or why there is none. The probe holds for the model, width, batch size and
 * dataset it ran with; epochs and steps per epoch only scale it (steps per epoch is capped by the dataset).
 */
export function estimateText(probe: Probe | null, s: TrainSettings | null, datasetName: string, software: boolean): { text: string; slow: boolean } {
  if (!probe) return { text: 'Estimate runs a few steps of these settings to measure time and memory per step.', slow: false };
  if (!s || probe.model !== s.model || probe.width !== s.width || probe.batchSize !== s.batchSize || probe.dataset !== datasetName) {
    return { text: 'The settings changed since the estimate: press Estimate again.', slow: false };
  }
  const perEpoch = s.maxStepsPerEpoch > 0 ? Math.min(s.maxStepsPerEpoch, probe.stepsPerEpoch) : probe.stepsPerEpoch;
  const seconds = (probe.msPerStep / 1000) * perEpoch * s.epochs;
  const slow = software && seconds > SLOW_SECONDS;
  const base = `≈ ${probe.msPerStep.toFixed(0)} ms per step, peak GPU memory so far ≈ ${(probe.peakBytes / 2 ** 20).toFixed(1)} MiB; ${perEpoch} steps × ${s.epochs} epochs ≈ ${duration(seconds)} of training steps (evaluation not included).`;
  return { text: slow ? `⚠ ${base} That is hours on a software adapter: choose a smaller width, fewer steps per epoch or epochs, or a machine with a GPU.` : base, slow };
}
