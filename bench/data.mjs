// The image pipeline alone — read JPEG files, decode + random-resized crop + flip + normalise with sharp in the
// decoding threads, assemble batches — in images/s at 32×32, 64×64 and 224×224, with 1, 2 and all cores, next to a
// compiled training step's images/s at the same input size on the same machine.
//   node bench/data.mjs [--sizes 32,64,224] [--threads 1,2,all] [--images 256] [--batch 64] [--batches 8]
//                       [--train s-vgg16@16,s-vgg16@16,resnet18] [--train-batch 32,32,8] [--steps 5] [--no-train]
//                       [--no-cache-row] [--out DIR]
// The JPEGs are generated first (noisy images: 32×32 and 64×64 sources for the small sizes, as CIFAR and Tiny
// ImageNet ship them; 500×375 for 224, ImageNet's typical size). ONELAYER_DIST=path/to/index.js benchmarks another build.
// The cache row: evaluation at 224×224 (resize + centre crop, in order) with all cores, without the image cache, with
// a cold one (decode + write every entry, the writes awaited) and a warm one (read + check every entry).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const distIndex = process.env.ONELAYER_DIST ? new URL(process.env.ONELAYER_DIST, `file://${process.cwd()}/`).href : new URL('../dist/index.js', import.meta.url).href;
const { init, tensor, tidy, crossEntropy, SGD, compileStep, createModel } = await import(distIndex);
const { DecodePool } = await import(new URL('./data/decode-pool-node.js', distIndex).href);
const { StreamLoader } = await import(new URL('./data/stream-loader-node.js', distIndex).href);

const SOURCE = { 32: [32, 32], 64: [64, 64], 224: [500, 375] };
const DEFAULT_TRAIN = { 32: ['s-vgg16', 16, 32], 64: ['s-vgg16', 16, 32], 224: ['resnet18', null, 8] };

function parse(argv) {
  const o = { sizes: [32, 64, 224], threads: ['1', '2', 'all'], images: 256, batch: 64, batches: 8, train: true, cacheRow: true, steps: 5, trainModels: null, trainBatch: null, out: new URL('./results/', import.meta.url).pathname };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench/data: ${a} needs a value`);
      return v;
    };
    if (a === '--sizes') o.sizes = val().split(',').map(Number);
    else if (a === '--threads') o.threads = val().split(',');
    else if (a === '--images') o.images = Number(val());
    else if (a === '--batch') o.batch = Number(val());
    else if (a === '--batches') o.batches = Number(val());
    else if (a === '--steps') o.steps = Number(val());
    else if (a === '--train') o.trainModels = val().split(',');
    else if (a === '--train-batch') o.trainBatch = val().split(',').map(Number);
    else if (a === '--no-train') o.train = false;
    else if (a === '--no-cache-row') o.cacheRow = false;
    else if (a === '--out') o.out = val();
    else throw new Error(`bench/data: unknown flag '${a}'`);
  }
  for (const s of o.sizes) if (!SOURCE[s]) throw new Error(`bench/data: --sizes takes 32, 64 and 224, got ${s}`);
  return o;
}

/** `count` noisy JPEGs of w×h (quality 90) in `dir`. */
async function makeJpegs(dir, count, w, h) {
  await mkdir(dir, { recursive: true });
  const paths = [];
  let s = 12345;
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(w * h * 3);
    const base = [(i * 37) % 200, (i * 91) % 200, (i * 53) % 200];
    for (let p = 0; p < data.length; p++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      data[p] = base[p % 3] + ((s >>> 24) % 56) + ((p / 3 / w) % h) / 8;
    }
    const path = join(dir, `img_${i}.jpg`);
    await writeFile(path, await sharp(data, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
    paths.push(path);
  }
  return paths;
}

/** Pipeline images/s: `batches` whole training batches (shuffled, random-resized crop + flip), after one warm-up batch. */
async function pipelineRate(paths, size, threads, o) {
  const pool = new DecodePool(threads);
  try {
    const labels = new Uint16Array(paths.length);
    const loader = new StreamLoader(pool, { paths, labels }, { batchSize: o.batch, shuffle: true, augment: true, seed: 1, dropLast: true, size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    const nb = loader.numBatches();
    await loader.batch(0, 0);
    const t0 = performance.now();
    let images = 0;
    for (let i = 0; i < o.batches; i++) images += (await loader.batch(1 + Math.floor((i + 1) / nb), (i + 1) % nb)).count;
    return images / ((performance.now() - t0) / 1000);
  } finally {
    await pool.close();
  }
}

/**
 * Evaluation images/s at size×size (resize + centre crop, in order) over `passes` passes of every image, without the
 * image cache (cacheDir undefined) or with it; the cache writes of the passes are included (flushed before the clock stops).
 */
async function evalRate(paths, size, threads, o, cacheDir, passes) {
  const pool = new DecodePool(threads);
  try {
    const labels = new Uint16Array(paths.length);
    const loader = new StreamLoader(pool, { paths, labels }, { batchSize: o.batch, shuffle: false, augment: false, size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], cacheDir });
    await pool.crop({ path: paths[0], size: 8, train: false, seed: 0, mean: [0, 0, 0], std: [1, 1, 1] }); // start the threads
    const before = { ...pool.stats };
    const t0 = performance.now();
    let images = 0;
    for (let e = 0; e < passes; e++) for (let i = 0; i < loader.numBatches(); i++) images += (await loader.batch(e, i)).count;
    await pool.flush();
    const ips = images / ((performance.now() - t0) / 1000);
    return { ips, stats: Object.fromEntries(Object.entries(pool.stats).map(([k, v]) => [k, v - before[k]])) };
  } finally {
    await pool.close();
  }
}

/** A compiled training step's images/s at size×size, pipelined one deep as the Trainer runs it. */
async function trainRate(name, width, batch, size, steps) {
  const model = createModel(name, { width: width ?? undefined, numClasses: 10, inChannels: 3, inputSize: size });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
  const step = compileStep((x, labels) => {
    const loss = crossEntropy(model.forward(x), labels);
    void loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  }, { name: 'bench-data' });
  const images = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i));
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const x = tensor(images, [batch, 3, size, size]);
  const call = () => tidy(() => step(x, labels));
  for (let i = 0; i < 2; i++) await call().item();
  let prev = null;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const read = call().toArray();
    if (prev) await prev;
    prev = read;
  }
  await prev;
  const ips = (steps * batch) / ((performance.now() - t0) / 1000);
  step.dispose();
  opt.dispose();
  model.dispose();
  x.dispose();
  return ips;
}

const o = parse(process.argv.slice(2));
const cores = availableParallelism();
const threadCounts = [...new Set(o.threads.map((t) => (t === 'all' ? cores : Number(t))))];
const dir = await mkdtemp(join(tmpdir(), 'onelayer-bench-data-'));
const rows = [];
let cacheRow = null;
let adapter = '';
const made = new Map();
/** The generated JPEGs for output side `size` (made once). */
const jpegs = async (size) => {
  if (!made.has(size)) made.set(size, await makeJpegs(join(dir, String(size)), o.images, ...SOURCE[size]));
  return made.get(size);
};
try {
  const ctx = o.train ? await init() : null;
  adapter = ctx ? `${ctx.info.description || ctx.info.device}${ctx.info.software ? ' [software]' : ''}` : '';
  for (const [k, size] of o.sizes.entries()) {
    const [w, h] = SOURCE[size];
    const paths = await jpegs(size);
    const row = { size, source: `${w}×${h} JPEG`, pipeline: {} };
    for (const t of threadCounts) {
      row.pipeline[t] = await pipelineRate(paths, size, t, o);
      console.error(`bench/data: ${size}×${size}, ${t} thread(s): ${row.pipeline[t].toFixed(0)} images/s`);
    }
    if (o.train) {
      const [name, width, batch] = o.trainModels?.[k] ? [o.trainModels[k].split('@')[0], Number(o.trainModels[k].split('@')[1]) || null, o.trainBatch?.[k] ?? 8] : DEFAULT_TRAIN[size];
      row.train = { model: width ? `${name}@${width}` : name, batch: o.trainBatch?.[k] ?? batch, ips: await trainRate(name, width, o.trainBatch?.[k] ?? batch, size, o.steps) };
      console.error(`bench/data: ${size}×${size}, training step ${row.train.model} (batch ${row.train.batch}): ${row.train.ips.toFixed(1)} images/s`);
    }
    rows.push(row);
  }
  if (o.cacheRow) {
    const [w, h] = SOURCE[224];
    const paths = await jpegs(224);
    const cacheDir = join(dir, 'image-cache');
    const none = await evalRate(paths, 224, cores, o, undefined, 1);
    const cold = await evalRate(paths, 224, cores, o, cacheDir, 1);
    const warm = await evalRate(paths, 224, cores, o, cacheDir, 3);
    if (cold.stats.cacheWrites !== paths.length || warm.stats.cacheHits !== 3 * paths.length || warm.stats.decoded !== 0) {
      throw new Error(`bench/data: the image cache did not do its job (cold ${JSON.stringify(cold.stats)}, warm ${JSON.stringify(warm.stats)})`);
    }
    cacheRow = { size: 224, source: `${w}×${h} JPEG`, threads: cores, none: none.ips, cold: cold.ips, warm: warm.ips };
    console.error(`bench/data: evaluation 224×224, ${cores} thread(s): ${none.ips.toFixed(0)} images/s without the image cache, ${cold.ips.toFixed(0)} cold, ${warm.ips.toFixed(0)} warm`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const head = `| size | source | ${threadCounts.map((t) => `pipeline, ${t} thread${t > 1 ? 's' : ''}${t === cores ? ' (all)' : ''}`).join(' | ')} | training step (compiled) |`;
const lines = [head, `|${'---|'.repeat(3 + threadCounts.length)}`];
for (const r of rows) {
  const train = r.train ? `${r.train.ips.toFixed(1)} (${r.train.model}, batch ${r.train.batch})` : '–';
  lines.push(`| ${r.size}×${r.size} | ${r.source} | ${threadCounts.map((t) => r.pipeline[t].toFixed(0)).join(' | ')} | ${train} |`);
}
let md = `Image pipeline (sharp in decoding threads: read, decode, random-resized crop, flip, normalise, batch of ${o.batch}) in images/s, ${cores} cores${adapter ? `; training step on ${adapter}` : ''}\n\n${lines.join('\n')}\n`;
if (cacheRow) {
  md += `\nEvaluation (resize + centre crop, normalise, batch of ${o.batch}) with the on-disk image cache, ${cacheRow.threads} thread${cacheRow.threads > 1 ? 's' : ''}, images/s\n\n`;
  md += `| size | source | no cache | cold cache (decode + write) | warm cache (read + check) |\n|---|---|---|---|---|\n`;
  md += `| ${cacheRow.size}×${cacheRow.size} | ${cacheRow.source} | ${cacheRow.none.toFixed(0)} | ${cacheRow.cold.toFixed(0)} | ${cacheRow.warm.toFixed(0)} |\n`;
}
console.log(md);
await mkdir(o.out, { recursive: true });
await writeFile(join(o.out, 'data.json'), `${JSON.stringify({ cores, adapter, batch: o.batch, rows, cache: cacheRow }, null, 2)}\n`);
await writeFile(join(o.out, 'data.md'), md);
process.exit(0);
