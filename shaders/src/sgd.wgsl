// torch.optim.SGD for every parameter of an arena in one dispatch (a multi-tensor update, as PyTorch's foreach /
// fused optimizers), the same arithmetic per value as PyTorch:
//   d = grad + weight_decay · param
//   buf = first ? d : momentum · buf + (1 - dampening) · d
//   d = nesterov ? d + momentum · buf : buf
//   param -= lr · d
// param, grad and buf are arenas (src/optim/arena.ts): parameter k occupies floats [start_k, end_k) of each, with
// start_k a multiple of 64 (the 256-byte view alignment), so every 64-float block belongs to one parameter.
// table = [owner of each block (n4 / 16 entries), then end_k for each parameter k]: written once per arena.
// Floats past end_k (the padding up to the next block) are left as they are and never flagged.
// The values that change from step to step without changing the work live in `state`, written by SGD.step() once
// per step (so a compiled step's recording never bakes them in): state[0] = lr, state[1 + k] = parameter k's code:
// 0 = no gradient this step (skipped, as torch skips grad None), 1 = update, 2 = update, first momentum step with
// dampening ≠ 0 (buf = d). With dampening 0 a new buffer starts at zero, and momentum · 0 + 1 · d is exactly d.
// use_buf = 0: no momentum (buf is a placeholder and never touched).
// Non-finite values are flagged in `nonfinite` (sticky, never cleared here): slot 2k for parameter k's gradient,
// 2k + 1 for its updated weight, so training stops on NaN/Inf whatever earlier kernels did with it.
// Dynamic loss scaling (src/optim/scaler.ts: LossScaler, PyTorch's GradScaler) adds three entries, all driven by
// `scaler`, a small GPU state buffer (layout below) so that nothing changes on the host from step to step:
// `unscale` (one pass per gradient arena, ALL before any update) multiplies the gradients by 1 / scale and raises
// the found-inf flag, `step_scaled` is `step` that does nothing while the flag is up (a skipped step leaves
// parameters, momentum and the non-finite flags untouched), and `scale_update` (one invocation, after every
// update) backs off or grows the scale, counts, and lowers the flag.
struct Params { n4: u32, blocks: u32, momentum: f32, dampening: f32, weight_decay: f32, nesterov: u32, use_buf: u32 };
//#bindings p: uniform Params, param: read_write array<vec4f>, grad: read array<vec4f>, buf: read_write array<vec4f>
//#bindings nonfinite: read_write array<f32>, state: read array<f32>, table: read array<u32>
//#bindings scaler: read_write array<f32>, grads: read_write array<vec4f>

// scaler[…]: the loss scale (what backward is seeded with), the found-inf flag (0 or 1), consecutive clean steps,
// skipped steps, steps (scale updates), growth factor, backoff factor, growth interval. Same order in scaler.ts.
const SCALE: u32 = 0u;
const FOUND: u32 = 1u;
const TRACKER: u32 = 2u;
const SKIPPED: u32 = 3u;
const STEPS: u32 = 4u;
const GROWTH: u32 = 5u;
const BACKOFF: u32 = 6u;
const INTERVAL: u32 = 7u;

const WG: u32 = 64u;
// vec4s per invocation: a quarter of a 64-float block, so an invocation never straddles two parameters.
const RUN: u32 = 4u;
//#include "lib/ids.wgsl"

// WGSL lets compilers assume finite math, so `x != x` may fold away: test the exponent bits instead.
fn nonfinite4(x: vec4f) -> vec4<bool> { return (bitcast<vec4u>(x) & vec4u(0x7f800000u)) == vec4u(0x7f800000u); }

// One invocation's update: RUN vec4s of one parameter (id: the flat invocation id).
fn update(id: u32) {
  let first = id * RUN;
  if (first >= p.n4) { return; }
  let k = table[first / 16u];
  let code = state[1u + k];
  if (code == 0.0) { return; }
  let end = table[p.blocks + k];
  let lr = state[0];
  var badGrad = false;
  var badWeight = false;
  for (var i = first; i < min(first + RUN, p.n4); i++) {
    let valid = vec4u(4u * i) + vec4u(0u, 1u, 2u, 3u) < vec4u(end);
    let w = param[i];
    let g = grad[i];
    var d = g + p.weight_decay * w;
    if (p.use_buf == 1u) {
      let old = buf[i];
      var b = d;
      if (code == 1.0) { b = p.momentum * old + (1.0 - p.dampening) * d; }
      buf[i] = select(old, b, valid);
      if (p.nesterov == 1u) { d = d + p.momentum * b; } else { d = b; }
    }
    let updated = w - lr * d;
    param[i] = select(w, updated, valid);
    badGrad = badGrad || any(nonfinite4(g) & valid);
    badWeight = badWeight || any(nonfinite4(updated) & valid);
  }
  // Every writer stores the same 1.0, so which invocation wins does not matter.
  if (badGrad) { nonfinite[2u * k] = 1.0; }
  if (badWeight) { nonfinite[2u * k + 1u] = 1.0; }
}

@compute @workgroup_size(WG)
fn step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  update(flatId(gid, nwg));
}

@compute @workgroup_size(WG)
fn step_scaled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (scaler[FOUND] != 0.0) { return; }
  update(flatId(gid, nwg));
}

// grads *= 1 / scale over the parameters updated this step (state code ≠ 0; padding left as it is), raising the
// found-inf flag for a non-finite result. Same grid as step. A power-of-two scale makes the product exact.
@compute @workgroup_size(WG)
fn unscale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let first = flatId(gid, nwg) * RUN;
  if (first >= p.n4) { return; }
  let k = table[first / 16u];
  if (state[1u + k] == 0.0) { return; }
  let end = table[p.blocks + k];
  let inv = 1.0 / scaler[SCALE];
  var bad = false;
  for (var i = first; i < min(first + RUN, p.n4); i++) {
    let valid = vec4u(4u * i) + vec4u(0u, 1u, 2u, 3u) < vec4u(end);
    let g = grads[i];
    let u = g * inv;
    grads[i] = select(g, u, valid);
    bad = bad || any(nonfinite4(u) & valid);
  }
  // Every writer stores the same 1.0.
  if (bad) { scaler[FOUND] = 1.0; }
}

// After every arena's step_scaled: torch's _amp_update_scale_. Found inf: scale ·= backoff, the clean-step count
// restarts and the skip is counted. Else one more clean step; the growth-interval-th grows the scale (unless that
// overflows f32) and restarts the count. Then the flag is lowered for the next step.
@compute @workgroup_size(1)
fn scale_update() {
  if (scaler[FOUND] != 0.0) {
    scaler[SCALE] = scaler[SCALE] * scaler[BACKOFF];
    scaler[TRACKER] = 0.0;
    scaler[SKIPPED] = scaler[SKIPPED] + 1.0;
  } else {
    let clean = scaler[TRACKER] + 1.0;
    if (clean >= scaler[INTERVAL]) {
      let grown = scaler[SCALE] * scaler[GROWTH];
      if (!any(nonfinite4(vec4f(grown)))) { scaler[SCALE] = grown; }
      scaler[TRACKER] = 0.0;
    } else {
      scaler[TRACKER] = clean;
    }
  }
  scaler[STEPS] = scaler[STEPS] + 1.0;
  scaler[FOUND] = 0.0;
}
