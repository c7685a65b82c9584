// Softmax cross-entropy over logits [N, K] with integer class labels (stored as f32 values).
// rows:     one workgroup per row: lse[r] = max + log Σ exp(x - max) (stable for |x| ~ 1e3),
//           rowloss[r] = lse[r] - x[r, label]; an invalid label (out of range, non-integer) gives NaN.
// mean:     one workgroup: loss[0] = Σ rowloss / N in a fixed order (deterministic, no atomics).
// backward: dlogits[r, k] += (exp(x - lse[r]) - [k == label]) · gout[0] / N, reading the upstream
//           scalar gradient from its buffer so the CPU never waits.
// count_correct: one thread per row: correct[r] = 1 when the first maximal logit is the label, else 0.
struct Params { N: u32, K: u32 };
//#bindings p: uniform Params, logits: read array<f32>, labels: read array<f32>
//#bindings lse: read_write array<f32>, rowloss: read_write array<f32>, loss: read_write array<f32>
//#bindings gout: read array<f32>, dlogits: read_write array<f32>, correct: read_write array<f32>

// Workgroup sizes: RW for rows (one workgroup a row), WG for the rest.
const RW: u32 = 64u;
const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;
//#include "lib/ids.wgsl"
//#include "lib/tree.wgsl"

fn labelOf(r: u32) -> i32 {
  let l = labels[r];
  // Comparisons with NaN are false, so NaN labels are invalid too.
  if (l >= 0.0 && l < f32(p.K) && floor(l) == l) { return i32(l); }
  return -1;
}

@compute @workgroup_size(RW)
fn rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = flatGroup(wid, nwg);
  if (r >= p.N) { return; } // uniform per workgroup: barriers below stay in uniform control flow
  let base = r * p.K;
  var m = bitcast<f32>(0xff7fffffu); // -FLT_MAX (a decimal literal may round past it)
  for (var k = li; k < p.K; k += RW) { m = max(m, logits[base + k]); }
  red[li] = m;
  treeReduce(li, RW, true);
  let mx = red[0];
  workgroupBarrier();
  var e = 0.0;
  for (var k = li; k < p.K; k += RW) { e += exp(logits[base + k] - mx); }
  red[li] = e;
  treeReduce(li, RW, false);
  if (li == 0u) {
    let z = mx + log(red[0]);
    lse[r] = z;
    let l = labelOf(r);
    if (l < 0) {
      // NaN marks the invalid label; built from a runtime value since WGSL rejects NaN constants.
      rowloss[r] = bitcast<f32>(0x7fc00000u | (p.K & 0u));
    } else {
      rowloss[r] = z - logits[base + u32(l)];
    }
  }
}

@compute @workgroup_size(WG)
fn mean(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var r = li; r < p.N; r += WG) { s += rowloss[r]; }
  red[li] = s;
  treeReduce(li, WG, false);
  if (li == 0u) { loss[0] = red[0] / f32(p.N); }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i >= p.N * p.K) { return; }
  let r = i / p.K;
  let k = i - r * p.K;
  let onehot = select(0.0, 1.0, labelOf(r) == i32(k));
  let g = gout[0] / f32(p.N);
  dlogits[i] = dlogits[i] + (exp(logits[i] - lse[r]) - onehot) * g;
}

@compute @workgroup_size(WG)
fn count_correct(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flatId(gid, nwg);
  if (r >= p.N) { return; }
  let base = r * p.K;
  var best = 0u;
  var bv = logits[base];
  for (var k = 1u; k < p.K; k++) {
    let v = logits[base + k];
    if (v > bv) { bv = v; best = k; }
  }
  correct[r] = select(0.0, 1.0, labelOf(r) == i32(best));
}
