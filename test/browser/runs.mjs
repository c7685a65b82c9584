// Browser tests of the demo page, part 3: runs kept in IndexedDB across a reload, compared in a table, exported as
// metrics.jsonl + config.json + checkpoint, a CLI run folder imported and overlaid on the charts. Runs after
// checkpoints.mjs, whose runs (stopped, continued, finished) are the history these tests read.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors } from './checks.mjs';

const ROW_KEYS = ['epoch', 'trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'lr', 'imagesPerSecond', 'seconds', 'time'];

export async function runTests({ page, test, assert }) {
  const runs = () => page.evaluate(() => window.onelayerDemo.runs());
  const table = () => page.$$eval('#runs-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  let exported = null;

  await test('runs are kept across a reload and compared in a table: model, n, parameters, C, accuracy, wall time', async () => {
    const before = await runs();
    assert(before.length >= 3, `${before.length} runs kept: ${JSON.stringify(before)}`);
    assert(before.some((r) => r.status === 'completed' && r.checkpoint > 0 && r.epochs > 0), `no completed run with a checkpoint: ${JSON.stringify(before)}`);
    await page.reload();
    await page.waitForFunction(() => document.getElementById('adapter').textContent.startsWith('WebGPU:'), null, { timeout: 60_000 });
    await page.waitForFunction((n) => window.onelayerDemo.runs().length === n, before.length, { timeout: 30_000 });
    const after = await runs();
    assert(JSON.stringify(after) === JSON.stringify(before), `after the reload: ${JSON.stringify(after)}; before: ${JSON.stringify(before)}`);
    const headers = await page.$$eval('#runs-table thead th', (ths) => ths.map((t) => t.textContent));
    for (const name of ['model', 'n', 'parameters', 'C', 'test acc', 'wall time']) assert(headers.includes(name), `no '${name}' column: ${headers}`);
    const rows = await table();
    const sl = rows.find((r) => r[2] === 'sl-vgg16' && r[3] === '8' && /%$/.test(r[6]));
    assert(sl && sl[4] === '1,714' && /^\d+(\.\d+)?×$/.test(sl[5]) && /^\d+(\.\d+)? s$/.test(sl[9]), `sl-vgg16 n=8 row: ${JSON.stringify(sl ?? rows)}`);
    return `${after.length} runs before and after the reload; ${sl.slice(1, 10).join(' | ')}`;
  });

  await test('export a run: metrics.jsonl (the CLI rows), config.json and the checkpoint with optimizer state', async () => {
    const list = await runs();
    const i = list.findIndex((r) => r.status === 'completed' && r.checkpoint > 0 && r.epochs > 0);
    const files = [];
    const all = new Promise((resolve) => {
      const on = async (d) => {
        files.push({ name: d.suggestedFilename(), bytes: await readFile(await d.path()) });
        if (files.length === 3) {
          page.off('download', on);
          resolve();
        }
      };
      page.on('download', on);
    });
    await page.locator('#runs-table tbody tr').nth(i).locator('button', { hasText: 'Export' }).click();
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${files.length} of 3 files downloaded`)), 30_000))]);
    const by = (suffix) => files.find((f) => f.name.endsWith(suffix));
    const metrics = by('.metrics.jsonl');
    const config = by('.config.json');
    const ckpt = by('.checkpoint.safetensors');
    assert(metrics && config && ckpt, `downloads: ${files.map((f) => f.name)}`);
    const rows = metrics.bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert(rows.length === list[i].epochs && rows.every((r) => JSON.stringify(Object.keys(r)) === JSON.stringify(ROW_KEYS)), `metrics.jsonl rows: ${JSON.stringify(rows)}`);
    const cfg = JSON.parse(config.bytes.toString('utf8'));
    assert(cfg.config && typeof cfg.config.model === 'string' && cfg.config.batchSize > 0 && cfg.parameters > 0, `config.json: ${JSON.stringify(cfg)}`);
    const st = parseSafetensors(ckpt.bytes);
    const momentum = Object.keys(st.tensors).filter((n) => n.startsWith('optimizer.momentum.'));
    assert(momentum.length > 0 && JSON.parse(st.metadata.run).metrics.length === rows.length, `checkpoint: ${momentum.length} momentum tensors, metadata ${JSON.stringify(st.metadata).slice(0, 300)}`);
    exported = { rows, cfg, checkpoint: ckpt.bytes, metricsText: metrics.bytes };
    return `${files.map((f) => f.name.replace(/^.*?\.(?=[a-z]+\.[a-z]+$)/, '…')).join(', ')}: ${rows.length} rows, ${momentum.length} momentum tensors`;
  });

  await test('import a CLI run folder (metrics.jsonl, run.json, summary.json, checkpoint.safetensors) and overlay it on the charts', async () => {
    if (!exported) throw new Error('needs the export test');
    const dir = await mkdtemp(join(tmpdir(), 'onelayer-run-'));
    try {
      const { cfg } = exported;
      // What `onelayer train --out DIR` leaves.
      await writeFile(join(dir, 'metrics.jsonl'), exported.metricsText);
      await writeFile(join(dir, 'run.json'), JSON.stringify({ config: { ...cfg.config, model: 'sl-vgg16', width: 8 }, started: '2026-01-02T03:04:05.000Z' }));
      const last = exported.rows.at(-1);
      await writeFile(join(dir, 'summary.json'), JSON.stringify({ status: 'completed', model: 'sl-vgg16', width: 8, dataset: 'mnist', epochs: exported.rows.length, parameters: 1714, compression: 5000, testAccuracy: last.testAccuracy, wallSeconds: 12.5 }));
      await writeFile(join(dir, 'checkpoint.safetensors'), exported.checkpoint);
      const before = (await runs()).length;
      await page.setInputFiles('#import-folder', dir);
      await page.waitForFunction((n) => window.onelayerDemo.runs().length === n + 1, before, { timeout: 30_000 });
      const imported = (await runs()).find((r) => r.source === 'import');
      assert(imported && imported.epochs === exported.rows.length && imported.checkpoint === exported.checkpoint.length, `imported: ${JSON.stringify(imported)}`);
      const row = (await table()).find((r) => /imported/.test(r[1]));
      assert(row && row[4] === '1,714' && row[5] === '5000×' && row[9] === '12.5 s', `imported row: ${JSON.stringify(row)}`);
      const index = (await runs()).findIndex((r) => r.id === imported.id);
      await page.locator('#runs-table tbody tr').nth(index).locator('input[type=checkbox]').check();
      const labels = (await page.evaluate(() => window.onelayerDemo.charts())).flatMap((c) => c.labels);
      assert(labels.some((l) => /imported .*: testAccuracy$/.test(l)) && labels.some((l) => /imported .*: testLoss$/.test(l)), `chart series after overlay: ${labels.join(', ')}`);
      return `${imported.name}: ${imported.epochs} epochs overlaid (${labels.filter((l) => /imported/.test(l)).join(', ')})`;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
