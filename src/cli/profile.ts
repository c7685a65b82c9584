import { writeFile } from 'node:fs/promises';
import { init } from '../device/index.js';
import { createModel } from '../models/index.js';
import { loadDataset } from '../data/node.js';
import { Trainer } from '../train/trainer.js';
import { Profiler, summarize, formatSummary, chromeTrace } from '../gpu/profiler.js';
import { num, optNum, optStr, str, type Args } from './args.js';

/** Times every dispatch of a few training steps and prints the top kernels; writes a Chrome trace. */
export async function profileCommand(args: Args): Promise<number> {
  const ctx = await init();
  const steps = num(args, 'steps', 5);
  const batchSize = num(args, 'batch-size', 32);
  const dataset = await loadDataset(str(args, 'dataset', 'mnist'), { path: optStr(args, 'data') });
  const modelName = str(args, 'model');
  const model = createModel(modelName, { width: optNum(args, 'width'), numClasses: dataset.numClasses, inChannels: dataset.channels, inputSize: dataset.height });
  const trainer = new Trainer(model, dataset, { epochs: 1, batchSize, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: false, schedule: 'constant', seed: 0, maxStepsPerEpoch: 1 });
  // One step first: pipelines compile on first use, and that should not count.
  await trainer.trainEpoch();
  const profiler = new Profiler(ctx.runtime).start();
  const t0 = performance.now();
  trainer.config.maxStepsPerEpoch = steps;
  trainer.epoch = 0;
  await trainer.trainEpoch();
  const wall = (performance.now() - t0) / 1000;
  profiler.stop();
  const timings = await profiler.collect();
  profiler.destroy();
  const gpuMs = timings.reduce((s, t) => s + t.durationUs, 0) / 1000;
  process.stdout.write(`${modelName}${args.width ? ` n=${String(args.width)}` : ''}, batch ${batchSize}, ${steps} steps: ${timings.length} dispatches, GPU time ${gpuMs.toFixed(1)} ms, wall ${(wall * 1000).toFixed(1)} ms (${((steps * batchSize) / wall).toFixed(1)} img/s)\n\n`);
  process.stdout.write(`${formatSummary(summarize(timings), num(args, 'top', 20))}\n`);
  const tracePath = optStr(args, 'trace') ?? `profile-${modelName}.trace.json`;
  await writeFile(tracePath, JSON.stringify(chromeTrace(timings, `${modelName} on ${ctx.info.description || ctx.info.vendor}`)));
  process.stdout.write(`\nChrome trace (chrome://tracing or ui.perfetto.dev): ${tracePath}\n`);
  model.dispose();
  return 0;
}
