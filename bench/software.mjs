// What a user without a GPU gets: each software WebGPU adapter on this machine (lavapipe, SwiftShader) side by side
// with PyTorch on the same CPU with as many threads as there are cores, in one run:
//   - the adapter's FMA ceiling (bench/fma.mjs), conv 3×3 forward at 16×16×256 and 8×8×512 (batch 32) as GFLOP/s
//     and as a share of that ceiling;
//   - the main job's training step (`npm run train`: sl-vgg16 n=32 (--width), batch 32, 1×32×32, SGD with Nesterov momentum,
//     compiled as the trainer runs it) in ms per step and images/s;
//   - PyTorch (bench/pytorch_ref.py, python3 with torch) on the CPU: the same step and the same convs.
// Usage: node bench/software.mjs [--steps 20] [--threads N] [--width 32] [--out DIR]   (writes DIR/software.md and .json)
// Each adapter runs in its own child process (Dawn picks the Vulkan driver when it starts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    // The main job's width (npm run train); --width 16 for the previous recipe.
    width: { type: 'string', default: '32' },
    threads: { type: 'string', default: String(availableParallelism()) },
    out: { type: 'string', default: 'bench/results' },
    child: { type: 'string' },
  },
});
const STEPS = Number(opt.steps);
const WIDTH = Number(opt.width);
const SHAPES = [
  [16, 256],
  [8, 512],
];
const BATCH = 32;
const convFlops = (hw, c) => 2 * BATCH * c * hw * hw * c * 9;

if (opt.child) await child();
else await parent();

async function child() {
  const { init, runtime, randn, noGrad, conv2d, tidy, tensor, crossEntropy, SGD, compileStep } = await import('../dist/index.js');
  const { createModel } = await import('../dist/models/index.js');
  const { fmaCeiling } = await import('./fma.mjs');
  const ctx = await init();
  const out = { adapter: ctx.info.description || ctx.info.architecture, source: ctx.platform.source };
  out.fmaGflops = (await fmaCeiling(ctx.device)).gflops;
  const sync = () => runtime().sync();
  out.conv = [];
  for (const [hw, c] of SHAPES) {
    const x = randn([BATCH, c, hw, hw]);
    const w = randn([c, c, 3, 3], { std: 0.05 });
    const once = async () => {
      noGrad(() => conv2d(x, w, null, { padding: 1 }).dispose());
      await sync();
    };
    const t0 = performance.now();
    await once(); // compile
    const compileMs = performance.now() - t0;
    const samples = [];
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      await once();
      samples.push(performance.now() - s);
    }
    const ms = samples.sort((a, b) => a - b)[1];
    out.conv.push({ shape: `${hw}×${hw}×${c}`, ms, gflops: convFlops(hw, c) / (ms * 1e6), firstCallMs: compileMs });
    x.dispose();
    w.dispose();
  }
  // The main job's step, as the trainer runs it: compiled, the batch uploaded each step, the loss read back.
  const model = createModel('sl-vgg16', { width: WIDTH, inChannels: 1, numClasses: 10, inputSize: 32, seed: 0 });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.03, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const data = new Float32Array(BATCH * 32 * 32).map((_, i) => Math.sin(i * 0.37));
  const labels = Int32Array.from({ length: BATCH }, (_, i) => i % 10);
  const step = compileStep((x, y) => {
    const loss = crossEntropy(model.forward(x), y);
    void loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  });
  const one = async () => {
    const x = tensor(data, [BATCH, 1, 32, 32]);
    const loss = tidy(() => step(x, labels));
    const v = (await loss.toArray())[0];
    x.dispose();
    if (!Number.isFinite(v)) throw new Error(`software bench: loss became ${v}`);
  };
  const t0 = performance.now();
  await one();
  await one();
  out.stepWarmupMs = performance.now() - t0;
  const s0 = performance.now();
  for (let i = 0; i < STEPS; i++) await one();
  out.stepMs = (performance.now() - s0) / STEPS;
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
}

function icds() {
  const found = [];
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d']) {
    try {
      const lvp = readdirSync(dir).find((n) => /^lvp_icd.*\.json$/.test(n));
      if (lvp) {
        found.push({ name: 'lavapipe', icd: join(dir, lvp) });
        break;
      }
    } catch {
      // no such folder
    }
  }
  const ss = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'].find((p) => existsSync(p));
  if (ss) found.push({ name: 'SwiftShader', icd: ss });
  return found;
}

/** A python3 that imports torch: $PYTHON, else python3 on the PATH, else the system's (Debian: python3-torch). */
function torchPython() {
  for (const py of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

function pytorch(threads) {
  const rows = {};
  const python = torchPython();
  if (!python) return { error: 'no python3 with torch found (Debian: apt-get install python3-torch; or set PYTHON)' };
  const py = (args) => {
    const r = spawnSync(python, ['bench/pytorch_ref.py', '--device', 'cpu', '--threads', String(threads), ...args], { encoding: 'utf8' });
    if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop() };
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  };
  const step = py(['--models', `sl-vgg16:${WIDTH}`, '--channels', '1', '--batch', String(BATCH), '--steps', String(STEPS)]);
  if (step.error) return { error: step.error };
  rows.version = step[0].framework;
  rows.stepMs = step[0].ms_per_step;
  const conv = spawnSync(
    python,
    [
      '-c',
      `import torch, time, json
torch.set_num_threads(${threads})
out = []
for hw, c in ${JSON.stringify(SHAPES)}:
    x = torch.randn(${BATCH}, c, hw, hw); w = torch.randn(c, c, 3, 3) * 0.05
    with torch.no_grad():
        torch.nn.functional.conv2d(x, w, padding=1)
        ts = []
        for _ in range(3):
            t = time.perf_counter(); torch.nn.functional.conv2d(x, w, padding=1); ts.append(time.perf_counter() - t)
    out.append(sorted(ts)[1] * 1e3)
print(json.dumps(out))`,
    ],
    { encoding: 'utf8' },
  );
  rows.convMs = conv.status === 0 ? JSON.parse(conv.stdout) : null;
  return rows;
}

async function parent() {
  const threads = Number(opt.threads);
  const results = { date: new Date().toISOString(), cores: availableParallelism(), loadBefore: loadavg()[0], adapters: [] };
  for (const { name, icd } of icds()) {
    process.stderr.write(`software bench: ${name} (${icd})…\n`);
    const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', icd, '--steps', String(STEPS), '--width', String(WIDTH)], {
      encoding: 'utf8',
      env: { ...process.env, ONELAYER_VK_ICD: icd },
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) {
      results.adapters.push({ name, error: r.stderr.trim().split('\n').slice(-3).join(' ') });
      continue;
    }
    results.adapters.push({ name, ...JSON.parse(r.stdout.trim().split('\n').pop()) });
  }
  process.stderr.write(`software bench: PyTorch on the CPU, ${threads} threads…\n`);
  results.pytorch = pytorch(threads);
  results.loadAfter = loadavg()[0];
  const md = markdown(results, threads);
  process.stdout.write(md);
  await mkdir(opt.out, { recursive: true });
  await writeFile(join(opt.out, 'software.md'), md);
  await writeFile(join(opt.out, 'software.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.exit(0);
}

function markdown(r, threads) {
  const f = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const ok = r.adapters.filter((a) => !a.error);
  const pt = r.pytorch.error ? null : r.pytorch;
  const head = ['', ...ok.map((a) => a.name), pt ? `PyTorch CPU (${threads} threads)` : 'PyTorch CPU'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i ? '---:' : '---')).join(' | ')} |`];
  const row = (label, cells) => lines.push(`| ${label} | ${cells.join(' | ')} |`);
  row('FMA ceiling, GFLOP/s', [...ok.map((a) => f(a.fmaGflops)), '–']);
  SHAPES.forEach(([hw, c], i) => {
    const gf = (ms) => convFlops(hw, c) / (ms * 1e6);
    row(`conv 3×3 forward ${hw}×${hw}×${c}, batch 32: ms (GFLOP/s, % of ceiling)`, [
      ...ok.map((a) => `${f(a.conv[i].ms, 0)} (${f(a.conv[i].gflops)}, ${f((100 * a.conv[i].gflops) / a.fmaGflops, 0)} %)`),
      pt?.convMs ? `${f(pt.convMs[i], 1)} (${f(gf(pt.convMs[i]))})` : '–',
    ]);
  });
  row(`main job step (sl-vgg16 n=${WIDTH}, batch 32, 1×32×32): ms`, [...ok.map((a) => f(a.stepMs)), pt ? f(pt.stepMs) : '–']);
  row('main job step: images/s', [...ok.map((a) => f((BATCH * 1000) / a.stepMs, 0)), pt ? f((BATCH * 1000) / pt.stepMs, 0) : '–']);
  if (pt) row('step time / PyTorch CPU', [...ok.map((a) => `${f(a.stepMs / pt.stepMs, 2)}×`), '1×']);
  row('first two steps (compile included), s', [...ok.map((a) => f(a.stepWarmupMs / 1000)), '–']);
  const notes = [
    '',
    `${r.date}; ${r.cores} cores; load average ${f(r.loadBefore, 2)} before, ${f(r.loadAfter, 2)} after (other jobs share the machine: compare columns, not absolute figures).`,
    ...ok.map((a) => `${a.name}: ${a.adapter} (${a.source}).`),
    pt ? `${pt.version}, bench/pytorch_ref.py (same layers and parameter count), eager fp32.` : `PyTorch: ${r.pytorch.error}`,
    ...r.adapters.filter((a) => a.error).map((a) => `${a.name} failed: ${a.error}`),
    '',
  ];
  return `${lines.join('\n')}\n${notes.join('\n')}`;
}
