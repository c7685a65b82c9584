import { writeFile } from 'node:fs/promises';
import { init } from '../device/index.js';
import { loadDataset } from '../data/node.js';
import { RunLoop } from '../train/loop.js';
import { adapterKind } from '../ops/conv/index.js';
import { Profiler, summarize, formatSummary, chromeTrace, compileSummary, formatCompiles } from '../gpu/profiler.js';
import { bool, num, optNum, optStr, str, type Args } from './args.js';
import { archFromArgs } from './models.js';
import { precisionFromArgs } from './train.js';

/**
 * Times a few training steps: host recording time per step, eager and compiled (compileStep), next to the GPU time
 * of each dispatch (timestamp queries), then prints the top kernels and writes a Chrome trace. --no-compile profiles
 * the eager step's kernels instead of the replayed ones (the same kernels, the same order).
 */
export async function profileCommand(args: Args): Promise<number> {
  const ctx = await init();
  const rt = ctx.runtime;
  const steps = num(args, 'steps', 5);
  const batchSize = num(args, 'batch-size', 32);
  const dataset = await loadDataset(str(args, 'dataset', 'mnist'), { path: optStr(args, 'data') });
  const modelName = str(args, 'model');
  // The run loop's restore-or-create builds the model, optimizer and loader; the steps timed are the Trainer's own
  // training step (the compiled replay and the eager path), not a copy of it.
  const loop = new RunLoop({
    config: { model: modelName, width: optNum(args, 'width'), arch: archFromArgs(args), dataset: dataset.name, epochs: 1, batchSize, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: false, schedule: 'constant', seed: 0, augment: false, precision: precisionFromArgs(args) },
    dataset,
  });
  const { model, trainer } = loop;
  model.train();
  const loader = trainer.trainLoader;
  let index = 0;
  /** One step; returns its host time (recording or replay, ms) after waiting for the GPU. */
  const step = async (useCompiled: boolean): Promise<number> => trainer.timedStep(await loader.batch(0, index++ % loader.numBatches()), useCompiled);
  // Warm-up: pipelines compile on first use, and the first steps create gradients and momentum (and record).
  // The first step is profiled: each pipeline's first dispatch against its later ones gives its compile time.
  const coldProfiler = new Profiler(rt).start();
  const coldWall = performance.now();
  await step(true);
  const coldMs = performance.now() - coldWall;
  coldProfiler.stop();
  const cold = await coldProfiler.collect();
  coldProfiler.destroy();
  for (let i = 1; i < 3; i++) await step(true);
  await step(false);
  const d0 = rt.dispatchCount;
  await step(false);
  const dispatches = rt.dispatchCount - d0;
  const timed = async (useCompiled: boolean) => {
    let host = 0;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) host += await step(useCompiled);
    return { host: host / steps, wall: (performance.now() - t0) / steps };
  };
  const eager = await timed(false);
  const replay = await timed(true);
  const useCompiled = bool(args, 'compile', true);
  const profiler = new Profiler(rt).start();
  for (let i = 0; i < steps; i++) await step(useCompiled);
  profiler.stop();
  const timings = await profiler.collect();
  profiler.destroy();
  const gpuMs = timings.reduce((s, t) => s + t.durationUs, 0) / 1000 / steps;
  const per = (ms: number) => `${ms.toFixed(2)} ms (${((1000 * ms) / dispatches).toFixed(1)} µs per dispatch)`;
  const out = process.stdout;
  out.write(`${modelName}${args.width ? ` n=${String(args.width)}` : ''}, batch ${batchSize}, ${steps} steps of ${dispatches} dispatches\n`);
  out.write(`host recording per step: eager ${per(eager.host)}, compiled ${per(replay.host)}\n`);
  out.write(`GPU time per step: ${gpuMs.toFixed(2)} ms; wall per step (synchronous): eager ${eager.wall.toFixed(2)} ms, compiled ${replay.wall.toFixed(2)} ms\n`);
  out.write(`images/s (synchronous steps): eager ${((1000 * batchSize) / eager.wall).toFixed(1)}, compiled ${((1000 * batchSize) / replay.wall).toFixed(1)}\n\n`);
  out.write(`${formatSummary(summarize(timings), num(args, 'top', 20))}\n\n`);
  out.write(`first step (compiles every pipeline): ${(coldMs / 1000).toFixed(1)} s wall\n`);
  out.write(`${formatCompiles(compileSummary([...cold, ...timings], rt.pipelineLog, adapterKind() === 'lavapipe'), num(args, 'top', 20))}\n`);
  const tracePath = optStr(args, 'trace') ?? `profile-${modelName}.trace.json`;
  await writeFile(tracePath, JSON.stringify(chromeTrace(timings, `${modelName} on ${ctx.info.description || ctx.info.vendor}`)));
  out.write(`\nChrome trace (chrome://tracing or ui.perfetto.dev): ${tracePath}\n`);
  loop.dispose();
  return 0;
}
