// Soak: one process trains many steps of a small model and samples GPU memory (memoryStats(): live and pooled
// bytes) and the process RSS as it goes. Both must be flat after warm-up: a leak of one buffer per step, or of
// autograd nodes, shows up as a line that keeps rising. Writes bench/results/soak.json and soak.png.
//
//   npm run build && node bench/soak.mjs [--steps 5000] [--every 50] [--model s-vgg16] [--width 4] [--batch-size 8]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { init, createModel, memoryStats, Trainer } from '../dist/index.js';
import { renderPng } from '../dist/node/index.js';
import { loadMnist } from '../dist/data/index.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '5000' },
    every: { type: 'string', default: '50' },
    model: { type: 'string', default: 's-vgg16' },
    width: { type: 'string', default: '4' },
    'batch-size': { type: 'string', default: '8' },
  },
  strict: true,
});
const steps = Number(values.steps);
const every = Number(values.every);
const here = dirname(fileURLToPath(import.meta.url));

const ctx = await init();
const dataset = await loadMnist();
const model = createModel(values.model, { width: Number(values.width), numClasses: 10, inChannels: 1 });
const batchSize = Number(values['batch-size']);
const stepsPerEpoch = Math.floor(dataset.train.count / batchSize);
const epochs = Math.ceil(steps / stepsPerEpoch);
const trainer = new Trainer(model, dataset, { epochs, batchSize, lr: 0.02, momentum: 0.9, weightDecay: 5e-4, nesterov: true, schedule: 'cosine', warmupSteps: 20, seed: 0, augment: false, maxStepsPerEpoch: Math.min(stepsPerEpoch, steps), maxEvalImages: 200 });

const samples = [];
const t0 = performance.now();
const sample = (step) => {
  const m = memoryStats();
  samples.push({ step, seconds: (performance.now() - t0) / 1000, liveBytes: m.liveBytes, pooledBytes: m.pooledBytes, liveBuffers: m.liveBuffers, rssBytes: process.memoryUsage().rss, heapBytes: process.memoryUsage().heapUsed });
};
sample(0);
let done = 0;
while (done < steps) {
  const stop = () => done >= steps;
  await trainer.trainEpoch((p) => {
    done++;
    if (done % every === 0) sample(done);
    if (done % 500 === 0) process.stderr.write(`soak: ${done}/${steps} steps, loss ${p.loss.toFixed(3)}, live ${(memoryStats().liveBytes / 1e6).toFixed(2)} MB, rss ${(process.memoryUsage().rss / 1e6).toFixed(1)} MB\n`);
  }, stop);
  // Evaluation between epochs is part of a real run's memory behaviour too.
  if (done < steps) await trainer.evaluate();
}

// "Flat after warm-up": compare the first and last fifths of the samples after the first 30 % (the V8 heap and Mesa caches grow for ~1,500 steps).
const warm = samples.filter((s) => s.step >= steps * 0.3);
const fifth = Math.max(1, Math.floor(warm.length / 5));
const mean = (xs, k) => xs.reduce((a, s) => a + s[k], 0) / xs.length;
const drift = (k) => mean(warm.slice(-fifth), k) - mean(warm.slice(0, fifth), k);
const report = {
  adapter: `${ctx.info.vendor} ${ctx.info.architecture} ${ctx.info.description}`.trim(),
  model: values.model, width: Number(values.width), batchSize, steps: done, seconds: (performance.now() - t0) / 1000,
  liveBytesDrift: drift('liveBytes'), pooledBytesDrift: drift('pooledBytes'), liveBuffersDrift: drift('liveBuffers'), rssBytesDrift: drift('rssBytes'),
  liveBytesRange: [Math.min(...warm.map((s) => s.liveBytes)), Math.max(...warm.map((s) => s.liveBytes))],
  rssBytesRange: [Math.min(...warm.map((s) => s.rssBytes)), Math.max(...warm.map((s) => s.rssBytes))],
  samples,
};
const out = join(here, 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'soak.json'), `${JSON.stringify(report, null, 1)}\n`);
const mb = (k) => samples.map((s) => ({ x: s.step, y: s[k] / 1e6 }));
writeFileSync(
  join(out, 'soak.png'),
  await renderPng({
    title: `Soak: ${values.model} n=${values.width}, batch ${batchSize}, ${done} steps`,
    xLabel: 'training step',
    yLabel: 'MB',
    series: [
      { name: 'process RSS', points: mb('rssBytes'), marker: 'none', line: true },
      { name: 'JS heap used', points: mb('heapBytes'), marker: 'none', line: true },
      { name: 'GPU live (memoryStats)', points: mb('liveBytes'), marker: 'none', line: true },
      { name: 'GPU pooled (memoryStats)', points: mb('pooledBytes'), marker: 'none', line: true, dashed: true },
    ],
    legend: true,
  }),
);
const { samples: _s, ...summary } = report;
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.exit(0);
