// Shared helpers of the benchmark: flags, timing with a budget, FLOP counts, formatting.

export const DEFAULT_SHAPES = [
  [32, 64],
  [16, 128],
  [16, 256],
  [8, 512],
];
export const BATCH = 32;

const HELP = `npm run bench -- [flags]
  --quick            smallest shape only, n = 64 models only, short budgets (~2–3 min)
  --full             also the tfjs training steps of every model (slow: many minutes each on a software adapter)
  --skip-tfjs        onelayer only
  --shapes 32x64,8x512   activation shapes HxC (batch ${BATCH}, C = O, 3×3, pad 1)
  --models vgg16,s-vgg16@64,sl-vgg16@256   training-step rows (onelayer)
  --tfjs-models sl-vgg16@64                 training-step rows (tfjs; 'none' for none)
  --budget SECONDS   tfjs: a call slower than this is not repeated, and larger shapes of that op are skipped (default 60)
  --iters N          timed iterations per onelayer op row (default 5; tfjs uses at most 3)
  --no-ops / --no-models / --no-memory   leave a section out
  --out DIR          results folder (default bench/results)`;

export function parseArgs(argv) {
  const o = {
    quick: false,
    full: false,
    skipTfjs: false,
    shapes: null,
    models: null,
    tfjsModels: null,
    budget: 60,
    iters: 5,
    ops: true,
    modelsOn: true,
    memory: true,
    out: new URL('./results/', import.meta.url).pathname,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: flag ${a} needs a value\n${HELP}`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--full') o.full = true;
    else if (a === '--skip-tfjs') o.skipTfjs = true;
    else if (a === '--shapes') o.shapes = parseShapes(val());
    else if (a === '--models') o.models = parseModels(val());
    else if (a === '--tfjs-models') o.tfjsModels = parseModels(val());
    else if (a === '--budget') o.budget = positive(a, val());
    else if (a === '--iters') o.iters = Math.round(positive(a, val()));
    else if (a === '--no-ops') o.ops = false;
    else if (a === '--no-models') o.modelsOn = false;
    else if (a === '--no-memory') o.memory = false;
    else if (a === '--out') o.out = val();
    else if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`bench: unknown flag '${a}'\n${HELP}`);
  }
  if (o.quick) {
    o.shapes ??= [DEFAULT_SHAPES[0]];
    o.models ??= parseModels('s-vgg16@64,sl-vgg16@64');
    o.tfjsModels ??= [];
    o.budget = Math.min(o.budget, 30);
    o.iters = Math.min(o.iters, 3);
  }
  o.shapes ??= DEFAULT_SHAPES;
  o.models ??= parseModels('vgg16,s-vgg16@64,s-vgg16@256,sl-vgg16@64,sl-vgg16@256');
  o.tfjsModels ??= o.full ? o.models : parseModels('sl-vgg16@64');
  if (o.skipTfjs) o.tfjsModels = [];
  return o;
}

function positive(flag, v) {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`bench: ${flag} must be a positive number, got '${v}'`);
  return n;
}

function parseShapes(s) {
  return s.split(',').map((part) => {
    const m = /^(\d+)x(\d+)$/.exec(part.trim());
    if (!m) throw new Error(`bench: --shapes entries are HxC (e.g. 32x64), got '${part}'`);
    return [Number(m[1]), Number(m[2])];
  });
}

const MODEL_RE = /^(vgg16|s-vgg16|sl-vgg16)(?:@(\d+))?$/;

export function parseModels(s) {
  if (s === 'none' || s === '') return [];
  return s.split(',').map((part) => {
    const m = MODEL_RE.exec(part.trim());
    if (!m) throw new Error(`bench: model entries are vgg16, s-vgg16@N or sl-vgg16@N, got '${part}'`);
    if (m[1] !== 'vgg16' && !m[2]) throw new Error(`bench: ${m[1]} needs a width, e.g. ${m[1]}@64`);
    return { name: m[1], width: m[1] === 'vgg16' ? null : Number(m[2]) };
  });
}

export function modelLabel(m) {
  return m.width === null ? m.name : `${m.name} n=${m.width}`;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Times `run` (which records work) followed by `sync` (which waits for the device), as wall-clock ms per call.
 * One warm-up call (pipeline compilation) first. The warm-up's time decides how many timed calls fit:
 * a call slower than budgetS is reported from the warm-up alone (flagged), so a pathological kernel
 * costs one call, not several. aroundWarmup(once) may wrap the warm-up call (memory measurement) and
 * must return its time.
 * On a fast adapter (a real GPU) one synced call is mostly submit and readback latency, so a call under
 * minSampleMs is repeated `reps` times between syncs and each sample is the time per call; both sides
 * of the bench get the same treatment.
 */
export async function timeCalls(run, sync, { iters, budgetS, maxTotalS = 10, aroundWarmup = null, minSampleMs = 20 }) {
  const timed = async (reps) => {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) await run();
    await sync();
    return (performance.now() - t0) / reps;
  };
  const once = () => timed(1);
  const warm = aroundWarmup ? await aroundWarmup(once) : await once();
  if (warm > budgetS * 1000) return { ms: warm, samples: [warm], warmupOnly: true, warmupMs: warm, reps: 1 };
  const probe = await once();
  const reps = probe < minSampleMs ? Math.min(100, Math.ceil(minSampleMs / Math.max(probe, 0.01))) : 1;
  const n = Math.max(1, Math.min(iters, Math.floor((maxTotalS * 1000) / Math.max(probe * reps, 1e-3))));
  const samples = reps === 1 ? [probe] : [];
  while (samples.length < n) samples.push(await timed(reps));
  return { ms: median(samples), samples, warmupOnly: false, warmupMs: warm, reps };
}

export const convFlops = (N, H, W, C, O) => 2 * N * O * H * W * C * 9;
export const blendFlops = (N, H, W, n) => 2 * N * H * W * n * n;

/**
 * FLOPs of one VGG-16-style training step (forward + input grad + weight grad of every conv / blend, i.e.
 * 3× the forward multiply-adds; the first layer's input gradient is counted too, BN/pool/linear are ignored).
 */
export function vggStepFlops(model, batch = BATCH, size = 32, inChannels = 3) {
  const cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];
  let hw = size;
  let c = model.width ?? inChannels;
  let f = 0;
  for (const v of cfg) {
    if (v === 'M') {
      hw = Math.floor(hw / 2);
      continue;
    }
    const o = model.width ?? v;
    f += convFlops(batch, hw, hw, c, o);
    if (model.name === 'sl-vgg16') f += blendFlops(batch, hw, hw, o);
    c = o;
  }
  return 3 * f;
}

export const fmtMs = (ms) => (ms === null || ms === undefined ? '–' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
export const fmtNum = (x, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
export const mib = (b) => (b === null || b === undefined ? '–' : b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

/** A python3 that imports torch: $PYTHON, else python3 on the PATH, else the system's (Debian: python3-torch); null if none. */
export async function torchPython() {
  const { spawnSync } = await import('node:child_process');
  for (const py of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}
