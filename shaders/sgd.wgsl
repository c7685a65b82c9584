// torch.optim.SGD in one pass per parameter (decay + momentum + update), as PyTorch computes it:
//   d = grad + weight_decay · param
//   buf = first ? d : momentum · buf + (1 - dampening) · d
//   d = nesterov ? d + momentum · buf : buf
//   param -= lr · d
// step: no momentum (no buffer bound). step_momentum: with the momentum buffer, updated in place.
// The values that change from step to step without changing the work live in `state`, which SGD.step() writes once
// per step (so a compiled step's recording never bakes them in): state[0] = lr, state[1 + flag] = 1 on parameter
// flag's first momentum step when dampening ≠ 0. With dampening 0 the buffer starts at zero and `first` stays 0:
// momentum · 0 + 1 · d is exactly d, so no step needs the flag.
// Both flag non-finite values in `nonfinite` (sticky, never cleared here): slot 2k for parameter k's gradient,
// 2k + 1 for its updated weight, so training stops on NaN/Inf whatever earlier kernels did with it.
struct Params { n: u32, momentum: f32, dampening: f32, weight_decay: f32, nesterov: u32, flag: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> nonfinite: array<f32>;
@group(0) @binding(5) var<storage, read> state: array<f32>;

fn index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// WGSL lets compilers assume finite math, so `x != x` may fold away: test the exponent bits instead.
fn is_nonfinite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }

// Every writer stores the same 1.0, so which invocation wins does not matter.
fn check(g: f32, w: f32) {
  if (is_nonfinite(g)) { nonfinite[2u * p.flag] = 1.0; }
  if (is_nonfinite(w)) { nonfinite[2u * p.flag + 1u] = 1.0; }
}

@compute @workgroup_size(256)
fn step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let w = param[i];
  let g = grad[i];
  let d = g + p.weight_decay * w;
  let updated = w - state[0] * d;
  param[i] = updated;
  check(g, updated);
}

@compute @workgroup_size(256)
fn step_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let w = param[i];
  let g = grad[i];
  var d = g + p.weight_decay * w;
  var b = d;
  if (state[1u + p.flag] == 0.0) { b = p.momentum * buf[i] + (1.0 - p.dampening) * d; }
  buf[i] = b;
  if (p.nesterov == 1u) { d = d + p.momentum * b; } else { d = b; }
  let updated = w - state[0] * d;
  param[i] = updated;
  check(g, updated);
}
