// Analysis: plots (SVG, and PNG through sharp), CSV, resumable sweeps with a fake trainer, blend pictures, pruning maths.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { layoutPlot, linearTicks, logTicks, renderSvg, type Prim } from '../src/analysis/plot.js';
import { blendContactSheet, renderBlendLayers, renderPng, rgbaToPng } from '../src/analysis/image-node.js';
import { parseCsv, toCsv } from '../src/analysis/csv.js';
import { lineChart, planSweep, resultsFromCsv, resultsToCsv, tradeoffPlot, type SweepResult } from '../src/analysis/sweep.js';
import { runSweep } from '../src/analysis/sweep-node.js';
import { BLEND_BLUE, BLEND_OTHER, BLEND_RED, blendCellSize, blendLayers, classifyBlendRows, readableBlendK } from '../src/analysis/blend.js';
import { blendPruner, countNonzero, equivalentParameters, nonzeroParameters, referencePoints } from '../src/analysis/prune.js';
import { runFingerprint } from '../src/train/fingerprint.js';
import type { RunSummary, TrainConfig } from '../src/train/types.js';

interface Decoded {
  width: number;
  height: number;
  data: Uint8Array;
}
/** PNG bytes → RGBA pixels, read back with sharp (libpng), after checking the PNG signature. */
async function decode(bytes: Uint8Array): Promise<Decoded> {
  expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
const pixel = (png: Decoded, x: number, y: number): number[] => {
  const o = (Math.round(y) * png.width + Math.round(x)) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
};
/** Pixels darker than `below` (red channel) in [x0, x1) × [y0, y1): text and lines on the white plot background. */
function darkPixels(png: Decoded, x0: number, y0: number, x1: number, y1: number, below = 128): number {
  let n = 0;
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(png.height, Math.round(y1)); y++) {
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(png.width, Math.round(x1)); x++) if (pixel(png, x, y)[0]! < below) n++;
  }
  return n;
}
const rgb = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

function row(model: string, width: number | null, compression: number, acc: number, parameters = 1e6 / compression): SweepResult {
  return { run: width === null ? model : `${model}-w${width}`, model, width, dataset: 'cifar10', epochs: 1, parameters, compression, testAccuracy: acc, bestTestAccuracy: acc, trainLoss: 0.5, wallSeconds: 1, imagesPerSecond: 100, adapter: 'fake, "quoted"', software: true };
}
const ROWS: SweepResult[] = [
  row('vgg16', null, 1, 0.93),
  row('s-vgg16', 32, 500, 0.8),
  row('s-vgg16', 64, 120, 0.85),
  row('sl-vgg16', 32, 300, 0.82),
  row('sl-vgg16', 64, 80, 0.88),
];

describe('PNG output (sharp)', () => {
  it('encodes RGBA pixels losslessly (random and flat data)', async () => {
    const img = { width: 37, height: 23, data: new Uint8Array(37 * 23 * 4) };
    let s = 1;
    for (let i = 0; i < img.data.length; i++) img.data[i] = i < 1500 ? ((s = (s * 1103515245 + 12345) >>> 0) >>> 24) : (i >> 7) & 0xff;
    const png = await decode(await rgbaToPng(img));
    expect([png.width, png.height]).toEqual([37, 23]);
    expect(Buffer.compare(Buffer.from(png.data), Buffer.from(img.data))).toBe(0);
  });
  it('rejects a buffer of the wrong size', async () => {
    await expect(rgbaToPng({ width: 2, height: 2, data: new Uint8Array(15) })).rejects.toThrow(/2x2x4 = 16 bytes, got 15/);
  });
});

describe('plots', () => {
  it('ticks: 1/2/5 linear steps, powers of ten on log axes', () => {
    expect(linearTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(logTicks(0.8, 2000)).toEqual([1, 10, 100, 1000]);
    expect(logTicks(1, 30)).toEqual([1, 2, 5, 10, 20]);
  });

  it('trade-off SVG has axes, labels, log ticks, one marker per point, the baseline marker and dashed line', () => {
    const svg = renderSvg(tradeoffPlot(ROWS));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('compression factor C (log scale)');
    expect(svg).toContain('test accuracy (%)');
    expect(svg).toMatch(/<text class="title"[^>]*>Accuracy vs compression \(cifar10\)</);
    for (const t of ['1', '10', '100']) expect(svg).toMatch(new RegExp(`class="tick x-tick"[^>]*>${t}<`));
    for (const l of ['n=32', 'n=64']) expect(svg.match(new RegExp(`class="point-label"[^>]*>${l}<`, 'g'))?.length).toBe(2);
    // 5 data points + 3 legend entries; the baseline is a star (polygon).
    expect(svg.match(/class="marker"/g)?.length).toBe(8);
    expect(svg.match(/<polygon class="marker"/g)?.length).toBe(2);
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('vgg16 93.00%');
    for (const l of ['vgg16 (baseline)', 's-vgg16', 'sl-vgg16']) expect(svg).toMatch(new RegExp(`class="legend"[^>]*>${l.replace(/[()]/g, '\\$&')}<`));
  });

  it('PNG has the expected size, the series colour at every point, and rendered text', async () => {
    const spec = tradeoffPlot(ROWS);
    const png = await decode(await renderPng(spec, 2));
    expect([png.width, png.height]).toEqual([1440, 960]);
    const scene = layoutPlot(spec);
    const markers = scene.prims.filter((p): p is Extract<Prim, { kind: 'marker' }> => p.kind === 'marker');
    expect(markers.length).toBe(8);
    for (const m of markers) expect(pixel(png, m.x * 2, m.y * 2)).toEqual(rgb(m.color));
    // Text is drawn with a real font (librsvg + fontconfig): every text primitive has dark pixels around its anchor,
    // and the blank margin above the title has none. A machine without fonts fails here (install fonts-dejavu-core).
    const texts = scene.prims.filter((p): p is Extract<Prim, { kind: 'text' }> => p.kind === 'text' && p.color === '#000000');
    expect(texts.map((t) => t.cls).sort()).toEqual(['legend', 'legend', 'legend', 'title', 'x-label', 'y-label']);
    for (const t of texts) {
      const half = (t.vertical ? [t.size, t.text.length * t.size * 0.3] : [t.text.length * t.size * 0.3, t.size]).map((v) => v * 2);
      const cx = (t.anchor === 'start' && !t.vertical ? t.x + t.text.length * t.size * 0.3 : t.x) * 2;
      expect(darkPixels(png, cx - half[0]!, t.y * 2 - half[1]!, cx + half[0]!, t.y * 2 + half[1]!), `${t.cls} '${t.text}' drew nothing: is a font installed (fonts-dejavu-core)?`).toBeGreaterThan(4 * t.text.length);
    }
    const ticks = scene.prims.filter((p): p is Extract<Prim, { kind: 'text' }> => p.kind === 'text' && p.cls === 'tick x-tick');
    for (const t of ticks) expect(darkPixels(png, t.x * 2 - 16, t.y * 2 - 14, t.x * 2 + 16, t.y * 2 + 14, 160), `x tick ${t.text}`).toBeGreaterThan(10);
    expect(darkPixels(png, 0, 0, png.width, 10)).toBe(0);
  });

  it('line chart renders both outputs', async () => {
    const spec = lineChart([{ name: 'loss', points: [1, 2, 3].map((x) => ({ x, y: 1 / x })) }, { name: 'acc', points: [1, 2, 3].map((x) => ({ x, y: x / 4 })) }], { title: 'T', xLabel: 'epoch', yLabel: 'v' });
    expect(renderSvg(spec)).toContain('>epoch<');
    expect((await decode(await renderPng(spec, 1))).width).toBe(720);
  });
});

describe('csv', () => {
  it('quotes commas, quotes and newlines and parses them back', () => {
    const text = toCsv([{ a: 'x,y', b: 'say "hi"', c: 'two\nlines' }, { a: '', b: 3, c: true }], ['a', 'b', 'c']);
    expect(parseCsv(text)).toEqual([{ a: 'x,y', b: 'say "hi"', c: 'two\nlines' }, { a: '', b: '3', c: 'true' }]);
  });
  it('sweep results round-trip', () => {
    expect(resultsFromCsv(resultsToCsv(ROWS))).toEqual(ROWS);
  });
  it('names the bad column', () => {
    expect(() => resultsFromCsv('run,model,parameters,compression,testAccuracy\nx,y,abc,1,0.5\n')).toThrow(/row 2: column 'parameters'/);
  });
});

/** What the real trainer returns (and writes as summary.json), with the run's settings in `config`. */
function fakeSummary(config: TrainConfig): RunSummary {
  const width = config.width ?? null;
  const parameters = width === null ? 1e6 : width * width * 9;
  return { status: 'completed', config: runFingerprint(config), model: config.model, width, dataset: config.dataset, epochs: config.epochs, parameters, compression: 1e6 / parameters, testAccuracy: 0.5 + (width ?? 64) / 200, bestTestAccuracy: 0.6, testLoss: 1, trainLoss: 1, trainAccuracy: 0.5, wallSeconds: 0.01, imagesPerSecond: 1, adapter: 'fake', software: true, checkpoint: join(config.out, 'model.safetensors') };
}

describe('sweep', () => {
  const spec = { models: ['vgg16', 's-vgg16', 'sl-vgg16'], widths: [8, 16], dataset: 'mnist', epochs: 1, batchSize: 8, lr: 0.1 };

  it('plans baselines once and shared models at every width', () => {
    const plan = planSweep({ ...spec, out: '/tmp/sw/' });
    expect(plan.map((p) => p.name)).toEqual(['vgg16', 's-vgg16-w8', 's-vgg16-w16', 'sl-vgg16-w8', 'sl-vgg16-w16']);
    expect(plan[0]!.config.width).toBeUndefined();
    expect(plan[2]!.config).toMatchObject({ model: 's-vgg16', width: 16, out: '/tmp/sw/runs/s-vgg16-w16', resume: 'auto', momentum: 0.9 });
    expect(() => planSweep({ ...spec, widths: [], out: 'x' })).toThrow(/need --widths/);
  });

  it('resumes after an interruption without retraining finished runs', async () => {
    const out = await mkdtemp(join(tmpdir(), 'onelayer-sweep-'));
    try {
      const calls: string[] = [];
      const fake = (ac?: AbortController, stopAfter = Infinity) => ({
        async runTraining(config: TrainConfig): Promise<RunSummary> {
          calls.push(`${config.model}-w${config.width ?? ''}`);
          const { mkdir, writeFile } = await import('node:fs/promises');
          await mkdir(config.out, { recursive: true });
          const width = config.width ?? null;
          const parameters = width === null ? 1e6 : width * width * 9;
          const s = fakeSummary(config);
          await writeFile(join(config.out, 'summary.json'), JSON.stringify(s));
          if (calls.length >= stopAfter) ac?.abort(); // Ctrl-C arrives while run 2 finishes
          return s;
        },
      });
      const ac = new AbortController();
      const logs: string[] = [];
      await expect(runSweep({ ...spec, out, trainer: fake(ac, 2), signal: ac.signal, log: (l) => logs.push(l) })).rejects.toThrow(/interrupted before s-vgg16-w16/);
      expect(calls).toEqual(['vgg16-w', 's-vgg16-w8']);
      expect(resultsFromCsv(await readFile(join(out, 'results.csv'), 'utf8')).map((r) => r.run)).toEqual(['vgg16', 's-vgg16-w8']);

      calls.length = 0;
      const done = await runSweep({ ...spec, out, trainer: fake(), log: (l) => logs.push(l) });
      expect(calls).toEqual(['s-vgg16-w16', 'sl-vgg16-w8', 'sl-vgg16-w16']);
      expect(done.skipped).toEqual(['vgg16', 's-vgg16-w8']);
      const rows = resultsFromCsv(await readFile(join(out, 'results.csv'), 'utf8'));
      expect(rows.map((r) => r.run)).toEqual(['vgg16', 's-vgg16-w8', 's-vgg16-w16', 'sl-vgg16-w8', 'sl-vgg16-w16']);
      expect(rows[2]).toMatchObject({ model: 's-vgg16', width: 16, parameters: 2304 });
      expect(await readFile(join(out, 'tradeoff.svg'), 'utf8')).toContain('n=16');
      expect((await decode(new Uint8Array(await readFile(join(out, 'tradeoff.png'))))).width).toBe(1440);

      // A third run trains nothing.
      calls.length = 0;
      expect((await runSweep({ ...spec, out, trainer: fake(), log: () => {} })).trained).toEqual([]);
      expect(calls).toEqual([]);
      expect((await stat(join(out, 'results.csv'))).size).toBeGreaterThan(0);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('never skips a finished run trained with other settings: stops before training, or retrains with overwrite', async () => {
    const out = await mkdtemp(join(tmpdir(), 'onelayer-sweep-settings-'));
    try {
      const { mkdir, writeFile } = await import('node:fs/promises');
      const calls: TrainConfig[] = [];
      const trainer = {
        async runTraining(config: TrainConfig): Promise<RunSummary> {
          calls.push(config);
          await mkdir(config.out, { recursive: true });
          const s = fakeSummary(config);
          await writeFile(join(config.out, 'summary.json'), JSON.stringify(s));
          return s;
        },
      };
      const small = { models: ['vgg16', 's-vgg16'], widths: [8], dataset: 'mnist', epochs: 1, batchSize: 8, lr: 0.1, out, trainer, log: () => {} };
      expect((await runSweep(small)).trained).toEqual(['vgg16', 's-vgg16-w8']);
      // Planned runs resume an interrupted run or start fresh; nothing is overwritten.
      expect(calls.map((c) => [c.resume, c.overwrite])).toEqual([['auto', false], ['auto', false]]);

      // More epochs: the finished runs are not this run. Nothing is trained; the error names each folder and setting.
      calls.length = 0;
      const err = await runSweep({ ...small, epochs: 3 }).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/2 run folder\(s\) hold a finished run trained with other settings/);
      expect(err?.message).toContain(`${join(out, 'runs', 'vgg16')}: --epochs 3 (the stored run has 1)`);
      expect(err?.message).toContain(`${join(out, 'runs', 's-vgg16-w8')}: --epochs 3 (the stored run has 1)`);
      expect(err?.message).toMatch(/new --out .* or --overwrite/);
      expect(calls).toEqual([]);

      // A point without its settings recorded (older sweeps) is not silently taken for this run either.
      const old = JSON.parse(await readFile(join(out, 'runs', 'vgg16', 'summary.json'), 'utf8')) as Partial<RunSummary>;
      delete old.config;
      await writeFile(join(out, 'runs', 'vgg16', 'summary.json'), JSON.stringify(old));
      await expect(runSweep(small)).rejects.toThrow(/runs\/vgg16: the stored run has no recorded settings/);

      // --overwrite retrains exactly those runs, each replacing the old run.
      const again = await runSweep({ ...small, epochs: 3, overwrite: true });
      expect(again.trained).toEqual(['vgg16', 's-vgg16-w8']);
      expect(calls.map((c) => [c.epochs, c.resume, c.overwrite])).toEqual([[3, false, true], [3, false, true]]);
      expect(resultsFromCsv(await readFile(join(out, 'results.csv'), 'utf8')).map((r) => r.epochs)).toEqual([3, 3]);

      // The same settings again: everything is skipped, with or without --overwrite.
      calls.length = 0;
      expect((await runSweep({ ...small, epochs: 3 })).skipped).toEqual(['vgg16', 's-vgg16-w8']);
      expect((await runSweep({ ...small, epochs: 3, overwrite: true })).skipped).toEqual(['vgg16', 's-vgg16-w8']);
      expect(calls).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('a failed run never replaces a completed summary.json; a summary that cannot be written is reported', async () => {
    const out = await mkdtemp(join(tmpdir(), 'onelayer-sweep-fail-'));
    try {
      const { mkdir, writeFile } = await import('node:fs/promises');
      const failing = { runTraining: async (): Promise<RunSummary> => Promise.reject(new Error('diverged')) };
      const small = { models: ['vgg16', 's-vgg16'], widths: [8], dataset: 'mnist', epochs: 1, batchSize: 8, lr: 0.1, out, log: () => {} };
      // vgg16 finished with other settings (retrained with --overwrite, which fails); s-vgg16-w8 never ran.
      const finished = fakeSummary({ ...planSweep(small)[0]!.config, epochs: 5 });
      await mkdir(join(out, 'runs', 'vgg16'), { recursive: true });
      await writeFile(join(out, 'runs', 'vgg16', 'summary.json'), JSON.stringify(finished));
      await expect(runSweep({ ...small, trainer: failing, overwrite: true })).rejects.toThrow(/2 run\(s\) failed[\s\S]*vgg16: diverged/);
      expect(JSON.parse(await readFile(join(out, 'runs', 'vgg16', 'summary.json'), 'utf8'))).toEqual(finished);
      expect(JSON.parse(await readFile(join(out, 'runs', 's-vgg16-w8', 'summary.json'), 'utf8'))).toMatchObject({ status: 'failed', error: 'diverged' });

      // A summary.json that cannot be written (here: a folder is in the way): the sweep says so in one line and
      // still records the result.
      await rm(join(out, 'runs', 's-vgg16-w8', 'summary.json'));
      await mkdir(join(out, 'runs', 's-vgg16-w8', 'summary.json', 'blocker'), { recursive: true });
      const logs: string[] = [];
      const noSummary = { runTraining: async (c: TrainConfig): Promise<RunSummary> => fakeSummary(c) };
      const done = await runSweep({ ...small, models: ['s-vgg16'], trainer: noSummary, log: (l: string) => logs.push(l) });
      expect(done.trained).toEqual(['s-vgg16-w8']);
      expect(resultsFromCsv(await readFile(join(out, 'results.csv'), 'utf8')).map((r) => r.run)).toEqual(['s-vgg16-w8']);
      expect(logs.filter((l) => l.startsWith(`sweep: could not write ${join(out, 'runs', 's-vgg16-w8', 'summary.json')}: `))).toHaveLength(1);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('blend pictures', () => {
  it("with k = 32 (the paper's) marks each row's 32 largest |w| red and 32 smallest blue (n = 64)", async () => {
    const n = 64;
    const data = new Float32Array(n * n);
    // Row r: |w| grows with (c + r) mod n, alternating signs so |w| (not w) has to decide.
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) data[r * n + c] = (((c + r) % n) + 1) * (c % 2 ? -1 : 1);
    const t = { name: 'blends.0.weight', shape: [n, n], data };
    const marks = classifyBlendRows(t, 32);
    for (let c = 0; c < n; c++) expect(marks[c]).toBe(c >= 32 ? 1 : -1);
    const png = await decode((await renderBlendLayers([t], undefined, 32)).layers[0]!.png);
    const cell = blendCellSize(n);
    expect([png.width, png.height]).toEqual([n * cell, n * cell]);
    const at = (r: number, c: number): number[] => pixel(png, c * cell + cell / 2, r * cell + cell / 2);
    expect(at(0, 63)).toEqual([...BLEND_RED]);
    expect(at(0, 32)).toEqual([...BLEND_RED]);
    expect(at(0, 31)).toEqual([...BLEND_BLUE]);
    expect(at(0, 0)).toEqual([...BLEND_BLUE]);
    expect(at(5, 63)).toEqual([...BLEND_BLUE]); // (63 + 5) % 64 = 4: small
    expect(at(5, 58)).toEqual([...BLEND_RED]); // (58 + 5) % 64 = 63: largest
  });

  it('default k = min(32, max(1, n/8)), as on the page: n = 64 marks 8 of each kind per row, n = 5 one', async () => {
    const row = (n: number) => ({ name: 'blends.0.weight', shape: [n, n], data: Float32Array.from({ length: n * n }, (_, i) => (i % n) + 1) });
    const count = (m: Int8Array, n: number, v: number) => [...m.slice(0, n)].filter((x) => x === v).length;
    expect([readableBlendK(64), readableBlendK(5), readableBlendK(512)]).toEqual([8, 1, 32]);
    const m64 = classifyBlendRows(row(64));
    expect([count(m64, 64, 1), count(m64, 64, -1)]).toEqual([8, 8]);
    const m5 = classifyBlendRows(row(5));
    expect([...m5.slice(0, 5)]).toEqual([-1, 0, 0, 0, 1]);
    // The CLI's pictures use the same default as the page, and --k (the third argument) overrides it.
    const cell = blendCellSize(64);
    const at = async (k?: number) => {
      const png = await decode((await renderBlendLayers([row(64)], undefined, k)).layers[0]!.png);
      return [0, 7, 8, 55, 56, 63].map((c) => pixel(png, c * cell + cell / 2, cell / 2));
    };
    expect(await at()).toEqual([BLEND_BLUE, BLEND_BLUE, BLEND_OTHER, BLEND_OTHER, BLEND_RED, BLEND_RED].map((c) => [...c]));
    expect(await at(32)).toEqual([BLEND_BLUE, BLEND_BLUE, BLEND_BLUE, BLEND_RED, BLEND_RED, BLEND_RED].map((c) => [...c]));
  });

  it('k = 2 on odd n leaves the median grey; layers in order of appearance; contact sheet', async () => {
    const n = 5;
    const t = (name: string) => ({ name, shape: [n, n, 1, 1], data: Float32Array.from({ length: n * n }, (_, i) => (i % n) + 1) });
    const pics = await renderBlendLayers([t('blends.10.weight'), { name: 'bn.weight', shape: [5], data: new Float32Array(5) }, t('blends.2.weight'), t('blend1.weight')], undefined, 2);
    expect(pics.layers.map((l) => l.name)).toEqual(['blend1.weight', 'blends.2.weight', 'blends.10.weight']);
    const png = await decode(pics.layers[0]!.png);
    const cell = blendCellSize(n);
    expect([0, 1, 2, 3, 4].map((c) => pixel(png, c * cell + 1, 1))).toEqual([[...BLEND_BLUE], [...BLEND_BLUE], [...BLEND_OTHER], [...BLEND_RED], [...BLEND_RED]]);
    // Contact sheet: 3 layers in a 2 × 2 grid of 256-px tiles, 12 px apart, a 25-px label band under each row.
    const sheet = await decode(pics.sheet);
    expect([sheet.width, sheet.height]).toEqual([2 * (256 + 12) + 12, 2 * (256 + 12 + 25) + 12]);
    const tileCell = (tile: number, r: number, c: number): number[] =>
      pixel(sheet, 12 + (tile % 2) * 268 + (c + 0.5) * (256 / n), 12 + Math.floor(tile / 2) * 293 + (r + 0.5) * (256 / n));
    for (const tile of [0, 1, 2]) {
      expect([0, 1, 2, 3, 4].map((c) => tileCell(tile, 2, c))).toEqual([[...BLEND_BLUE], [...BLEND_BLUE], [...BLEND_OTHER], [...BLEND_RED], [...BLEND_RED]]);
    }
    expect(pixel(sheet, 6, 6)).toEqual([255, 255, 255]);
    expect(pixel(sheet, 268 + 128, 293 + 128)).toEqual([255, 255, 255]); // the empty fourth tile
    // Each label ("0: blend1.weight (n=5)", ...) is text in the band under its tile.
    for (const tile of [0, 1, 2]) {
      const x = 12 + (tile % 2) * 268;
      const y = 12 + Math.floor(tile / 2) * 293 + 256;
      expect(darkPixels(sheet, x, y + 2, x + 256, y + 24), `label ${tile}`).toBeGreaterThan(60);
      expect(darkPixels(sheet, x, y + 31, x + 256, y + 32)).toBe(0); // the padding below the label band
    }
    expect(await blendContactSheet(blendLayers([t('blends.0.weight')]), 64).then(decode).then((p) => [p.width, p.height])).toEqual([88, 64 + 12 + 25 + 12]);
    expect(blendLayers([{ name: 'x.weight', shape: [4, 4], data: new Float32Array(16) }])).toEqual([]);
    await expect(renderBlendLayers([])).rejects.toThrow(/no blend layers/);
  });
});

describe('pruning', () => {
  const layers = [Float32Array.from([0.1, -5, 0.2, 3]), Float32Array.from([0.05, 1])];

  it('zeros the globally smallest |w|', () => {
    const p = blendPruner(layers).at(0.5);
    expect(p.zeroed).toBe(3);
    expect(p.layers.map((l) => [...l])).toEqual([[0, -5, 0, 3], [0, 1]]);
    expect([...layers[0]!]).toEqual([...Float32Array.from([0.1, -5, 0.2, 3])]); // inputs untouched
    expect(countNonzero(p.layers)).toBe(3);
    expect(nonzeroParameters(100, p.layers)).toBe(97);
    expect(blendPruner(layers).at(0).zeroed).toBe(0);
    expect(countNonzero(blendPruner(layers).at(1).layers)).toBe(0);
    expect(() => blendPruner(layers).at(1.5)).toThrow(/fraction/);
  });

  it('per layer zeros the same fraction of each layer; ties give exact counts', () => {
    const p = blendPruner(layers, true).at(0.5);
    expect(p.layers.map((l) => [...l])).toEqual([[0, -5, 0, 3], [0, 1]]);
    const q = blendPruner([new Float32Array(10).fill(2)]).at(0.3);
    expect(countNonzero(q.layers)).toBe(7);
    expect([...q.layers[0]!.slice(0, 4)]).toEqual([0, 0, 0, 2]);
  });

  it('interpolates log(parameters) linearly in accuracy between reference points', () => {
    const pts = [{ accuracy: 0.9, parameters: 1e6 }, { accuracy: 0.8, parameters: 1e4 }];
    expect(equivalentParameters(pts, 0.85).parameters).toBeCloseTo(1e5, 3);
    expect(equivalentParameters(pts, 0.85).extrapolated).toBe(false);
    expect(equivalentParameters(pts, 0.95)).toEqual({ parameters: 1e6, extrapolated: true });
    expect(equivalentParameters(pts, 0.5).parameters).toBeCloseTo(1e4, 6);
    expect(equivalentParameters([{ accuracy: 0.9, parameters: 100 }, { accuracy: 0.9, parameters: 10000 }], 0.9).parameters).toBeCloseTo(1000, 6);
    const ref = referencePoints(ROWS, { baseline: 'vgg16', dataset: 'cifar10' });
    expect(ref).toEqual([{ accuracy: 0.93, parameters: 1e6 }]);
    expect(referencePoints(ROWS, { reference: 's-vgg16' }).length).toBe(2);
    expect(() => referencePoints(ROWS, { reference: 'resnet18' })).toThrow(/no rows of model 'resnet18'/);
  });
});

describe('pruning and blend pictures of a real SL checkpoint (GPU)', () => {
  it('prunes sl-resnet18 (n = 4) on MNIST at 0, 50, 100 % and pictures its blends in model order', async () => {
    const { gpu } = await import('./setup.js');
    const { createModel, compressionFactor } = await import('../src/models/index.js');
    const { modelCheckpoint } = await import('../src/train/checkpoint.js');
    const { decodeSafetensors } = await import('../src/io/safetensors.js');
    const { pruneCurve } = await import('../src/analysis/prune-node.js');
    const { writeFile } = await import('node:fs/promises');
    await gpu();
    const dir = await mkdtemp(join(tmpdir(), 'onelayer-prune-'));
    try {
      const model = createModel('sl-resnet18', { width: 4, numClasses: 10, inChannels: 1, inputSize: 28 });
      const names = model.namedParameters().map(([n]) => n);
      const total = model.numParameters();
      const c = compressionFactor(model);
      const bytes = await modelCheckpoint(model, { model: 'sl-resnet18', width: 4, numClasses: 10, inChannels: 1, inputSize: 28, stem: 'pad', dataset: 'mnist', epoch: 1, globalStep: 1 });
      model.dispose();
      const file = join(dir, 'model.safetensors');
      await writeFile(file, bytes);

      const blendNames = names.filter((n) => /blend/.test(n));
      expect(blendNames.length).toBeGreaterThan(1);
      const pics = await renderBlendLayers(decodeSafetensors(bytes, file).tensors);
      expect(pics.layers.map((l) => l.name)).toEqual(blendNames);

      const baselines = join(dir, 'results.csv');
      await writeFile(baselines, resultsToCsv([{ ...row('resnet18', null, 1, 0.99, 1e7), dataset: 'mnist' }, { ...row('resnet18', null, 1, 0.05, 1e3), run: 'resnet18-tiny', dataset: 'mnist' }]));
      const { rows, files } = await pruneCurve({ checkpoint: file, fractions: [0, 0.5, 1], maxEvalImages: 40, batchSize: 20, baselines, out: join(dir, 'prune'), log: () => {} });
      const blendTotal = blendNames.length * 16;
      expect(rows.map((r) => r.zeroed)).toEqual([0, blendTotal / 2, blendTotal]);
      expect(rows.map((r) => r.nonzeroParameters)).toEqual([total, total - blendTotal / 2, total - blendTotal]);
      expect(rows[0]!.compression).toBeCloseTo(c, 6);
      // Unpruned, the curve's first point is the checkpoint's own accuracy on the same images, evaluated independently.
      const { loadModelCheckpoint } = await import('../src/train/checkpoint.js');
      const { evaluateModel } = await import('../src/train/trainer.js');
      const { BatchLoader } = await import('../src/data/loader.js');
      const { loadDataset } = await import('../src/data/node.js');
      const mnist = await loadDataset('mnist');
      const check = createModel('sl-resnet18', { width: 4, numClasses: 10, inChannels: 1, inputSize: 28 });
      loadModelCheckpoint(check, bytes, file);
      const direct = await evaluateModel(check, mnist, new BatchLoader(mnist, 'test', { batchSize: 20, shuffle: false, augment: false }), 40);
      check.dispose();
      expect(rows[0]!.testAccuracy).toBe(direct.accuracy);
      for (const r of rows) expect(r.equivalentCompression).toBeGreaterThan(0);
      expect(parseCsv(await readFile(files!.csv, 'utf8')).length).toBe(3);
      expect((await decode(new Uint8Array(await readFile(files!.png)))).width).toBe(1440);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('CLI entry points', () => {
  it('sweepCommand parses the flags, loads --trainer MODULE and writes the sweep outputs', async () => {
    const { sweepCommand } = await import('../src/cli/analysis.js');
    const { writeFile } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'onelayer-sweepcli-'));
    try {
      await writeFile(
        join(dir, 'trainer.mjs'),
        `export async function runTraining(c) {
          const p = c.width ? 9 * c.width * c.width : 1e5;
          return { status: 'completed', model: c.model, width: c.width ?? null, dataset: c.dataset, epochs: c.epochs, parameters: p, compression: 1e5 / p,
            testAccuracy: c.lr, bestTestAccuracy: c.lr, testLoss: 1, trainLoss: c.batchSize, trainAccuracy: 0, wallSeconds: 0, imagesPerSecond: 0, adapter: c.schedule, software: c.nesterov, checkpoint: '' };
        }`,
      );
      const args = { _: ['sweep'], models: 'vgg16,sl-vgg16', widths: '4,8', dataset: 'mnist', epochs: '2', 'batch-size': '16', lr: '0.25', schedule: 'step', nesterov: true, out: join(dir, 'sw'), trainer: join(dir, 'trainer.mjs') };
      const write = process.stdout.write;
      process.stdout.write = (() => true) as typeof process.stdout.write;
      try {
        expect(await sweepCommand(args)).toBe(0);
      } finally {
        process.stdout.write = write;
      }
      const rows = resultsFromCsv(await readFile(join(dir, 'sw', 'results.csv'), 'utf8'));
      expect(rows.map((r) => r.run)).toEqual(['vgg16', 'sl-vgg16-w4', 'sl-vgg16-w8']);
      expect(rows[1]).toMatchObject({ testAccuracy: 0.25, trainLoss: 16, adapter: 'step', software: true, epochs: 2 });
      // The sweep kept a summary.json for each run (the trainer wrote none), so a rerun skips them.
      expect(JSON.parse(await readFile(join(dir, 'sw', 'runs', 'sl-vgg16-w8', 'summary.json'), 'utf8')).status).toBe('completed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('blendsCommand writes one PNG per blend layer and a contact sheet', async () => {
    const { blendsCommand } = await import('../src/cli/analysis.js');
    const { encodeSafetensors } = await import('../src/io/safetensors.js');
    const { writeFile, readdir } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'onelayer-blends-'));
    try {
      const t = (name: string, n: number) => ({ name, shape: [n, n], data: Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)) });
      await writeFile(join(dir, 'm.safetensors'), encodeSafetensors([t('blends.0.weight', 8), t('blends.1.weight', 8), t('blends.10.weight', 8), { name: 'fc.bias', shape: [3], data: new Float32Array(3) }], { model: 'sl-vgg16' }));
      const write = process.stdout.write;
      process.stdout.write = (() => true) as typeof process.stdout.write;
      try {
        await expect(blendsCommand({ _: ['blends'], checkpoint: join(dir, 'm.safetensors'), out: join(dir, 'pics'), k: '-1' })).rejects.toThrow(/--k needs a whole number/);
        expect(await blendsCommand({ _: ['blends'], checkpoint: join(dir, 'm.safetensors'), out: join(dir, 'pics') })).toBe(0);
      } finally {
        process.stdout.write = write;
      }
      expect((await readdir(join(dir, 'pics'))).sort()).toEqual(['00-blends.0.weight.png', '01-blends.1.weight.png', '02-blends.10.weight.png', 'blends.png']);
      expect((await decode(new Uint8Array(await readFile(join(dir, 'pics', '02-blends.10.weight.png'))))).width).toBe(8 * blendCellSize(8));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
