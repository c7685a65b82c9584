// Mixed precision (issue 18): onelayer f32 vs f16 operands, next to PyTorch's fp32 / TF32 / autocast, in one run.
//   - per-op rows: conv 3×3 forward, input gradient, weight gradient at the bench's four shapes and each batch, with
//     f32 operands and with f16 operands (f32 sums and outputs), each naming the conv variant table's row that ran;
//     plus the f32 → f16 cast of the activation that mixed precision adds in front of every conv;
//   - training steps of vgg16 / s-vgg16 / sl-vgg16, compiled (compileStep, as the Trainer runs them), f32 and mixed
//     (model.setPrecision('mixed') + a LossScaler in the SGD, loss.backward(scaler.seed())), ms, images/s, peak memory;
//   - PyTorch (bench/pytorch_ref.py, when a python3 with torch is found): the same conv rows in fp32, TF32, fp16 and
//     bf16, and the same steps in eager fp32, eager default (TF32), CUDA graph, autocast fp16 (+ GradScaler), autocast
//     bf16 and a CUDA-graphed autocast bf16 step; on CUDA when torch sees one, else on the CPU.
// `node bench/mixed.mjs --help` lists the flags. Writes DIR/mixed.json and DIR/mixed.md (DIR: --out, default
// bench/results) and prints the markdown.
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';

if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
  console.error('bench: dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
const ol = await import('../dist/index.js');
const { init, runtime, randn, zeros, tensor, tidy, noGrad, conv2d, cast, hasF16, crossEntropy, SGD, LossScaler, compileStep, createModel, memoryStats } = ol;
const { convBackwardInput, convBackwardWeight, choose, adapterKind } = await import('../dist/ops/conv/index.js');
const { subgroupMatrixLine } = await import('../dist/cli/info.js');
const { DEFAULT_SHAPES, parseModels, modelLabel, timeCalls, convFlops, vggStepFlops, fmtMs, fmtNum, mib, torchPython } = await import('./common.mjs');
const { table } = await import('./report.mjs');

const HELP = `node bench/mixed.mjs [flags]
  --precision f32,mixed     onelayer precisions (mixed: f16 operands of conv, blend and linear; needs shader-f16)
  --shapes 32x64,8x512      conv activation shapes HxC (C = O, 3×3, pad 1); default the bench's four
  --batch 32,128            batch sizes of the conv rows and the training steps
  --models vgg16,s-vgg16@64,sl-vgg16@256   training-step rows ('none' for none); default vgg16, s-/sl-vgg16 n = 64, 256
  --iters N                 timed samples per onelayer row (default 5)
  --budget S                a call slower than S seconds is reported from its one call (default 60)
  --pytorch-steps N         timed steps per PyTorch step row (default 20; warm-up 5)
  --no-ops / --no-models / --no-pytorch   leave a section out
  --quick                   32x64, batch 32, sl-vgg16@32, 3 iterations, 3 PyTorch steps (a few minutes on a CPU adapter)
  --out DIR                 results folder (default bench/results)`;

function parse(argv) {
  const o = { precision: ['f32', 'mixed'], shapes: null, batch: null, models: null, iters: 5, budget: 60, pytorchSteps: 20, ops: true, steps: true, pytorch: true, quick: false, out: new URL('./results/', import.meta.url).pathname };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: flag ${a} needs a value\n${HELP}`);
      return v;
    };
    const list = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);
    const count = (v) => {
      const n = Math.round(Number(v));
      if (!(n > 0)) throw new Error(`bench: ${a} must be a positive number, got '${v}'`);
      return n;
    };
    if (a === '--precision') {
      o.precision = list(val());
      for (const p of o.precision) if (p !== 'f32' && p !== 'mixed') throw new Error(`bench: --precision entries are f32 or mixed, got '${p}'`);
    } else if (a === '--shapes') {
      o.shapes = list(val()).map((s) => {
        const m = /^(\d+)x(\d+)$/.exec(s);
        if (!m) throw new Error(`bench: --shapes entries are HxC (e.g. 32x64), got '${s}'`);
        return [Number(m[1]), Number(m[2])];
      });
    } else if (a === '--batch') o.batch = list(val()).map(count);
    else if (a === '--models') o.models = parseModels(val());
    else if (a === '--iters') o.iters = count(val());
    else if (a === '--budget') o.budget = count(val());
    else if (a === '--pytorch-steps') o.pytorchSteps = count(val());
    else if (a === '--no-ops') o.ops = false;
    else if (a === '--no-models') o.steps = false;
    else if (a === '--no-pytorch') o.pytorch = false;
    else if (a === '--quick') o.quick = true;
    else if (a === '--out') o.out = val();
    else if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`bench: unknown flag '${a}'\n${HELP}`);
  }
  if (o.quick) {
    o.shapes ??= [DEFAULT_SHAPES[0]];
    o.batch ??= [32];
    o.models ??= parseModels('sl-vgg16@32');
    o.iters = Math.min(o.iters, 3);
    o.pytorchSteps = Math.min(o.pytorchSteps, 3);
  }
  o.shapes ??= DEFAULT_SHAPES;
  o.batch ??= [32, 128];
  o.models ??= parseModels('vgg16,s-vgg16@64,s-vgg16@256,sl-vgg16@64,sl-vgg16@256');
  return o;
}

const argv = process.argv.slice(2);
const opts = parse(argv);
const T0 = performance.now();
const log = (s) => console.error(`[mixed ${((performance.now() - T0) / 1000).toFixed(0)}s] ${s}`);

const ctx = await init();
const f16 = hasF16();
const adapter = { ...ctx.info, source: ctx.platform.source };
delete adapter.limits;
log(`adapter: ${adapter.description || adapter.device} (${ctx.platform.source}); shader-f16: ${f16 ? 'yes' : 'no'}; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs`);
const noF16 = 'the adapter has no shader-f16';
const sync = () => runtime().sync();
const errorOf = (e) => `${e?.name ?? 'Error'}: ${String(e?.message ?? e).split('\n')[0].slice(0, 300)}`;

const ops = [];
const steps = [];
const pytorch = { rows: [], error: null, command: null };

/** Writes DIR/mixed.json and mixed.md with what has been measured so far (after each section: a run cut short keeps its rows). */
async function save() {
  const load = loadavg()[0];
  const result = {
    date: new Date().toISOString(),
    flags: argv.join(' '),
    adapter,
    shaderF16: f16,
    subgroupMatrices: subgroupMatrixLine(ctx.info),
    host: { cpus: availableParallelism(), loadAverage1m: load },
    ops,
    steps,
    pytorch,
    elapsedSeconds: (performance.now() - T0) / 1000,
  };
  const md = markdown(result);
  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, 'mixed.json'), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(join(opts.out, 'mixed.md'), `${md}\n`);
  return md;
}

// ---- per-op conv rows ----
const OPS = [
  ['forward', 'conv 3×3 forward'],
  ['inputGrad', 'conv 3×3 input grad'],
  ['weightGrad', 'conv 3×3 weight grad'],
];
if (opts.ops) {
  for (const batch of opts.batch) {
    for (const [hw, c] of opts.shapes) {
      const shape = `${hw}×${hw}×${c}`;
      const g = { N: batch, C: c, H: hw, W: hw, O: c, KH: 3, KW: 3, OH: hw, OW: hw, sh: 1, sw: 1, ph: 1, pw: 1 };
      const flops = convFlops(batch, hw, hw, c, c);
      const x32 = randn([batch, c, hw, hw], { seed: 1 });
      const w32 = randn([c, c, 3, 3], { std: 0.05, seed: 2 });
      const dy32 = randn([batch, c, hw, hw], { seed: 3 });
      const dx = zeros(x32.shape);
      const dw = zeros(w32.shape);
      const t = (fn) => timeCalls(fn, sync, { iters: opts.iters, budgetS: opts.budget });
      try {
        for (const precision of opts.precision) {
          const dtype = precision === 'mixed' ? 'f16' : 'f32';
          if (dtype === 'f16' && !f16) {
            for (const [op] of OPS) ops.push({ op, shape, batch, precision, skipped: noF16 });
            continue;
          }
          const [x, w, dy] = dtype === 'f16' ? [cast(x32, 'f16'), cast(w32, 'f16'), cast(dy32, 'f16')] : [x32, w32, dy32];
          const calls = {
            forward: () => noGrad(() => conv2d(x, w, null, { padding: 1 }).dispose()),
            inputGrad: () => convBackwardInput('bench', dy, w, dx, g),
            weightGrad: () => convBackwardWeight('bench', dy, x, dw, g),
          };
          for (const [op, label] of OPS) {
            const row = { op, shape, batch, precision, flops };
            try {
              row.variant = choose(op, g, adapterKind(), dtype).name;
              const r = await t(calls[op]);
              Object.assign(row, { ms: r.ms, gflops: flops / (r.ms * 1e6), samples: r.samples, reps: r.reps, warmupMs: r.warmupMs, warmupOnly: r.warmupOnly });
              log(`${label} ${shape} batch ${batch} ${dtype}: ${fmtMs(r.ms)} ms, ${fmtNum(row.gflops, 1)} GFLOP/s (${row.variant})`);
            } catch (e) {
              row.error = errorOf(e);
              log(`${label} ${shape} batch ${batch} ${dtype}: ${row.error}`);
            }
            ops.push(row);
          }
          if (dtype === 'f16') {
            // What mixed precision adds in front of each conv: the f32 activation cast to f16.
            const row = { op: 'cast', shape, batch, precision, bytes: x32.size * 6 };
            try {
              const r = await t(() => cast(x32, 'f16').dispose());
              Object.assign(row, { ms: r.ms, gbps: row.bytes / (r.ms * 1e6), samples: r.samples });
              log(`cast f32→f16 ${shape} batch ${batch}: ${fmtMs(r.ms)} ms`);
            } catch (e) {
              row.error = errorOf(e);
            }
            ops.push(row);
            for (const a of [x, w, dy]) a.dispose();
          }
        }
      } finally {
        for (const a of [x32, w32, dy32, dx, dw]) a.dispose();
      }
    }
  }
}

if (opts.ops) await save();

// ---- training steps ----
function batchData(n, seed) {
  let s = seed * 2654435761 + 7;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return { images: Float32Array.from({ length: n * 3 * 32 * 32 }, () => next() * 2 - 1), labels: Int32Array.from({ length: n }, () => Math.floor(next() * 10)) };
}

async function stepRow(spec, batch, precision) {
  const row = { model: modelLabel(spec), spec, batch, precision, flops: vggStepFlops(spec, batch) };
  if (precision === 'mixed' && !f16) return { ...row, skipped: noF16 };
  const model = createModel(spec.name, { ...(spec.width === null ? {} : { width: spec.width }), numClasses: 10, inChannels: 3, seed: 0 });
  model.train();
  if (precision === 'mixed') model.setPrecision('mixed');
  const scaler = precision === 'mixed' ? new LossScaler() : null;
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true, scaler });
  const step = compileStep((x, labels) => {
    const loss = crossEntropy(model.forward(x), labels);
    void loss.backward(scaler ? scaler.seed() : undefined);
    opt.step();
    opt.zeroGrad();
    return loss;
  }, { name: `mixed-bench ${row.model} ${precision}` });
  const d = batchData(batch, 0);
  const x = tensor(d.images, [batch, 3, 32, 32]);
  let loss = null;
  // The step owns its output (a compiled step replays into the same buffer): read it, never dispose it.
  const run = () => void (loss = tidy(() => step(x, d.labels)));
  const read = async () => {
    const v = (await loss.toArray())[0];
    if (!Number.isFinite(v)) throw new Error(`loss became ${v}`);
    row.loss = v;
  };
  try {
    // Peak memory on the first step (it records, creates gradients and momentum); the second replays.
    await sync();
    const before = memoryStats().liveBytes;
    runtime().pool.resetPeak();
    const t0 = performance.now();
    run();
    await read();
    row.firstStepMs = performance.now() - t0;
    row.peakBytes = memoryStats().peakLiveBytes;
    row.residentBeforeBytes = before;
    const r = await timeCalls(run, read, { iters: opts.iters, budgetS: opts.budget, maxTotalS: 60 });
    Object.assign(row, { ms: r.ms, samples: r.samples, reps: r.reps, warmupOnly: r.warmupOnly, imagesPerS: (1000 * batch) / r.ms, gflops: row.flops / (r.ms * 1e6), dispatches: step.dispatchesPerStep });
    if (scaler) row.scaler = await scaler.stats();
  } catch (e) {
    row.error = errorOf(e);
  } finally {
    step.dispose();
    opt.dispose();
    scaler?.dispose();
    model.dispose();
    x.dispose();
  }
  return row;
}

if (opts.steps) {
  for (const spec of opts.models) {
    for (const batch of opts.batch) {
      for (const precision of opts.precision) {
        log(`train step ${modelLabel(spec)} batch ${batch} ${precision}`);
        const r = await stepRow(spec, batch, precision);
        steps.push(r);
        log(`  ${r.error ?? r.skipped ?? `${fmtMs(r.ms)} ms, ${fmtNum(r.imagesPerS, 1)} img/s, peak ${mib(r.peakBytes)}${r.scaler ? `, scale ${r.scaler.scale}, skipped ${r.scaler.skipped}/${r.scaler.steps}` : ''}`}`);
      }
    }
    await save();
  }
}

// ---- PyTorch, in a child process after onelayer's rows (the adapter idle meanwhile) ----
if (opts.pytorch) {
  const python = await torchPython();
  if (!python) pytorch.error = 'no python3 with torch found (set PYTHON=/path/to/python3)';
  else {
    const args = ['bench/pytorch_ref.py', '--threads', String(availableParallelism()), '--cudnn-benchmark', '--batch', opts.batch.join(','), '--steps', String(opts.pytorchSteps), '--warmup', opts.quick ? '1' : '5'];
    args.push('--models', opts.steps && opts.models.length ? opts.models.map((m) => (m.width === null ? m.name : `${m.name}:${m.width}`)).join(',') : 'none');
    args.push('--modes', 'eager-fp32,eager-default,graph,autocast-fp16,autocast-bf16,graph-autocast-bf16');
    if (opts.ops) args.push('--conv-shapes', opts.shapes.map(([hw, c]) => `${hw}x${c}`).join(','), '--conv-batch', opts.batch.join(','), '--conv-iters', String(opts.iters));
    pytorch.command = `${python} ${args.join(' ')}`;
    log(`PyTorch: ${pytorch.command}`);
    const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 26, cwd: new URL('..', import.meta.url).pathname });
    pytorch.rows = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    if (r.status !== 0) pytorch.error = (r.stderr || r.error?.message || 'failed').trim().split('\n').slice(-2).join(' ');
    log(`PyTorch: ${pytorch.rows.length} rows${pytorch.error ? `; ${pytorch.error}` : ''}`);
  }
}

// ---- report ----
const md = await save();
console.log(md);
log(`wrote ${join(opts.out, 'mixed.json')} and mixed.md`);
process.exit(0);

function markdown(r) {
  const out = [];
  const cell = (x) => (!x ? '–' : x.error ? `error: ${x.error}` : x.skipped ? `skipped: ${x.skipped}` : null);
  const opCell = (x) => cell(x) ?? `${fmtMs(x.ms)} (${fmtNum(x.gflops, 1)})${x.warmupOnly ? ' (1 call)' : ''}`;
  const ratio = (a, b) => (a && b && a.ms && b.ms ? `${fmtNum(a.ms / b.ms, 2)}×` : '–');
  out.push('# Mixed precision: onelayer f32 vs f16 operands, PyTorch fp32 / TF32 / autocast');
  out.push('');
  out.push(`Adapter: ${r.adapter.description || r.adapter.device || '?'} (${r.adapter.vendor || '?'} ${r.adapter.architecture || ''}; software: ${r.adapter.software}), ${r.adapter.source}; shader-f16: ${r.shaderF16 ? 'yes' : 'no'}. ` +
    `Subgroup matrices: ${r.subgroupMatrices}. Node ${process.version}, ${r.date}, ${r.host.cpus} CPUs, load average ${fmtNum(r.host.loadAverage1m, 1)} at the end. Flags: ${r.flags || '(default)'}.`);
  out.push('');
  out.push('Time = median wall-clock ms of timed calls, each bracketed by a full device sync, after a warm-up call (bench/common.mjs timeCalls; ' +
    'calls under 20 ms are repeated between two syncs on a fast adapter); GFLOP/s counts 2·N·O·H·W·C·9 per conv pass and 3× the conv + blend forward FLOPs per training step. ' +
    "onelayer f16 = both operands f16, sums and outputs f32 (what precision 'mixed' runs); the variant is the conv variant table's pick (src/ops/conv/variants.ts). " +
    'No conv path on subgroup matrices exists yet, so there is no such column.');
  const pt = r.pytorch.rows;
  if (r.ops.length) {
    out.push('');
    out.push('## conv 3×3, C = O, pad 1: ms (GFLOP/s)');
    out.push('');
    const ptDtypes = ['fp32', 'tf32', 'fp16', 'bf16'].filter((d) => pt.some((p) => p.kind === 'conv' && p.dtype === d));
    const keys = [...new Set(r.ops.filter((o) => o.op !== 'cast').map((o) => `${o.op}|${o.shape}|${o.batch}`))];
    const find = (op, shape, batch, precision) => r.ops.find((o) => o.op === op && o.shape === shape && o.batch === batch && o.precision === precision);
    const body = keys.map((k) => {
      const [op, shape, b] = k.split('|');
      const batch = Number(b);
      const a = find(op, shape, batch, 'f32');
      const h = find(op, shape, batch, 'mixed');
      const ptShape = shape.replace(/×/g, 'x');
      return [
        `${OPS.find(([o]) => o === op)[1]} ${shape}`, String(batch),
        opCell(a), a?.variant ?? '–', opCell(h), h?.variant ?? '–', ratio(a, h),
        ...ptDtypes.map((d) => {
          const p = pt.find((q) => q.kind === 'conv' && q.op === op && q.shape === ptShape && q.batch === batch && q.dtype === d) ?? pt.find((q) => q.kind === 'conv' && !q.op && q.shape === ptShape && q.batch === batch && q.dtype === d);
          return p ? (cell(p) ?? `${fmtMs(p.ms)} (${fmtNum(p.gflops, 1)})`) : '–';
        }),
      ];
    });
    out.push(table(['row', 'batch', 'onelayer f32', 'f32 variant', 'onelayer f16', 'f16 variant', 'f16 speed-up', ...ptDtypes.map((d) => `PyTorch ${d}`)], body));
    const casts = r.ops.filter((o) => o.op === 'cast');
    if (casts.length) {
      out.push('');
      out.push(`cast f32 → f16 of the activation (what mixed precision adds before each conv): ${casts.map((c) => `${c.shape} batch ${c.batch}: ${cell(c) ?? `${fmtMs(c.ms)} ms (${fmtNum(c.gbps, 1)} GB/s)`}`).join('; ')}.`);
    }
  }
  if (r.steps.length) {
    out.push('');
    out.push('## Training steps (32×32×3, SGD Nesterov momentum 0.9, weight decay 5e-4; onelayer compiled): ms (images/s)');
    out.push('');
    const modes = ['eager-fp32', 'eager-default', 'graph', 'autocast-fp16', 'autocast-bf16', 'graph-autocast-bf16'].filter((m) => pt.some((p) => p.mode === m));
    const keys = [...new Set(r.steps.map((s) => `${s.model}|${s.batch}`))];
    const body = keys.map((k) => {
      const [model, b] = k.split('|');
      const batch = Number(b);
      const a = r.steps.find((s) => s.model === model && s.batch === batch && s.precision === 'f32');
      const h = r.steps.find((s) => s.model === model && s.batch === batch && s.precision === 'mixed');
      const spec = (a ?? h).spec;
      const ptModel = spec.width === null ? spec.name : `${spec.name}:${spec.width}`;
      const stepCell = (x) => cell(x) ?? `${fmtMs(x.ms)} (${fmtNum(x.imagesPerS, 1)})`;
      return [
        model, String(batch), stepCell(a), stepCell(h), ratio(a, h),
        `${mib(a?.peakBytes)} / ${mib(h?.peakBytes)}`,
        h?.scaler ? `${h.scaler.scale} / ${h.scaler.skipped} of ${h.scaler.steps}` : '–',
        ...modes.map((m) => {
          const p = pt.find((q) => q.model === ptModel && q.batch === batch && q.mode === m);
          return p ? (cell(p) ?? `${fmtMs(p.ms_per_step)} (${fmtNum(p.images_per_s, 1)})`) : '–';
        }),
      ];
    });
    out.push(table(['model', 'batch', 'onelayer f32', 'onelayer mixed', 'mixed speed-up', 'peak memory f32 / mixed', 'loss scale / skipped steps', ...modes.map((m) => `PyTorch ${m}`)], body));
  }
  out.push('');
  if (r.pytorch.error) out.push(`PyTorch: ${r.pytorch.error}`);
  else if (pt.length) {
    const p0 = pt[0];
    out.push(`PyTorch: ${p0.framework} on ${p0.device}${p0.device === 'cpu' ? ` (${p0.threads} threads)` : ''}, bench/pytorch_ref.py with cudnn.benchmark on: \`${r.pytorch.command}\`. ` +
      'fp32 = TF32 off; tf32 / eager-default = PyTorch\'s defaults; autocast-fp16 = torch.autocast float16 + GradScaler; graph = the whole step captured in a CUDA graph.');
  }
  if (r.host.loadAverage1m > r.host.cpus * 0.75) out.push(`\n> The host's load average was ${fmtNum(r.host.loadAverage1m, 1)} on ${r.host.cpus} CPUs: other processes shared the CPUs, so absolute times are noisy.`);
  return out.join('\n');
}
