// Browser tests of the demo page, part 1: loading, keyboard and accessible names, training, pause/resume, the
// profiler, the charts (uPlot), the blend pictures and the 390-px layout. Part 2 is checkpoints.mjs.
import { mkdir, readFile } from 'node:fs/promises';

/** Helpers over the demo page shared by both parts. */
export function pageHelpers(page) {
  const total = () => page.evaluate(() => window.onelayerDemo.history().at(-1)?.totalSteps ?? 0);
  return {
    total,
    history: () => page.evaluate(() => window.onelayerDemo.history()),
    waitSteps: (n, timeout = 120_000) => page.waitForFunction((k) => (window.onelayerDemo.history().at(-1)?.totalSteps ?? 0) >= k, n, { timeout }),
    state: () => page.evaluate(() => window.onelayerDemo.state()),
    waitState: (states, timeout = 120_000) => page.waitForFunction((s) => s.includes(window.onelayerDemo.state()), states, { timeout }),
    status: () => page.textContent('#status'),
    messages: (cls) => page.$$eval(`#messages .msg.${cls} span`, (els) => els.map((e) => e.textContent)),
    waitMessage: (cls, re, timeout = 60_000) =>
      page.waitForFunction(([c, src]) => [...document.querySelectorAll(`#messages .msg.${c} span`)].some((e) => new RegExp(src).test(e.textContent)), [cls, re.source], { timeout }),
    charts: () => page.evaluate(() => window.onelayerDemo.charts()),
  };
}

/** Controls with no accessible name (aria-label, aria-labelledby, a <label>, text content, title). */
function unnamedControls() {
  const name = (el) => {
    const by = el.getAttribute('aria-labelledby');
    const parts = [el.getAttribute('aria-label'), by && by.split(/\s+/).map((id) => document.getElementById(id)?.textContent).join(' '), ...[...(el.labels ?? [])].map((l) => l.textContent)];
    if (el.tagName === 'BUTTON') parts.push(el.textContent);
    parts.push(el.getAttribute('title'));
    return parts.filter((p) => p && p.trim()).join(' ').trim();
  };
  const controls = [...document.querySelectorAll('button, input, select, canvas, .chart, [role="img"], [tabindex]')];
  return controls.filter((el) => !name(el)).map((el) => el.id || `${el.tagName.toLowerCase()}.${el.className}`);
}

export async function appTests({ page, server, test, assert, shots }) {
  const h = pageHelpers(page);

  await test('demo loads: adapter, embedded MNIST, parameter count and C; no stale status line', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.getElementById('adapter').textContent.startsWith('WebGPU:'), null, { timeout: 60_000 });
    await page.waitForFunction(() => /mnist: 8,000 train/.test(document.getElementById('dataset-info').textContent), null, { timeout: 90_000 });
    await page.selectOption('#model', 'sl-vgg16');
    await page.fill('#width', '8');
    await page.dispatchEvent('#width', 'change');
    await page.waitForFunction(() => document.getElementById('params').textContent === '1,714', null, { timeout: 30_000 });
    const c = await page.textContent('#compression');
    assert(/^\d+×$/.test(c), `compression factor shown as '${c}'`);
    // The loader's "Loading the embedded MNIST digits…" must not outlive the load.
    const status = await h.status();
    assert(!/Loading|Reading|Preparing/.test(status), `stale status line after MNIST loaded: '${status}'`);
    return `sl-vgg16 n=8: 1,714 parameters, C = ${c}; status '${status}'`;
  });

  await test('keyboard: Tab reaches every control, Enter on Load… opens the file picker; every control and chart has a name', async () => {
    await page.focus('#model');
    const reached = new Set();
    for (let i = 0; i < 60; i++) {
      reached.add(await page.evaluate(() => document.activeElement?.id ?? ''));
      await page.keyboard.press('Tab');
    }
    const want = ['model', 'width', 'dataset', 'batch', 'lr', 'epochs', 'schedule', 'seed', 'blend-every', 'start', 'estimate', 'load-button', 'chart-x', 'chart-smooth', 'chart-log', 'chart-reset', 'blend-view', 'blend-shared', 'blend-k', 'profile-steps'];
    const missing = want.filter((id) => !reached.has(id));
    assert(missing.length === 0, `not reachable with Tab: ${missing.join(', ')}`);
    // Playwright turns on file-chooser interception when the first listener is added, asynchronously: listen,
    // let it settle, then press (a press that wins the race opens the native dialog and sends no event).
    const chosen = page.waitForEvent('filechooser', { timeout: 10_000 });
    await page.waitForTimeout(300);
    await page.focus('#load-button');
    await page.keyboard.press('Enter');
    const chooser = await chosen;
    assert(!chooser.isMultiple(), 'the checkpoint picker takes one file');
    const unnamed = await page.evaluate(unnamedControls);
    assert(unnamed.length === 0, `controls without an accessible name: ${unnamed.join(', ')}`);
    return `${want.length} controls reached by Tab; Enter on Load… opened the picker; all named`;
  });

  await test('estimate before Start: time and peak memory per step; a run of hours on a software adapter is flagged', async () => {
    await page.fill('#batch', '16');
    await page.fill('#epochs', '10');
    await page.fill('#max-steps', '20');
    await page.click('#estimate');
    await page.waitForFunction(() => /ms per step/.test(document.getElementById('estimate-info').textContent), null, { timeout: 180_000 });
    const text = await page.textContent('#estimate-info');
    const ms = Number(/≈ (\d+) ms per step/.exec(text)?.[1]);
    const mib = Number(/≈ ([\d.]+) MiB/.exec(text)?.[1]);
    assert(ms > 0 && mib > 0 && /20 steps × 10 epochs/.test(text), `estimate: '${text}'`);
    assert(!(await page.$('#estimate-info.warn')) || ms * 200 > 3_600_000, `a ${ms} ms × 200-step run is flagged as hours: '${text}'`);
    // The whole training set (8,000 / 16 = 500 steps) for 1,000 epochs: hours at any software speed.
    await page.fill('#max-steps', '0');
    await page.fill('#epochs', '1000');
    await page.dispatchEvent('#epochs', 'change');
    const slow = await page.textContent('#estimate-info');
    assert(/500 steps × 1000 epochs/.test(slow) && /hours on a software adapter/.test(slow) && (await page.$('#estimate-info.warn')), `no warning for 500,000 steps: '${slow}'`);
    return text;
  });

  await test('training runs in the worker and the page stays responsive', async () => {
    await page.fill('#batch', '16');
    await page.fill('#lr', '0.05');
    // More epochs than the tests need: training must still be running when the device-loss test starts, however
    // fast the steps are (compiled steps finished 3 epochs before it); the stop test ends the run.
    await page.fill('#epochs', '10');
    await page.fill('#max-steps', '20');
    await page.fill('#max-eval', '200');
    await page.fill('#blend-every', '5');
    await page.click('#start');
    await h.waitSteps(6, 180_000);
    let worst = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(1))));
      worst = Math.max(worst, Date.now() - t0);
      await page.waitForTimeout(200);
    }
    assert(worst < 1000, `the page took ${worst} ms to render a frame while training`);
    return `${await h.total()} steps so far; worst frame round trip ${worst} ms`;
  });

  await test('pause stops the steps; the message tells the truth: resume continues mid-epoch', async () => {
    await page.click('#pause');
    await h.waitState(['paused'], 60_000);
    const before = await h.history();
    const last = before.at(-1);
    await page.waitForTimeout(3000);
    assert((await h.total()) === last.totalSteps, `steps advanced while paused: ${last.totalSteps} → ${await h.total()}`);
    const asks = await page.evaluate(() => {
      const e = new Event('beforeunload', { cancelable: true });
      window.dispatchEvent(e);
      return e.defaultPrevented;
    });
    assert(asks, 'leaving the page mid-run does not ask first');
    const status = await h.status();
    assert(/continues with the next step/.test(status) && !/restart/.test(status), `pause message: '${status}'`);
    const where = last.step === 20 ? `end of epoch ${last.epoch + 1}` : `epoch ${last.epoch + 1}, step ${last.step} `;
    assert(status.includes(where), `pause message does not say where it paused (${where}): '${status}'`);
    await page.click('#resume');
    await h.waitSteps(last.totalSteps + 3, 60_000);
    const next = (await h.history())[before.length];
    // What the message promised: the next step of the same epoch (unless the pause fell on the epoch's last step).
    const expected = last.step === 20 ? { epoch: last.epoch + 1, step: 1 } : { epoch: last.epoch, step: last.step + 1 };
    assert(next.epoch === expected.epoch && next.step === expected.step, `after resume: epoch ${next.epoch} step ${next.step}, expected ${JSON.stringify(expected)}`);
    return `paused at epoch ${last.epoch + 1} step ${last.step}; resumed at step ${next.step}`;
  });

  await test('profile 2 training steps: kernel table and Chrome trace', async () => {
    if ((await h.state()) !== 'training') throw new Error(`state is ${await h.state()}, expected training`);
    await page.fill('#profile-steps', '2');
    await page.click('#profile');
    await page.waitForFunction(() => document.querySelectorAll('#profile-table tbody tr').length > 0 || !/^Profiling/.test(document.getElementById('profile-info').textContent), null, { timeout: 120_000 });
    const rows = await page.$$eval('#profile-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert(rows.length > 0, `no profile rows: ${await page.textContent('#profile-info')}`);
    assert(rows.every((r) => r.length === 7 && Number(r[2]) >= 1 && Number(r[3]) >= 0), `malformed rows: ${JSON.stringify(rows.slice(0, 3))}`);
    const caption = await page.textContent('#profile-caption');
    const dispatches = Number(/(\d+) dispatches/.exec(caption)?.[1]);
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#profile-trace')]);
    const trace = JSON.parse(await readFile(await download.path(), 'utf8'));
    const events = trace.traceEvents.filter((e) => e.ph === 'X').length;
    assert(events === dispatches, `trace has ${events} 'X' events, caption says ${dispatches} dispatches`);
    return `${caption.replace(/^— /, '')}; top kernel ${rows[0][0]} (${rows[0][6]})`;
  });

  await test('the loss falls', async () => {
    await page.waitForFunction(() => window.onelayerDemo.history().some((x) => x.epoch === 2), null, { timeout: 180_000 });
    const hist = await h.history();
    const mean = (a) => a.reduce((s, x) => s + x.loss, 0) / a.length;
    const first = mean(hist.slice(0, 8));
    const last = mean(hist.filter((x) => x.epoch === 1).slice(-8));
    assert(Number.isFinite(first) && Number.isFinite(last), `non-finite losses: ${first}, ${last}`);
    assert(last < first - 0.05, `loss did not fall: first 8 steps ${first.toFixed(4)}, last 8 of epoch 2 ${last.toFixed(4)}`);
    return `mean step loss ${first.toFixed(3)} → ${last.toFixed(3)}; test accuracy after epoch 2: ${await page.textContent('#test-acc')}`;
  });

  await test('charts: metrics.jsonl names, labelled axes, per-step throughput without compilation, log y, hover read-out, zoom, x as epoch', async () => {
    const charts = await h.charts();
    assert(charts.length === 4, `${charts.length} charts`);
    for (const c of charts) {
      assert(c.points > 10, `${c.id}: ${c.points} points`);
      assert(c.xLabel.startsWith('global step') && c.yLabel.length > 3, `${c.id}: axes '${c.xLabel}' / '${c.yLabel}'`);
    }
    const labels = charts.flatMap((c) => c.labels).join(',');
    for (const name of ['trainLoss', 'testLoss', 'trainAccuracy', 'testAccuracy', 'lr', 'imagesPerSecond', 'loss (EMA)']) assert(labels.includes(name), `no series '${name}' in ${labels}`);
    // Throughput per step: the first step of every epoch (it records/compiles the step) has none; the others are
    // batch / time since the previous step, not a mean since the epoch began.
    const hist = await h.history();
    const firsts = hist.filter((x) => x.step === 1);
    assert(firsts.length > 1 && firsts.every((x) => x.stepImagesPerSecond === null), `first steps of epochs carry a throughput: ${JSON.stringify(firsts.slice(0, 3))}`);
    let checked = 0;
    for (let i = 1; i < hist.length; i++) {
      const a = hist[i - 1];
      const b = hist[i];
      if (b.stepImagesPerSecond === null || b.totalSteps !== a.totalSteps + 1 || b.wallSeconds - a.wallSeconds < 0.05) continue;
      const own = 16 / (b.wallSeconds - a.wallSeconds);
      assert(Math.abs(b.stepImagesPerSecond - own) / own < 0.25, `step ${b.globalStep}: ${b.stepImagesPerSecond.toFixed(1)} images/s, its own step time gives ${own.toFixed(1)}`);
      checked++;
    }
    assert(checked > 5, `only ${checked} steps could be checked`);
    assert(charts[0].logY, 'the loss axis is not logarithmic by default');
    await page.uncheck('#chart-log');
    assert(!(await h.charts())[0].logY, 'unchecking log-scale loss did not make the loss axis linear');
    await page.check('#chart-log');
    assert((await h.charts())[0].logY, 'log-scale loss switch did not make the loss axis logarithmic');
    const over = await page.$('#chart-loss .u-over');
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    const readout = await page.$$eval('#chart-loss .u-legend .u-value', (els) => els.map((e) => e.textContent));
    assert(readout.some((v) => /\d/.test(v)), `no hover read-out: ${JSON.stringify(readout)}`);
    const full = (await h.charts())[0];
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const zoomed = (await h.charts())[0];
    assert(zoomed.xMax - zoomed.xMin < 0.7 * (full.xMax - full.xMin), `drag did not zoom: [${full.xMin}, ${full.xMax}] → [${zoomed.xMin}, ${zoomed.xMax}]`);
    await page.click('#chart-reset');
    await page.selectOption('#chart-x', 'epoch');
    const byEpoch = (await h.charts())[0];
    assert(byEpoch.xLabel === 'epoch' && byEpoch.xMax < 10, `x as epoch: '${byEpoch.xLabel}', max ${byEpoch.xMax}`);
    await page.selectOption('#chart-x', 'step');
    return `${charts.map((c) => `${c.id} ${c.points}`).join(', ')}; ${checked} per-step throughputs match their step times; zoom [${zoomed.xMin.toFixed(0)}, ${zoomed.xMax.toFixed(0)}]`;
  });

  await test('blend pictures: the library drawing, colour bar, value under the pointer, change since initialisation', async () => {
    await page.waitForFunction(() => Number(document.getElementById('blends').dataset.step) > 0, null, { timeout: 60_000 });
    const count = (cs) =>
      cs.map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let red = 0;
        let blue = 0;
        let grey = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] > 180 && d[i + 2] < 80) red++;
          else if (d[i + 2] > 150 && d[i] < 80) blue++;
          else if (d[i] > 220 && d[i + 1] > 220 && d[i + 2] > 220) grey++;
        }
        return { w: c.width, red, blue, grey };
      });
    const blends = await page.$$eval('#blends canvas', count);
    assert(blends.length === 13, `${blends.length} blend pictures, 13 expected for SL-VGG-16`);
    // n = 8: k = 1 per row, so 8 red, 8 blue and 48 grey cells (k = n/2 left no grey at all).
    const wrong = blends.filter((b) => b.w !== 8 || b.red !== 8 || b.blue !== 8 || b.grey !== 48);
    assert(wrong.length === 0, `top-k pictures: ${JSON.stringify(wrong.slice(0, 2))}`);
    assert(/k = 1 for n = 8/.test(await page.textContent('#blend-caption')), `caption does not say k: ${await page.textContent('#blend-caption')}`);
    await page.selectOption('#blend-view', 'change');
    assert(await page.$('#blend-legend canvas.colourbar'), 'no colour bar in the change view');
    const captions = await page.$$eval('#blends figcaption', (els) => els.map((e) => e.textContent));
    assert(captions.every((t) => /, ±\d/.test(t)), `per-layer scales not in the captions: ${captions.slice(0, 2)}`);
    const unnamed = await page.evaluate(unnamedControls);
    assert(unnamed.length === 0, `controls or pictures without an accessible name: ${unnamed.join(', ')}`);
    const first = await page.$('#blends canvas');
    await first.scrollIntoViewIfNeeded();
    const c = await first.boundingBox();
    await page.mouse.move(c.x + c.width * 0.9, c.y + c.height * 0.1);
    const readout = await page.textContent('#blend-readout');
    assert(/\[out 0, in 7\]: w = -?\d.*w − w₀ = -?\d/.test(readout), `pointer read-out: '${readout}'`);
    await page.focus('#blends canvas');
    for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown']) await page.keyboard.press(key);
    const byKey = await page.textContent('#blend-readout');
    assert(/\[out 1, in 2\]: w = /.test(byKey), `keyboard read-out after →→↓: '${byKey}'`);
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/demo.png`, fullPage: true });
    await page.selectOption('#blend-view', 'topk');
    return `13 blends (8 red, 8 blue, 48 grey each); read-out '${readout}'; screenshot test/browser/screenshots/demo.png`;
  });

  await test('390-px layout: nothing overflows horizontally (profile table included)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(600);
    const wide = await page.evaluate(() => {
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.width && r.right > window.innerWidth + 1 && !el.closest('.table-scroll')) out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} right ${Math.round(r.right)}`);
      }
      return { scroll: document.documentElement.scrollWidth, out: out.slice(0, 5) };
    });
    await page.screenshot({ path: `${shots}/demo-390.png`, fullPage: true });
    await page.setViewportSize({ width: 1400, height: 1000 });
    assert(wide.scroll <= 390 && wide.out.length === 0, `page is ${wide.scroll} px wide at 390: ${wide.out.join('; ')}`);
    return `scrollWidth ${wide.scroll}; screenshot test/browser/screenshots/demo-390.png`;
  });
}
