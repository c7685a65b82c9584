// What a storage-buffer load costs next to an FMA on the current adapter (no tfjs): the reason the 3×3 conv kernels
// sit far below the FMA ceiling on a software adapter. Each kernel reads 16 floats per loop step, as 16 f32, 4 vec4
// or 1 mat4x4 loads, from addresses that differ per invocation ('lane') or are the same for all ('uniform'), and
// adds them into 16 accumulators; the cost is reported per float read, per invocation, and as the number of FMAs
// the adapter's ceiling would do in that time. Usage: npm run build && node bench/loads.mjs
const { init } = await import('../dist/index.js');
const { fmaCeiling, timeLoop } = await import('./fma.mjs');

const FORMS = { f32: ['f32', 16], vec4: ['vec4f', 4], mat4: ['mat4x4f', 1] };
function loadKernel(form, uniformAddress) {
  const [type, loads] = FORMS[form];
  const parts = { f32: (j) => `vec4f(v${4 * j}, v${4 * j + 1}, v${4 * j + 2}, v${4 * j + 3})`, vec4: (j) => `v${j}`, mat4: (j) => `v0[${j}]` }[form];
  return `struct Params { iters: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<${type}>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var i = ${uniformAddress ? '0u' : 'lid.x'};
  for (var k = 0u; k < p.iters; k++) {
${[...Array(loads).keys()].map((j) => `    let v${j} = src[i + ${j * 64}u];`).join('\n')}
${[0, 1, 2, 3].map((j) => `    a${j} += ${parts(j)};`).join('\n')}
    i = (i + ${loads * 64}u) & 16383u;
  }
  let r = (a0 + a1) + (a2 + a3);
  out[gid.x] = r.x + r.y + r.z + r.w;
}`;
}

const ctx = await init();
const { device } = ctx;
const ceiling = await fmaCeiling(device);
const workgroups = 256;
const invocations = workgroups * 64;
const src = device.createBuffer({ size: (16384 + 1024) * 64, usage: GPUBufferUsage.STORAGE });
const out = device.createBuffer({ size: invocations * 4, usage: GPUBufferUsage.STORAGE });
const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
console.log(`adapter: ${ctx.info.description || ctx.info.device} (software: ${ctx.info.software}); FMA ceiling ${ceiling.gflops.toFixed(1)} GFLOP/s`);
console.log('| load form | addresses | ns per float read, per invocation | FMAs at the ceiling in that time |\n| --- | --- | --- | --- |');
for (const form of Object.keys(FORMS)) {
  for (const uniformAddress of [false, true]) {
    const module = device.createShaderModule({ code: loadKernel(form, uniformAddress), label: `bench/loads ${form}` });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [uni, out, src].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const run = (iters) => timeLoop(device, pipeline, bind, uni, workgroups, iters);
    await run(4); // compile
    let iters = 64;
    let ms = await run(iters);
    while (ms < 200 && iters < 1 << 20) ms = await run((iters *= 2));
    ms = Math.min(ms, await run(iters), await run(iters));
    const nsPerFloat = (ms * 1e6) / (iters * 16 * invocations);
    const fmas = (nsPerFloat * 1e-9 * ceiling.gflops * 1e9) / 2;
    console.log(`| ${form} | ${uniformAddress ? 'uniform' : 'per lane'} | ${nsPerFloat.toFixed(3)} | ${fmas.toFixed(1)} |`);
  }
}
process.exit(0);
