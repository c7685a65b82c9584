// FMA-throughput microbenchmark (bench only; not a library kernel): every invocation runs 8 independent vec4 fma
// chains for `iters` rounds, with no memory traffic in the loop. bench/fma.mjs adds a generated scalar form. The multiplier and addend come
// from the uniform, so the compiler cannot fold the loop; one store per invocation keeps it live.
struct Params {
  iters: u32,
  m: f32,
  c: f32,
  _pad: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = f32(i) * 1e-7;
  let m = vec4<f32>(p.m);
  let c = vec4<f32>(p.c);
  var a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  var a4 = a0 + 4.0;
  var a5 = a0 + 5.0;
  var a6 = a0 + 6.0;
  var a7 = a0 + 7.0;
  for (var k = 0u; k < p.iters; k++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
  }
  let r = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7);
  out[i] = r.x + r.y + r.z + r.w;
}

// The same chains as separate multiply and add (compilers may or may not contract them): on some software
// adapters the fma() builtin is emulated exactly and is slower than the hardware FMA that a*m+c can use.
@compute @workgroup_size(WG)
fn main_muladd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = f32(i) * 1e-7;
  let m = vec4<f32>(p.m);
  let c = vec4<f32>(p.c);
  var a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  var a4 = a0 + 4.0;
  var a5 = a0 + 5.0;
  var a6 = a0 + 6.0;
  var a7 = a0 + 7.0;
  for (var k = 0u; k < p.iters; k++) {
    a0 = a0 * m + c;
    a1 = a1 * m + c;
    a2 = a2 * m + c;
    a3 = a3 * m + c;
    a4 = a4 * m + c;
    a5 = a5 * m + c;
    a6 = a6 * m + c;
    a7 = a7 * m + c;
  }
  let r = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7);
  out[i] = r.x + r.y + r.z + r.w;
}

// The same chains with 8 rounds per loop iteration (64 vec4 FMAs): on a JIT without loop unrolling (SwiftShader's
// Subzero) a loop iteration costs about as much as 50 FMAs, which would hide the ceiling. fma_round() is inlined.
struct Chains { a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>, a4: vec4<f32>, a5: vec4<f32>, a6: vec4<f32>, a7: vec4<f32> }

fn fma_round(a: Chains, m: vec4<f32>, c: vec4<f32>) -> Chains {
  return Chains(a.a0 * m + c, a.a1 * m + c, a.a2 * m + c, a.a3 * m + c, a.a4 * m + c, a.a5 * m + c, a.a6 * m + c, a.a7 * m + c);
}

@compute @workgroup_size(WG)
fn main_unrolled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = f32(i) * 1e-7;
  let m = vec4<f32>(p.m);
  let c = vec4<f32>(p.c);
  let a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
  var a = Chains(a0, a0 + 1.0, a0 + 2.0, a0 + 3.0, a0 + 4.0, a0 + 5.0, a0 + 6.0, a0 + 7.0);
  for (var k = 0u; k < p.iters; k += 8u) {
    a = fma_round(fma_round(fma_round(fma_round(fma_round(fma_round(fma_round(fma_round(a, m, c), m, c), m, c), m, c), m, c), m, c), m, c), m, c);
  }
  let r = (a.a0 + a.a1) + (a.a2 + a.a3) + (a.a4 + a.a5) + (a.a6 + a.a7);
  out[i] = r.x + r.y + r.z + r.w;
}
