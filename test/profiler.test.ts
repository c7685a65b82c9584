import { beforeAll, describe, expect, it } from 'vitest';
import { type DeviceContext, type Runtime, type TimedDispatch, Profiler, chromeTrace, compileSummary, conv2d, formatCompiles, formatProfile, noGrad, relu, summarizeProfile, tensor } from '../src/index.js';
import { gpu } from './setup.js';
import { seeded } from './reference/conv.js';

let ctx: DeviceContext;
beforeAll(async () => {
  ctx = await gpu();
});

function checkOrdered(timings: TimedDispatch[]): void {
  for (const t of timings) {
    expect(t.durationUs, `${t.kernel} duration`).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(t.durationUs) && Number.isFinite(t.startUs)).toBe(true);
  }
  expect(timings[0].startUs).toBe(0);
  for (let i = 1; i < timings.length; i++) {
    expect(timings[i].startUs, `start of dispatch ${i} (${timings[i].kernel}) before dispatch ${i - 1}`).toBeGreaterThanOrEqual(timings[i - 1].startUs);
  }
}

describe('Profiler', () => {
  it("a device without 'timestamp-query' gets a clear error", () => {
    const fake = { device: { features: new Set<string>() } } as unknown as Runtime;
    expect(() => new Profiler(fake)).toThrow(/timestamp-query/);
  });

  it('times every dispatch of conv2d forward + backward and relu; summary, table and trace agree', async () => {
    const rt = ctx.runtime;
    const x = tensor(seeded(2 * 4 * 8 * 8, 1), [2, 4, 8, 8], { requiresGrad: true });
    const w = tensor(seeded(6 * 4 * 9, 2), [6, 4, 3, 3], { requiresGrad: true });
    const b = tensor(seeded(6, 3), [6], { requiresGrad: true });
    // Once unprofiled so that pipeline compilation is out of the way (and to check the profiler adds nothing to it).
    await relu(conv2d(x, w, b, { padding: 1 })).backward(tensor(seeded(2 * 6 * 8 * 8, 4), [2, 6, 8, 8]));

    const profiler = new Profiler(rt).start();
    expect(rt.profiler).toBe(profiler);
    const before = rt.dispatchCount;
    const y = relu(conv2d(x, w, b, { padding: 1 }));
    await y.backward(tensor(seeded(2 * 6 * 8 * 8, 4), [2, 6, 8, 8]));
    const dispatched = rt.dispatchCount - before;
    profiler.stop();
    expect(rt.profiler).toBeNull();
    // Dispatches after stop() are not recorded.
    noGrad(() => relu(x).dispose());
    const timings = await profiler.collect();
    profiler.destroy();

    expect(dispatched).toBeGreaterThan(4);
    expect(timings.length).toBe(dispatched);
    checkOrdered(timings);
    const ops = new Set(timings.map((t) => t.op));
    for (const op of ['conv2d', 'conv2d.backward', 'relu', 'relu.backward']) expect(ops, `op '${op}' missing from ${[...ops].join(', ')}`).toContain(op);
    for (const t of timings) {
      expect(t.kernel).toMatch(/^[a-z0-9_]+(:[a-z0-9_]+)?$/);
      if (t.entry !== 'main') expect(t.kernel.endsWith(`:${t.entry}`)).toBe(true);
    }
    // The conv forward and backward kernels pass their FLOP count (2·N·O·OH·OW·C·9).
    const flops = 2 * 2 * 6 * 8 * 8 * 4 * 9;
    expect(timings.filter((t) => t.op === 'conv2d' && t.flops === flops).length).toBe(1);
    expect(timings.filter((t) => t.op === 'conv2d.backward' && t.flops === flops).length).toBeGreaterThanOrEqual(2);

    const rows = summarizeProfile(timings);
    expect(new Set(rows.map((r) => r.kernel)).size).toBe(rows.length);
    expect(rows.reduce((s, r) => s + r.count, 0)).toBe(timings.length);
    expect(rows.reduce((s, r) => s + r.share, 0)).toBeCloseTo(1, 6);
    for (let i = 1; i < rows.length; i++) expect(rows[i].totalMs).toBeLessThanOrEqual(rows[i - 1].totalMs);
    const totalUs = timings.reduce((s, t) => s + t.durationUs, 0);
    expect(rows.reduce((s, r) => s + r.totalMs, 0)).toBeCloseTo(totalUs / 1000, 6);
    for (const r of rows) {
      expect(r.meanUs).toBeCloseTo((1000 * r.totalMs) / r.count, 6);
      const hasFlops = timings.some((t) => t.kernel === r.kernel && t.flops > 0);
      if (!hasFlops) expect(r.gflops, `${r.kernel} has no FLOPs but a GFLOP/s figure`).toBeNull();
      else if (r.totalMs > 0) expect(r.gflops, `${r.kernel}`).toBeGreaterThan(0);
    }
    const convRows = rows.filter((r) => r.ops.split(',').some((o) => o.startsWith('conv2d')) && timings.some((t) => t.kernel === r.kernel && t.flops > 0));
    expect(convRows.length).toBeGreaterThanOrEqual(2);
    expect(convRows.some((r) => r.gflops !== null && r.gflops > 0), 'no conv kernel row has a GFLOP/s figure').toBe(true);

    const table = formatProfile(rows, 3);
    expect(table.split('\n').length).toBe(2 + Math.min(3, rows.length));
    expect(table).toContain(rows[0].kernel);

    const trace = JSON.parse(JSON.stringify(chromeTrace(timings, 'test'))) as { traceEvents: { ph: string; name: string; ts: number; dur: number }[] };
    const events = trace.traceEvents.filter((e) => e.ph === 'X');
    expect(events.length).toBe(timings.length);
    events.forEach((e, i) => {
      expect(e.name).toBe(timings[i].kernel);
      expect(e.ts).toBe(timings[i].startUs);
      expect(e.dur).toBe(timings[i].durationUs);
    });
  });

  it('more than 2048 dispatches in one profile span several query sets', async () => {
    const rt = ctx.runtime;
    const n = 2100;
    const x = tensor(seeded(64, 5), [64]);
    noGrad(() => relu(x).dispose());
    const profiler = new Profiler(rt).start();
    const before = rt.dispatchCount;
    noGrad(() => {
      for (let i = 0; i < n; i++) relu(x).dispose();
    });
    const dispatched = rt.dispatchCount - before;
    profiler.stop();
    const timings = await profiler.collect();
    expect(dispatched).toBe(n);
    expect(timings.length).toBe(n);
    expect(timings.every((t) => t.op === 'relu' && t.kernel === 'elementwise:relu')).toBe(true);
    checkOrdered(timings);
    // collect() starts afresh: a second profile with the same Profiler reuses its query sets.
    profiler.start();
    noGrad(() => relu(x).dispose());
    profiler.stop();
    const again = await profiler.collect();
    profiler.destroy();
    expect(again.length).toBe(1);
    const rows = summarizeProfile(timings);
    expect(rows.length).toBe(1);
    expect(rows[0].count).toBe(n);
  }, 120_000);

  it('compileSummary: first dispatch minus the median of the later ones, plus create time unless the driver compiles lazily', () => {
    const t = (pipeline: string, durationUs: number, firstUse: boolean): TimedDispatch => ({ op: 'op', kernel: pipeline.split('/')[0], entry: 'main', flops: 0, startUs: 0, durationUs, pipeline, firstUse });
    const timings = [t('a/main/', 5000, true), t('b/main/', 300, true), t('a/main/', 1000, false), t('a/main/', 3000, false), t('a/main/', 2000, false)];
    const created = [
      { key: 'a/main/', kernel: 'a', entry: 'main', constants: {}, createMs: 10 },
      { key: 'b/main/', kernel: 'b', entry: 'main', constants: {}, createMs: 1 },
    ];
    const eager = compileSummary(timings, created);
    expect(eager.map((r) => r.pipeline)).toEqual(['a/main/', 'b/main/']);
    expect(eager[0]).toMatchObject({ firstMs: 5, steadyMs: 2, createMs: 10, compileMs: 13 });
    // b ran once: its whole first dispatch counts (an upper bound).
    expect(eager[1]).toMatchObject({ steadyMs: null, compileMs: 1.3 });
    const lazy = compileSummary(timings, created, true);
    expect(lazy[0].compileMs).toBe(3);
    expect(formatCompiles(lazy).split('\n')[0]).toBe('2 pipelines compiled, 0.0 s in all');
  });

  it('the runtime logs each pipeline once, with its key, and marks its first dispatch', async () => {
    const rt = ctx.runtime;
    const x = tensor(seeded(8, 6), [8]);
    const profiler = new Profiler(rt).start();
    noGrad(() => {
      relu(x).dispose();
      relu(x).dispose();
    });
    profiler.stop();
    const timings = await profiler.collect();
    profiler.destroy();
    expect(timings.every((d) => d.pipeline === 'elementwise/relu/' && !d.firstUse)).toBe(true);
    expect(rt.pipelineLog.filter((p) => p.key === 'elementwise/relu/').length).toBe(1);
  });
});

