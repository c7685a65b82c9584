// The 3×3 weight gradient's fast path, shared by conv2d_backward_weight (main_fast_split) and
// conv2d_backward_weight_sg (main_fast_split_sg). The including kernel declares Params as p, the bindings x
// (array<XT>), xv and dyv (vec4<XT> views of x and dy; XT = f32 or f16, widened to f32 as loaded) and partial
// (f32), the overrides KH, KW and CB, the const SLIDE, and load_dy() (which returns f32).

// ---- Fast path: 3×3, stride 1, pad 1, W % 4 == 0, H even. Tuned like conv2d_forward's main_fast: the 9 taps are
// written out, rows are vec4s whose swizzles (plus one scalar on each side) form the kw taps, and there is no
// transpose of dy. Each invocation owns 4 out channels × 4 in channels × 9 taps (16 mat3x3 accumulators,
// column kh, row kw) and walks its images two rows × 4 columns at a time: per step 8 dy vec4s and 16 x rows
// feed 1152 multiply-adds. Lanes are (out block, in block) pairs, so no lane shares a sum and no reduction
// across lanes is needed; the batch is split over workgroups (x) as in main_split.

// Entries per split slice of partial: the weight's, then (has_db) the bias's.
fn slice_size() -> u32 {
  return p.O * p.C * KH * KW + p.has_db * p.O;
}


struct Taps { t0: vec4f, t1: vec4f, t2: vec4f };

// The kw = 0, 1, 2 taps of columns 4·ow4 … 4·ow4 + 3 in the row starting at vec4 index rv (zero where ok is
// false: a padding row). lok / rok: the column left of / right of the 4 exists (else padding).
fn xtaps(rv: u32, ok: bool, ow4: u32, lok: bool, rok: bool) -> Taps {
  let m = vec4f(xv[rv + ow4]);
  let f = (rv + ow4) * 4u;
  let l = select(0.0, f32(x[max(f, 1u) - 1u]), lok);
  let r = select(0.0, f32(x[f + select(3u, 4u, rok)]), rok);
  let z = vec4f(0.0);
  return Taps(select(z, vec4f(l, m.xyz), ok), select(z, m, ok), select(z, vec4f(m.yzw, r), ok));
}

fn g3(d: vec4f, t: Taps) -> vec3f {
  return vec3f(dot(d, t.t0), dot(d, t.t1), dot(d, t.t2));
}

// One dy row d against the three x rows u, v, z under it (kh = 0, 1, 2).
fn tap9(d: vec4f, u: Taps, v: Taps, z: Taps) -> mat3x3f {
  return mat3x3f(g3(d, u), g3(d, v), g3(d, z));
}

// One in channel's share of a tile: m_i = its 3×3 sums with out channel i of the block.
struct Col { m0: mat3x3f, m1: mat3x3f, m2: mat3x3f, m3: mat3x3f };
struct WAcc { c0: Col, c1: Col, c2: Col, c3: Col, bs: mat4x4f }; // bs[i]: Σ dy of out channel i, by column
// dy rows h0 (d·0) and h0 + 1 (d·1) of the block's 4 out channels, at one vec4 of columns.
struct DyRows { d00: vec4f, d01: vec4f, d10: vec4f, d11: vec4f, d20: vec4f, d21: vec4f, d30: vec4f, d31: vec4f };

fn add_col(a: Col, b: Col) -> Col {
  return Col(a.m0 + b.m0, a.m1 + b.m1, a.m2 + b.m2, a.m3 + b.m3);
}

// The updates of in channel plane xc: x rows r.x … r.w (h0 − 1 … h0 + 2; ok0 / ok3: the outer rows exist).
fn col(xc: u32, r: vec4u, ok0: bool, ok3: bool, ow4: u32, lok: bool, rok: bool, d: DyRows) -> Col {
  let x0 = xtaps(xc + r.x, ok0, ow4, lok, rok);
  let x1 = xtaps(xc + r.y, true, ow4, lok, rok);
  let x2 = xtaps(xc + r.z, true, ow4, lok, rok);
  let x3 = xtaps(xc + r.w, ok3, ow4, lok, rok);
  return Col(tap9(d.d00, x0, x1, x2) + tap9(d.d01, x1, x2, x3), tap9(d.d10, x0, x1, x2) + tap9(d.d11, x1, x2, x3),
             tap9(d.d20, x0, x1, x2) + tap9(d.d21, x1, x2, x3), tap9(d.d30, x0, x1, x2) + tap9(d.d31, x1, x2, x3));
}

// SLIDE (a const of the including kernel; CB = 1 only): x's vec4 columns ow4 − 1, ow4 and ow4 + 1 of the 4 rows
// pass through registers along the row, so that a step loads one vec4 per row (column ow4 + 1) instead of a vec4
// and two floats. The taps, and so the sums, are the same.
// Column ow4n (zero past the row's end) of x rows r.x … r.w of plane xc: one vec4 per row (ok0 / ok3: outer rows).
fn xcols(xc: u32, r: vec4u, ok0: bool, ok3: bool, ow4n: u32, W4: u32) -> mat4x4f {
  let ok = ow4n < W4;
  let z = vec4f(0.0);
  return mat4x4f(select(z, vec4f(xv[select(0u, xc + r.x + ow4n, ok)]), ok && ok0), select(z, vec4f(xv[select(0u, xc + r.y + ow4n, ok)]), ok),
                 select(z, vec4f(xv[select(0u, xc + r.z + ow4n, ok)]), ok), select(z, vec4f(xv[select(0u, xc + r.w + ow4n, ok && ok3)]), ok && ok3));
}

fn wtaps(l: vec4f, m: vec4f, r: vec4f) -> Taps {
  return Taps(vec4f(l.w, m.xyz), m, vec4f(m.yzw, r.x));
}

// col() from the window: columns wl (ow4 − 1), wc (ow4), wn (ow4 + 1) of the 4 rows.
fn col_win(wl: mat4x4f, wc: mat4x4f, wn: mat4x4f, d: DyRows) -> Col {
  let x0 = wtaps(wl[0], wc[0], wn[0]);
  let x1 = wtaps(wl[1], wc[1], wn[1]);
  let x2 = wtaps(wl[2], wc[2], wn[2]);
  let x3 = wtaps(wl[3], wc[3], wn[3]);
  return Col(tap9(d.d00, x0, x1, x2) + tap9(d.d01, x1, x2, x3), tap9(d.d10, x0, x1, x2) + tap9(d.d11, x1, x2, x3),
             tap9(d.d20, x0, x1, x2) + tap9(d.d21, x1, x2, x3), tap9(d.d30, x0, x1, x2) + tap9(d.d31, x1, x2, x3));
}

// Sums over images [n0, n1) for out channels 4·ob + i and in channels 4·cb + j (a.c_j.m_i), clamped at the
// last channel (values past O or C are computed but never stored). The including kernel defines
// load_dy(dp, i1, i2, lane): the DyRows at vec4 i1 (row h0) and i2 (row h0 + 1) of the planes dp (lane: its
// subgroup lane id where it shares the loads, else unused).
fn wtile(ob: u32, cb: u32, n0: u32, n1: u32, lane: u32) -> WAcc {
  let W4 = p.W / 4u;
  let HW4 = p.H * W4;
  let o = min(vec4u(ob * 4u) + vec4u(0u, 1u, 2u, 3u), vec4u(p.O - 1u));
  let c = min(vec4u(cb * CB) + vec4u(0u, 1u, 2u, 3u), vec4u(p.C - 1u));
  var a: WAcc;
  for (var n = n0; n < n1; n++) {
    let dp = (vec4u(n * p.O) + o) * HW4;
    let xp = (vec4u(n * p.C) + c) * HW4;
    for (var h0 = 0u; h0 < p.H; h0 += 2u) {
      // x rows h0 − 1 … h0 + 2 (clamped; ok = inside the image).
      let ok0 = h0 > 0u;
      let ok3 = h0 + 2u < p.H;
      let r1 = h0 * W4;
      let r = vec4u(select(0u, h0 - 1u, ok0) * W4, r1, r1 + W4, select(h0 + 1u, h0 + 2u, ok3) * W4);
      var wl = mat4x4f();
      var wc = mat4x4f();
      if (SLIDE) { wc = xcols(xp.x, r, ok0, ok3, 0u, W4); }
      for (var ow4 = 0u; ow4 < W4; ow4++) {
        let lok = ow4 > 0u;
        let rok = ow4 + 1u < W4;
        let i1 = r1 + ow4;
        let i2 = i1 + W4;
        let d = load_dy(dp, i1, i2, lane);
        a.bs += mat4x4f(d.d00 + d.d01, d.d10 + d.d11, d.d20 + d.d21, d.d30 + d.d31);
        if (SLIDE) {
          let wn = xcols(xp.x, r, ok0, ok3, ow4 + 1u, W4);
          a.c0 = add_col(a.c0, col_win(wl, wc, wn, d));
          wl = wc;
          wc = wn;
        } else {
          a.c0 = add_col(a.c0, col(xp.x, r, ok0, ok3, ow4, lok, rok, d));
        }
        if (CB > 1u) { a.c1 = add_col(a.c1, col(xp.y, r, ok0, ok3, ow4, lok, rok, d)); }
        if (CB > 2u) {
          a.c2 = add_col(a.c2, col(xp.z, r, ok0, ok3, ow4, lok, rok, d));
          a.c3 = add_col(a.c3, col(xp.w, r, ok0, ok3, ow4, lok, rok, d));
        }
      }
    }
  }
  return a;
}

// The 16 blocks in order: index 4·i + j holds out channel 4·ob + i, in channel 4·cb + j.
fn blocks(a: WAcc) -> array<mat3x3f, 16> {
  return array(a.c0.m0, a.c1.m0, a.c2.m0, a.c3.m0, a.c0.m1, a.c1.m1, a.c2.m1, a.c3.m1,
               a.c0.m2, a.c1.m2, a.c2.m2, a.c3.m2, a.c0.m3, a.c1.m3, a.c2.m3, a.c3.m3);
}


// Writes tile a of out block ob × in block cb into split slice `base` of partial; with has_db, the tiles of in
// block 0 also write their out channels' bias sums.
fn store_tile(a: WAcc, ob: u32, cb: u32, base: u32) {
  let m = blocks(a);
  if (p.has_db != 0u && cb == 0u) {
    let one = vec4f(1.0);
    let bsum = vec4f(dot(a.bs[0], one), dot(a.bs[1], one), dot(a.bs[2], one), dot(a.bs[3], one));
    for (var i = 0u; i < 4u; i++) {
      if (ob * 4u + i < p.O) { partial[base + p.O * p.C * 9u + ob * 4u + i] = bsum[i]; }
    }
  }
  for (var j = 0u; j < 16u; j++) {
    let o = ob * 4u + j / 4u;
    let c = cb * CB + j % 4u;
    if (j % 4u >= CB) { continue; }
    if (o >= p.O || c >= p.C) { continue; }
    for (var k = 0u; k < 9u; k++) { partial[base + (o * p.C + c) * 9u + k] = m[j][k / 3u][k % 3u]; }
  }
}
