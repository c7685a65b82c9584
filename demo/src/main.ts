// The demo page: settings, controls, live charts and blend pictures. All GPU work happens in worker.ts.
import { Charts, type Overlay, type XMode } from './charts.js';
import { exportFiles, importRun, runName, RunStore, type RunRecord } from './runs.js';
import { BlendView, type BlendViewMode } from './blends.js';
import { $, download, fatal, input, message, select, showProfile } from './ui.js';
import { estimateText } from './estimate.js';
import type { DatasetKind, Event, ModelSummary, PickedFile, Request, RunState, TrainSettings } from './protocol.js';

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: Request, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
const charts = new Charts($);
const blends = new BlendView($('blends'), $('blend-caption'), $('blend-legend'), $('blend-readout'));

// ---- settings --------------------------------------------------------------------------------------------
/** The model list comes from the library's registry, via the worker (keeps the models out of the page bundle). */
function setModels(names: string[]): void {
  const sel = select('model');
  const current = sel.value || 'sl-vgg16';
  sel.innerHTML = '';
  for (const name of names) {
    const o = document.createElement('option');
    o.value = name;
    o.textContent = name;
    sel.append(o);
  }
  sel.value = names.includes(current) ? current : names[0];
  input('width').disabled = isBaseline();
}

function num(id: string, what: string, min: number, integer = true): number {
  const v = Number(input(id).value);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) throw new Error(`${what} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got '${input(id).value}'`);
  return v;
}

function settings(): TrainSettings {
  return {
    model: select('model').value,
    width: num('width', 'Width n', 1),
    dataset: select('dataset').value as DatasetKind,
    batchSize: num('batch', 'Batch size', 1),
    lr: num('lr', 'Learning rate', 0, false),
    epochs: num('epochs', 'Epochs', 1),
    momentum: num('momentum', 'Momentum', 0, false),
    weightDecay: num('wd', 'Weight decay', 0, false),
    schedule: select('schedule').value as TrainSettings['schedule'],
    seed: num('seed', 'Seed', 0),
    maxStepsPerEpoch: num('max-steps', 'Steps / epoch', 0),
    maxEvalImages: num('max-eval', 'Test images', 0),
    blendEvery: num('blend-every', 'Blends every', 1),
  };
}

const isBaseline = () => !select('model').value.includes('-');

function describe(): void {
  input('width').disabled = isBaseline();
  try {
    send({ type: 'describe', model: select('model').value, width: isBaseline() ? 1 : num('width', 'Width n', 1), dataset: select('dataset').value as DatasetKind });
  } catch (e) {
    message('warn', (e as Error).message);
  }
}

function showDatasetPickers(): void {
  const kind = select('dataset').value;
  $('cifar-pick').hidden = kind !== 'cifar10' && kind !== 'cifar100';
  $('tiny-pick').hidden = kind !== 'tinyimagenet';
  $('dataset-info').textContent = '';
  if (kind === 'mnist') send({ type: 'dataset', kind: 'mnist', files: [] });
  else $('dataset-info').textContent = 'Choose the files below.';
}

function picked(files: FileList | null): PickedFile[] {
  return [...(files ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

select('model').onchange = describe;
input('width').onchange = describe;
select('dataset').onchange = () => {
  showDatasetPickers();
  describe();
};
input('cifar-files').onchange = () => send({ type: 'dataset', kind: select('dataset').value as DatasetKind, files: picked(input('cifar-files').files) });
input('tiny-folder').onchange = () =>
  send({ type: 'dataset', kind: 'tinyimagenet', files: picked(input('tiny-folder').files).filter((f) => /\.(jpe?g|txt)$/i.test(f.path)), maxPerClass: Number(input('tiny-max').value) || undefined });

// ---- controls --------------------------------------------------------------------------------------------
let state: RunState = 'idle';
/** Every step this session (the browser tests read it through window.onelayerDemo). */
const history: { totalSteps: number; globalStep: number; epoch: number; step: number; loss: number; stepImagesPerSecond: number | null; wallSeconds: number }[] = [];
let hasModel = false;
let software = false;
let datasetName = '';
let probe: Extract<Event, { type: 'estimate' }> | null = null;
let estimating = false;
let ready = false;
let profiling = false;
let trace: string | null = null;

function setButtons(): void {
  const busy = state === 'training' || state === 'pausing' || state === 'preparing' || state === 'recovering';
  input('start').disabled = !ready || busy || state === 'paused';
  input('pause').disabled = state !== 'training';
  input('resume').disabled = state !== 'paused';
  input('stop').disabled = !(state === 'training' || state === 'paused' || state === 'pausing');
  input('download').disabled = !hasModel || state === 'recovering';
  input('eval').disabled = !hasModel || busy;
  input('profile').disabled = profiling || !(state === 'training' || state === 'paused' || state === 'pausing');
  input('profile-trace').disabled = trace === null;
  input('estimate').disabled = !ready || busy || state === 'paused' || estimating;
}

function showEstimate(): void {
  let s: TrainSettings | null = null;
  try {
    s = settings();
  } catch {
    // Invalid settings: the estimate says it does not apply.
  }
  const e = estimateText(probe, s, datasetName, software);
  $('estimate-info').textContent = e.text;
  $('estimate-info').classList.toggle('warn', e.slow);
}
for (const id of ['model', 'width', 'dataset', 'batch', 'epochs', 'max-steps']) $(id).addEventListener('change', showEstimate);

$('start').onclick = () => {
  let s: TrainSettings;
  try {
    s = settings();
  } catch (e) {
    message('error', (e as Error).message);
    return;
  }
  send({ type: 'start', settings: s });
};
$('estimate').onclick = () => {
  try {
    send({ type: 'estimate', settings: settings() });
    estimating = true;
    $('estimate-info').textContent = 'Estimating…';
    setButtons();
  } catch (e) {
    message('error', (e as Error).message);
  }
};
$('pause').onclick = () => send({ type: 'pause' });
$('resume').onclick = () => send({ type: 'resume' });
$('stop').onclick = () => send({ type: 'stop' });
$('download').onclick = () => send({ type: 'download' });
$('eval').onclick = () => send({ type: 'eval', maxImages: Number(input('max-eval').value) || 0 });
$('profile').onclick = () => {
  let steps: number;
  try {
    steps = num('profile-steps', 'Profile steps', 1);
  } catch (e) {
    message('error', (e as Error).message);
    return;
  }
  profiling = true;
  $('profile-info').textContent = `Profiling the next ${steps} training steps…`;
  send({ type: 'profile', steps });
  setButtons();
};
$('profile-trace').onclick = () => {
  if (trace) download('onelayer-profile.trace.json', new TextEncoder().encode(trace));
};
// A file input cannot be styled as a button and stay reachable by Tab: a real button opens the hidden picker.
$('load-button').onclick = () => input('load').click();
select('chart-x').onchange = () => charts.setMode(select('chart-x').value as XMode);
input('chart-smooth').oninput = () => {
  charts.setSmoothing(Number(input('chart-smooth').value));
  $('chart-smooth-value').textContent = Number(input('chart-smooth').value).toFixed(2);
};
input('chart-log').onchange = () => charts.setLogY(input('chart-log').checked);
$('chart-reset').onclick = () => charts.resetZoom();
select('blend-view').onchange = () => {
  blends.mode = select('blend-view').value as BlendViewMode;
  blends.draw();
};
input('blend-shared').onchange = () => {
  blends.shared = input('blend-shared').checked;
  blends.draw();
};
input('blend-k').onchange = () => {
  const k = Number(input('blend-k').value);
  blends.k = input('blend-k').value === '' || !(Number.isInteger(k) && k >= 1) ? null : k;
  blends.draw();
};
input('load').onchange = async () => {
  const f = input('load').files?.[0];
  if (!f) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  input('load').value = '';
  send({ type: 'load', name: f.name, bytes }, [bytes.buffer]);
};

// ---- display ---------------------------------------------------------------------------------------------
const fmt = (v: number, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '–');

function showSummary(s: { parameters: number; compression: number }): void {
  $('params').textContent = s.parameters.toLocaleString('en-US');
  $('compression').textContent = s.compression >= 100 ? `${s.compression.toFixed(0)}×` : `${s.compression.toFixed(2)}×`;
}

function showModel(s: ModelSummary): void {
  hasModel = true;
  showSummary(s);
  $('epoch').textContent = String(s.epoch);
  if (s.blendLayers === 0) $('blends').innerHTML = '<p class="hint">This model has no blends (only SL models do).</p>';
}

/** Between runs every number on the tiles belongs to the previous model: blank them (the Test acc tile too). */
function clearTiles(): void {
  for (const id of ['epoch', 'step', 'loss', 'train-acc', 'test-acc', 'ips']) $(id).textContent = '–';
  ($('progress-bar') as HTMLDivElement).style.width = '0';
}

/** A status line for every state, so a line about something finished ("Reading cifar10…") never outlives it. */
const STATUS: Record<RunState, string> = {
  idle: '',
  preparing: 'Preparing…',
  training: 'Training…',
  pausing: 'Pausing after the current step…',
  paused: 'Paused. Resume continues with the next step of this epoch.',
  stopped: 'Stopped.',
  done: 'Training finished.',
  recovering: 'Replacing the GPU device…',
};

worker.onmessage = (e: MessageEvent<Event>) => {
  const m = e.data;
  switch (m.type) {
    case 'models':
      setModels(m.names);
      break;
    case 'ready':
      ready = true;
      software = m.software;
      $('adapter').textContent = `WebGPU: ${m.adapter}${m.software ? ' (software adapter: slow; keep models small)' : ''}`;
      describe();
      break;
    case 'state':
      state = m.state;
      $('state').textContent = m.state;
      $('status').textContent = m.message ?? STATUS[m.state];
      break;
    case 'run':
      clearTiles();
      charts.clear();
      if (m.fresh) blends.restart();
      startRecord(m);
      break;
    case 'final':
      void finishRecord(m);
      break;
    case 'rewind':
      charts.rewind(m.globalStep);
      break;
    case 'notice':
      message('info', m.message, true);
      break;
    case 'estimate':
      estimating = false;
      probe = m;
      showEstimate();
      break;
    case 'dataset':
      datasetName = m.name;
      showEstimate();
      $('dataset-info').textContent = `${m.name}: ${m.train.toLocaleString('en-US')} train / ${m.test.toLocaleString('en-US')} test, ${m.classes} classes, ${m.channels}×${m.size}×${m.size}`;
      break;
    case 'describe':
      if (m.model === select('model').value) showSummary(m);
      break;
    case 'model':
      showModel(m.summary);
      break;
    case 'loaded':
      showModel(m.summary);
      clearTiles();
      charts.clear();
      blends.restart();
      select('model').value = m.summary.name;
      if (m.summary.width !== null) input('width').value = String(m.summary.width);
      message('info', `Loaded ${m.name}.`);
      break;
    case 'progress':
      $('epoch').textContent = `${m.epoch + 1} / ${m.epochs}`;
      $('step').textContent = `${m.step} / ${m.steps}`;
      $('step').dataset.total = String(m.totalSteps);
      $('loss').textContent = fmt(m.epochLoss);
      $('train-acc').textContent = pct(m.acc);
      if (m.stepImagesPerSecond !== null) $('ips').textContent = m.stepImagesPerSecond.toFixed(1);
      ($('progress-bar') as HTMLDivElement).style.width = `${(100 * (m.epoch + m.step / m.steps)) / m.epochs}%`;
      $('status').textContent = `epoch ${m.epoch + 1}, step ${m.step}/${m.steps}: loss ${fmt(m.loss)} (epoch mean ${fmt(m.epochLoss)}), lr ${m.lr.toPrecision(3)}`;
      charts.progress(m);
      history.push({ totalSteps: m.totalSteps, globalStep: m.globalStep, epoch: m.epoch, step: m.step, loss: m.loss, stepImagesPerSecond: m.stepImagesPerSecond, wallSeconds: m.wallSeconds });
      break;
    case 'epoch':
      $('test-acc').textContent = pct(m.testAccuracy);
      $('status').textContent = `epoch ${m.epoch}: train loss ${fmt(m.trainLoss)}, acc ${pct(m.trainAccuracy)} | test loss ${fmt(m.testLoss)}, acc ${pct(m.testAccuracy)} | ${m.imagesPerSecond.toFixed(1)} img/s, ${m.seconds.toFixed(1)} s`;
      charts.epoch(m);
      if (current) {
        current.metrics.push({ epoch: m.epoch, trainLoss: m.trainLoss, trainAccuracy: m.trainAccuracy, testLoss: m.testLoss, testAccuracy: m.testAccuracy, lr: m.lr, imagesPerSecond: m.imagesPerSecond, seconds: m.seconds, time: m.time });
        current.steps.push(m.globalStep);
        current.wallSeconds = history.at(-1)?.wallSeconds ?? null;
        void saveRecord(current);
      }
      break;
    case 'blends':
      blends.show(m.layers, m.step);
      break;
    case 'checkpoint':
      download(m.name, m.bytes as Uint8Array<ArrayBuffer>);
      break;
    case 'eval':
      $('test-acc').textContent = pct(m.accuracy);
      message('info', `Evaluation on ${m.images.toLocaleString('en-US')} test images: loss ${fmt(m.loss)}, accuracy ${pct(m.accuracy)}.`);
      break;
    case 'log':
      $('status').textContent = m.message;
      break;
    case 'profile':
      profiling = false;
      trace = m.trace;
      showProfile(m);
      break;
    case 'error':
      if (estimating && m.kind !== 'profiler' && m.kind !== 'device-lost') estimating = false;
      if (m.kind === 'profiler') {
        profiling = false;
        $('profile-info').textContent = m.message;
      }
      if (m.kind === 'webgpu') fatal(m.message);
      else if (m.kind === 'device-lost') message('warn', m.message, true, 'device');
      else message('error', m.message);
      break;
  }
  setButtons();
};
// ---- runs kept in IndexedDB ------------------------------------------------------------------------------
/** The Runs section, before the GPU profile (built here: the page's HTML stays the settings, charts and blends). */
function runsSection(): void {
  const section = document.createElement('section');
  section.className = 'runs-section';
  section.innerHTML = `
    <h2>Runs <span class="hint">kept in this browser across reloads</span></h2>
    <div class="buttons">
      <button id="import-button" aria-describedby="runs-info">Import a run folder…</button>
      <input id="import-folder" type="file" webkitdirectory multiple hidden aria-label="Run folder to import (onelayer train --out, or an export)" />
    </div>
    <div class="table-scroll" tabindex="0" role="region" aria-label="Runs compared (scrolls sideways on narrow screens)">
      <table id="runs-table" class="profile">
        <thead><tr><th>overlay</th><th>run</th><th>model</th><th>n</th><th>parameters</th><th>C</th><th>test acc</th><th>best</th><th>epochs</th><th>wall time</th><th>status</th><th>files</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <p id="runs-info" class="hint">Every run on this page is kept here (settings, metrics.jsonl, last checkpoint with optimizer state). Tick overlay to draw a run's test loss and accuracy on the charts; Export writes metrics.jsonl, config.json and the checkpoint; Import reads a folder of <code>onelayer train --out</code> (or an export).</p>`;
  const profileSection = document.querySelector('.profile-section');
  if (profileSection) profileSection.before(section);
  else document.querySelector('.content')?.append(section);
}
runsSection();
const OVERLAY_COLORS = ['#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
let store: RunStore | null = null;
try {
  store = new RunStore();
} catch (e) {
  message('warn', `Runs cannot be kept in this browser (IndexedDB: ${(e as Error).message}).`);
}
let records: RunRecord[] = [];
/** The run in progress (its record is written at every epoch and at its end). */
let current: RunRecord | null = null;
const overlaid = new Set<string>();

function startRecord(m: Extract<Event, { type: 'run' }>): void {
  const s = m.summary;
  current = { id: `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`, source: 'page', status: 'running', started: m.started, model: s.name, width: s.width, dataset: s.dataset, parameters: s.parameters, compression: s.compression, config: m.config, metrics: [], steps: [], wallSeconds: 0, checkpoint: null };
  void saveRecord(current);
}

async function finishRecord(m: Extract<Event, { type: 'final' }>): Promise<void> {
  const r = current;
  if (!r) return;
  current = null;
  r.status = m.status;
  r.wallSeconds = m.wallSeconds;
  r.checkpoint = m.bytes;
  await saveRecord(r);
}

async function saveRecord(r: RunRecord): Promise<void> {
  if (!store) return;
  try {
    await store.put(r);
    await refreshRuns();
  } catch (e) {
    message('warn', `Could not keep the run in this browser: ${(e as Error).message}`);
  }
}

async function refreshRuns(): Promise<void> {
  if (!store) return;
  records = await store.list();
  renderRuns();
}

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  td.title = text;
  return td;
}

function renderRuns(): void {
  const body = $('runs-table').querySelector('tbody')!;
  body.innerHTML = '';
  for (const r of records) {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    if (r.id === current?.id) tr.className = 'current';
    const name = runName(r);
    const last = r.metrics.at(-1);
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = overlaid.has(r.id);
    box.disabled = r.metrics.length === 0;
    box.setAttribute('aria-label', `Overlay ${name} on the charts`);
    box.onchange = () => {
      if (box.checked) overlaid.add(r.id);
      else overlaid.delete(r.id);
      showOverlays();
    };
    const first = document.createElement('td');
    first.append(box);
    const files = document.createElement('td');
    const exp = document.createElement('button');
    exp.textContent = 'Export';
    exp.setAttribute('aria-label', `Export ${name}: metrics.jsonl, config.json and the checkpoint`);
    exp.onclick = () => exportRun(r);
    const del = document.createElement('button');
    del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete ${name} from this browser`);
    del.disabled = r.id === current?.id;
    del.onclick = () => void deleteRun(r);
    files.append(exp, ' ', del);
    const best = r.metrics.length ? Math.max(...r.metrics.map((x) => x.testAccuracy)) : NaN;
    const c = r.compression;
    tr.append(
      first,
      cell(name),
      cell(r.model),
      cell(r.width === null ? '–' : String(r.width)),
      cell(r.parameters === null ? '–' : r.parameters.toLocaleString('en-US')),
      cell(c === null ? '–' : c >= 100 ? `${c.toFixed(0)}×` : `${c.toFixed(2)}×`),
      cell(last ? pct(last.testAccuracy) : '–'),
      cell(pct(best)),
      cell(String(r.metrics.length)),
      cell(r.wallSeconds === null ? '–' : `${r.wallSeconds.toFixed(1)} s`),
      cell(r.status),
      files,
    );
    body.append(tr);
  }
}

function showOverlays(): void {
  const list: Overlay[] = [];
  records.filter((r) => overlaid.has(r.id)).forEach((r, i) => {
    let wall = 0;
    list.push({
      label: runName(r),
      color: OVERLAY_COLORS[i % OVERLAY_COLORS.length],
      x: { step: r.steps, epoch: r.metrics.map((x) => x.epoch), wall: r.metrics.map((x) => (wall += x.seconds)) },
      testLoss: r.metrics.map((x) => x.testLoss),
      testAccuracy: r.metrics.map((x) => x.testAccuracy),
    });
  });
  charts.setOverlays(list);
}

function exportRun(r: RunRecord): void {
  for (const f of exportFiles(r)) download(f.name, f.bytes as Uint8Array<ArrayBuffer>);
  if (!r.checkpoint) message('info', `${runName(r)} has no checkpoint (it ended before one was written): exported metrics.jsonl and config.json.`);
}

async function deleteRun(r: RunRecord): Promise<void> {
  if (!store) return;
  await store.delete(r.id);
  overlaid.delete(r.id);
  await refreshRuns();
  showOverlays();
}

$('import-button').onclick = () => input('import-folder').click();
input('import-folder').onchange = async () => {
  const files = [...(input('import-folder').files ?? [])];
  input('import-folder').value = '';
  if (!files.length) return;
  try {
    const r = await importRun(files);
    await saveRecord(r);
    message('info', `Imported ${runName(r)}: ${r.metrics.length} epochs${r.checkpoint ? ', with its checkpoint' : ''}.`);
  } catch (e) {
    message('error', (e as Error).message);
  }
};
/** At load no run is in progress: a record still 'running' belongs to a page that was closed or reloaded mid-run. */
async function loadRuns(): Promise<void> {
  if (!store) return;
  for (const r of await store.list()) {
    if (r.status !== 'running') continue;
    r.status = 'interrupted';
    await store.put(r);
  }
  await refreshRuns();
}
void loadRuns().catch((e: Error) => message('warn', `Could not read the runs kept in this browser: ${e.message}`));

// Leaving mid-run would lose the run (it lives in the worker's memory): the browser asks first.
window.addEventListener('beforeunload', (e) => {
  if (state === 'training' || state === 'pausing' || state === 'paused' || state === 'recovering') e.preventDefault();
});
worker.onerror = (e) => message('error', `The training worker failed to start: ${e.message || 'unknown error'} (see the console).`);

// Test hooks: the browser tests read state and trigger a device loss through these.
(window as unknown as { onelayerDemo: unknown }).onelayerDemo = {
  state: () => state,
  history: () => history.slice(),
  charts: () => charts.summary(),
  blendText: (i: number, row: number, col: number) => blends.cellText(i, row, col),
  loseDevice: () => send({ type: 'lose-device' }),
  runs: () => records.map((r) => ({ id: r.id, name: runName(r), status: r.status, source: r.source, epochs: r.metrics.length, checkpoint: r.checkpoint?.length ?? 0 })),
};

setButtons();
send({ type: 'init' });
showDatasetPickers();
