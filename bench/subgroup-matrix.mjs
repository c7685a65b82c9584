// Does this adapter offer subgroup matrices (Dawn's `chromium-experimental-subgroup-matrix`, cooperative-matrix
// multiply-accumulate in WGSL), and do they compute? One command for a GPU session (issue 18):
//   1. Dawn's view, with and without the allow_unsafe_apis toggle (ONELAYER_UNSAFE_APIS, src/device/node.ts): the
//      adapter onelayer picks (ONELAYER_VK_ICD to name a driver), adapter.features, every adapter.info field
//      (subgroupMatrixConfigs included) and the WGSL language features;
//   2. the Vulkan driver's own view below Dawn (bench/vk_coopmat.py, python3 + ctypes): VK_KHR_cooperative_matrix, the
//      cooperativeMatrix feature bit and every VkCooperativeMatrixPropertiesKHR;
//   3. where Dawn lists the feature: per reported configuration with float operands, a minimal kernel
//      (`enable chromium_experimental_subgroup_matrix;`, subgroupMatrixLoad / MultiplyAccumulate / Store) whose one
//      M×N×K product is checked against the CPU, then a multiply-accumulate throughput (TFLOP/s) of the f16 → f32
//      configuration (else the first that checked out);
//   4. a last line: VIABLE (the configurations that checked out) or NOT AVAILABLE (exactly why).
// Usage: node bench/subgroup-matrix.mjs [--json FILE]   (needs dist/: npm run build)
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({ options: { json: { type: 'string' } } });
const FEATURE = 'chromium-experimental-subgroup-matrix';
const { nodePlatform, UNSAFE_APIS_ENV } = await import('../dist/device/node.js');
const out = { date: new Date().toISOString(), views: [], vulkan: null, checks: [], throughput: null, verdict: null };
const say = (s = '') => console.log(s);

/** Every field of adapter.info (prototype getters included), configs turned into plain objects. */
function infoFields(info) {
  const o = {};
  for (let p = info; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k === 'constructor' || k in o) continue;
      let v;
      try {
        v = info[k];
      } catch (e) {
        v = `(throws: ${e.message})`;
      }
      if (typeof v === 'function') continue;
      if (k === 'subgroupMatrixConfigs' && v) v = [...v].map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }));
      o[k] = v;
    }
  }
  return o;
}

// ---- 1. Dawn's view, toggle off then on ----
let withToggle = null;
for (const unsafe of [false, true]) {
  if (unsafe) process.env[UNSAFE_APIS_ENV] = '1';
  else delete process.env[UNSAFE_APIS_ENV];
  const { platform, adapter } = await nodePlatform({});
  const view = {
    allowUnsafeApis: unsafe,
    source: platform.source,
    chosen: platform.choice,
    features: [...adapter.features].sort(),
    info: infoFields(adapter.info),
    wgslLanguageFeatures: [...(platform.gpu.wgslLanguageFeatures ?? [])].sort(),
    vkIcd: process.env.VK_ICD_FILENAMES ?? null,
  };
  out.views.push(view);
  say(`== Dawn, allow_unsafe_apis ${unsafe ? 'ON' : 'off'} (${view.source}; ${view.chosen})`);
  say(`adapter.features: ${view.features.join(' ')}`);
  say(`  ${FEATURE}: ${view.features.includes(FEATURE) ? 'PRESENT' : 'absent'}`);
  say(`adapter.info: ${JSON.stringify(view.info)}`);
  say(`wgslLanguageFeatures: ${view.wgslLanguageFeatures.join(' ')}`);
  say();
  if (unsafe) withToggle = { platform, adapter, view };
}

// ---- 2. the Vulkan driver below Dawn ----
for (const py of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
  const r = spawnSync(py, [new URL('./vk_coopmat.py', import.meta.url).pathname], { encoding: 'utf8', env: process.env });
  if (r.error || r.status !== 0) continue;
  out.vulkan = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  break;
}
say(`== Vulkan driver (bench/vk_coopmat.py, VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(loader default)'})`);
if (!out.vulkan) say('(no python3 could run it)');
else for (const d of out.vulkan) say(JSON.stringify(d));
say();

// ---- 3. kernels, where the feature is there ----
const { adapter } = withToggle;
const hasFeature = adapter.features.has(FEATURE);
const configs = withToggle.view.info.subgroupMatrixConfigs ?? [];
const sgMax = adapter.info.subgroupMaxSize ?? 32;

function toHalf(f) {
  // Exact for the small dyadic values used here (no rounding needed).
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, f);
  const x = b.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = (x >>> 13) & 0x3ff;
  if (f === 0) return sign;
  if (exp <= 0 || exp >= 31) throw new Error(`toHalf: ${f} out of the exact range`);
  return sign | (exp << 10) | mant;
}
function fromHalf(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

function kernel(c, { peak = false } = {}) {
  const T = c.componentType;
  const R = c.resultComponentType;
  const en = T === 'f16' || R === 'f16' ? 'enable f16;\n' : '';
  const head = `${en}enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read> A: array<${T}>;
@group(0) @binding(1) var<storage, read> B: array<${T}>;
@group(0) @binding(2) var<storage, read_write> C: array<${R}>;
alias L = subgroup_matrix_left<${T}, ${c.K}, ${c.M}>;
alias Rt = subgroup_matrix_right<${T}, ${c.N}, ${c.K}>;
alias Acc = subgroup_matrix_result<${R}, ${c.N}, ${c.M}>;
`;
  if (!peak) {
    // One product: A is M×K, B is K×N, C is M×N, all row-major (col_major = false; stride = row length).
    return `${head}
@compute @workgroup_size(${sgMax})
fn main() {
  let a = subgroupMatrixLoad<L>(&A, 0u, false, ${c.K}u);
  let b = subgroupMatrixLoad<Rt>(&B, 0u, false, ${c.N}u);
  var acc = Acc();
  acc = subgroupMatrixMultiplyAccumulate(a, b, acc);
  subgroupMatrixStore(&C, 0u, acc, false, ${c.N}u);
}`;
  }
  // Throughput: 4 subgroups per workgroup, 4 independent accumulators each; B is re-read (one of 8 tiles, cached)
  // every step so that nothing is loop-invariant.
  return `${head}
override ITERS: u32 = 512u;
@compute @workgroup_size(${sgMax * 4})
fn main(@builtin(workgroup_id) wid: vec3u) {
  let a = subgroupMatrixLoad<L>(&A, 0u, false, ${c.K}u);
  var c0 = Acc(); var c1 = Acc(); var c2 = Acc(); var c3 = Acc();
  for (var i = 0u; i < ITERS; i++) {
    let b = subgroupMatrixLoad<Rt>(&B, (i & 7u) * ${c.K * c.N}u, false, ${c.N}u);
    c0 = subgroupMatrixMultiplyAccumulate(a, b, c0);
    c1 = subgroupMatrixMultiplyAccumulate(a, b, c1);
    c2 = subgroupMatrixMultiplyAccumulate(a, b, c2);
    c3 = subgroupMatrixMultiplyAccumulate(a, b, c3);
  }
  let base = (wid.x % 64u) * ${4 * c.M * c.N}u;
  subgroupMatrixStore(&C, base, c0, false, ${c.N}u);
  subgroupMatrixStore(&C, base + ${c.M * c.N}u, c1, false, ${c.N}u);
  subgroupMatrixStore(&C, base + ${2 * c.M * c.N}u, c2, false, ${c.N}u);
  subgroupMatrixStore(&C, base + ${3 * c.M * c.N}u, c3, false, ${c.N}u);
}`;
}

async function compile(device, code, label) {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label });
  const info = await module.getCompilationInfo();
  const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  let pipeline = null;
  if (!msgs.length) pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
  const err = await device.popErrorScope();
  if (err) msgs.push(err.message);
  if (msgs.length) throw new Error(msgs.join(' | '));
  return pipeline;
}

function upload(device, data) {
  const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
  const buf = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  const padded = new Uint8Array(size);
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  device.queue.writeBuffer(buf, 0, padded);
  return buf;
}

const elems = (type, values) => (type === 'f16' ? Uint16Array.from(values, toHalf) : type === 'f32' ? Float32Array.from(values) : null);

async function check(device, c) {
  const { M, N, K } = c;
  const a = Array.from({ length: M * K }, (_, i) => (((i * 7) % 11) - 5) / 4);
  const b = Array.from({ length: K * N }, (_, i) => (((i * 5) % 13) - 6) / 8);
  const want = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) want[m * N + n] += a[m * K + k] * b[k * N + n];
  const pipeline = await compile(device, kernel(c), `check ${c.componentType}->${c.resultComponentType} ${M}x${N}x${K}`);
  const A = upload(device, elems(c.componentType, a));
  const B = upload(device, elems(c.componentType, b));
  const bytes = M * N * (c.resultComponentType === 'f16' ? 2 : 4);
  const C = device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: C.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [A, B, C].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(1);
  pass.end();
  enc.copyBufferToBuffer(C, 0, read, 0, C.size);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const raw = read.getMappedRange().slice(0);
  read.unmap();
  const got = c.resultComponentType === 'f16' ? Array.from(new Uint16Array(raw, 0, M * N), fromHalf) : Array.from(new Float32Array(raw, 0, M * N));
  let maxErr = 0;
  for (let i = 0; i < M * N; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
  const scale = Math.max(...Array.from(want, Math.abs), 1);
  for (const x of [A, B, C, read]) x.destroy();
  return { maxAbsError: maxErr, ok: maxErr <= (c.resultComponentType === 'f16' ? 1e-2 : 1e-4) * scale, sample: got.slice(0, 4), want: Array.from(want.slice(0, 4)) };
}

async function throughput(device, c) {
  const { M, N, K } = c;
  const pipeline = await compile(device, kernel(c, { peak: true }), 'peak');
  const ones = (n) => elems(c.componentType, Array.from({ length: n }, (_, i) => ((i % 3) - 1) / 64));
  const A = upload(device, ones(M * K));
  const B = upload(device, ones(8 * K * N));
  const C = device.createBuffer({ size: 64 * 4 * M * N * 4, usage: GPUBufferUsage.STORAGE });
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [A, B, C].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const groups = 132 * 16;
  const perSubmit = 20;
  const run = async () => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    for (let i = 0; i < perSubmit; i++) pass.dispatchWorkgroups(groups);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await run();
  const times = [];
  for (let i = 0; i < 5; i++) times.push(await run());
  const ms = Math.min(...times);
  const flops = perSubmit * groups * 4 /* subgroups */ * 4 /* accumulators */ * 512 /* ITERS */ * 2 * M * N * K;
  for (const x of [A, B, C]) x.destroy();
  return { config: c, ms, tflops: flops / (ms * 1e-3) / 1e12, workgroups: groups, dispatches: perSubmit };
}

if (hasFeature && configs.length) {
  const want = [FEATURE];
  for (const f of ['shader-f16', 'subgroups']) if (adapter.features.has(f)) want.push(f);
  let device = null;
  try {
    device = await adapter.requestDevice({ requiredFeatures: want, label: 'subgroup-matrix probe' });
  } catch (e) {
    out.verdict = `NOT AVAILABLE: requestDevice with ${want.join(', ')} failed: ${e.message}`;
  }
  if (device) {
    say(`== kernels (device features: ${[...device.features].sort().join(' ')})`);
    for (const c of configs) {
      const name = `${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`;
      if (!['f16', 'f32'].includes(c.componentType) || !['f16', 'f32'].includes(c.resultComponentType)) {
        out.checks.push({ config: c, skipped: 'integer configuration: not checked' });
        say(`${name}: integer configuration, not checked`);
        continue;
      }
      try {
        const r = await check(device, c);
        out.checks.push({ config: c, ...r });
        say(`${name}: ${r.ok ? 'OK' : 'WRONG'} (max |error| ${r.maxAbsError}; first values ${r.sample.join(', ')} vs ${r.want.join(', ')})`);
      } catch (e) {
        out.checks.push({ config: c, error: e.message });
        say(`${name}: ERROR ${e.message}`);
      }
    }
    const good = out.checks.filter((x) => x.ok);
    const pick = good.find((x) => x.config.componentType === 'f16' && x.config.resultComponentType === 'f32') ?? good[0];
    if (pick) {
      try {
        out.throughput = await throughput(device, pick.config);
        const t = out.throughput;
        say(`throughput ${t.config.componentType}->${t.config.resultComponentType} ${t.config.M}x${t.config.N}x${t.config.K}: ${t.tflops.toFixed(1)} TFLOP/s (${t.dispatches} dispatches of ${t.workgroups} workgroups in ${t.ms.toFixed(2)} ms)`);
      } catch (e) {
        out.throughput = { error: e.message };
        say(`throughput: ERROR ${e.message}`);
      }
    }
    out.verdict = good.length
      ? `VIABLE: ${good.map((x) => `${x.config.componentType}->${x.config.resultComponentType} ${x.config.M}x${x.config.N}x${x.config.K}`).join(', ')} checked against the CPU` +
        (out.throughput?.tflops ? `; ${out.throughput.tflops.toFixed(1)} TFLOP/s multiply-accumulate` : '')
      : 'NOT AVAILABLE: the feature is listed but no configuration computed a correct product (see the errors above)';
    device.destroy();
  }
} else {
  const off = out.views[0];
  // The driver's entry for the adapter Dawn took (the loader may list several devices).
  const desc = `${adapter.info.description ?? ''} ${adapter.info.device ?? ''}`.toLowerCase();
  const vk = out.vulkan?.find((d) => d.device && (desc.includes(d.device.toLowerCase().split(' (')[0]) || d.device.toLowerCase().includes(adapter.info.device ?? '?'))) ?? out.vulkan?.[0];
  const driver = !out.vulkan
    ? 'the driver could not be asked (no python3 to run bench/vk_coopmat.py)'
    : vk?.error
      ? `the Vulkan loader: ${vk.error}`
      : !vk.extensions?.VK_KHR_cooperative_matrix
        ? `the Vulkan driver (${vk.driver || vk.device}) has no VK_KHR_cooperative_matrix`
        : !vk.cooperativeMatrix
          ? `the driver has VK_KHR_cooperative_matrix but its cooperativeMatrix feature is off`
          : `the driver has VK_KHR_cooperative_matrix with ${vk.configs.filter((x) => x.scope === 'subgroup').length} subgroup-scope configurations (${vk.configs.filter((x) => x.scope === 'subgroup').map((x) => `${x.A}x${x.B}+${x.C}->${x.result} ${x.M}x${x.N}x${x.K}`).join(', ')}), yet Dawn does not list the feature: a Dawn condition (its Vulkan backend's checks of those configurations, or the feature's other requirements) rejects it`;
  out.verdict = hasFeature
    ? `NOT AVAILABLE: Dawn lists ${FEATURE} but adapter.info.subgroupMatrixConfigs is empty`
    : `NOT AVAILABLE: ${FEATURE} is absent from adapter.features with allow_unsafe_apis ${off.features.includes(FEATURE) ? '' : 'off and '}on; ` +
      `adapter.info.subgroupMatrixConfigs = ${JSON.stringify(configs)}; ${driver}`;
}
say();
say(out.verdict);
if (flags.json) await writeFile(flags.json, `${JSON.stringify(out, null, 2)}\n`);
process.exit(0);
