// The demo page: settings, controls, live charts and blend pictures. All GPU work happens in worker.ts.
import { Charts } from './charts.js';
import { blendK, drawBlend } from './blends.js';
import type { DatasetKind, Event, ModelSummary, PickedFile, Request, RunState, TrainSettings } from './protocol.js';
import type { KernelSummary } from '../../src/gpu/profiler.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo: #${id} is missing from index.html`);
  return el as T;
};
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: Request, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
const charts = new Charts($('chart-loss'), $('chart-acc'), $('chart-ips'));

// ---- messages -------------------------------------------------------------------------------------------
function message(kind: 'error' | 'warn' | 'info', text: string, sticky = kind === 'error'): void {
  const box = document.createElement('div');
  box.className = `msg ${kind}`;
  const span = document.createElement('span');
  span.textContent = text;
  const close = document.createElement('button');
  close.textContent = '×';
  close.title = 'Dismiss';
  close.onclick = () => box.remove();
  box.append(span, close);
  $('messages').append(box);
  if (!sticky) setTimeout(() => box.remove(), 8000);
}

function fatal(text: string): void {
  const el = $('fatal');
  el.hidden = false;
  el.innerHTML = '<h2>WebGPU is not available</h2>';
  const p = document.createElement('p');
  p.textContent = text;
  const how = document.createElement('p');
  how.textContent =
    'onelayer trains on the GPU through WebGPU. Use Chrome or Edge 113+ (or another browser with WebGPU enabled), open this page from https:// or http://localhost / http://127.0.0.1, and on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan. chrome://gpu shows whether WebGPU is blocked.';
  el.append(p, how);
  $('adapter').textContent = 'No WebGPU';
  for (const id of ['start', 'pause', 'resume', 'stop', 'download', 'eval', 'profile']) input(id).disabled = true;
}

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
/** Every step's loss this session (the browser tests read it through window.onelayerDemo). */
const history: { totalSteps: number; epoch: number; step: number; loss: number }[] = [];
let hasModel = false;
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
}

$('start').onclick = () => {
  let s: TrainSettings;
  try {
    s = settings();
  } catch (e) {
    message('error', (e as Error).message);
    return;
  }
  charts.clear();
  send({ type: 'start', settings: s });
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

function showBlends(layers: { name: string; n: number; weight: Float32Array }[], step: number): void {
  const box = $('blends');
  if (box.querySelectorAll('canvas').length !== layers.length) {
    box.innerHTML = '';
    layers.forEach((l, i) => {
      const fig = document.createElement('figure');
      const c = document.createElement('canvas');
      c.dataset.layer = l.name;
      const cap = document.createElement('figcaption');
      cap.textContent = `${i + 1}: ${l.name}`;
      fig.append(c, cap);
      box.append(fig);
    });
  }
  const canvases = box.querySelectorAll('canvas');
  layers.forEach((l, i) => drawBlend(canvases[i], l.weight, l.n));
  box.dataset.step = String(step);
  const k = layers.length ? blendK(layers[0].n) : 0;
  $('blend-caption').textContent = layers.length
    ? `— x: input channel, y: output channel; per row the ${k} smallest |w| blue, the ${k} largest red (after ${step} steps)`
    : '';
}

/** The top kernels by total GPU time; the full list is in the trace. */
function showProfile(m: { steps: number; dispatches: number; gpuMs: number; rows: KernelSummary[] }, top = 15): void {
  const body = $('profile-table').querySelector('tbody')!;
  body.innerHTML = '';
  for (const r of m.rows.slice(0, top)) {
    const tr = document.createElement('tr');
    for (const cell of [r.kernel, r.ops, String(r.count), r.totalMs.toFixed(2), r.meanUs.toFixed(1), r.gflops === null ? '–' : r.gflops.toFixed(2), `${(100 * r.share).toFixed(1)}%`]) {
      const td = document.createElement('td');
      td.textContent = cell;
      td.title = cell;
      tr.append(td);
    }
    body.append(tr);
  }
  $('profile-table').hidden = false;
  $('profile-caption').textContent = `— ${m.steps} steps, ${m.dispatches} dispatches, ${m.gpuMs.toFixed(1)} ms GPU time`;
  $('profile-info').textContent = `Top ${Math.min(top, m.rows.length)} of ${m.rows.length} kernels by total time. The Chrome trace opens in chrome://tracing or ui.perfetto.dev.`;
}

function download(name: string, bytes: Uint8Array<ArrayBuffer>): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

worker.onmessage = (e: MessageEvent<Event>) => {
  const m = e.data;
  switch (m.type) {
    case 'models':
      setModels(m.names);
      break;
    case 'ready':
      ready = true;
      $('adapter').textContent = `WebGPU: ${m.adapter}${m.software ? ' (software adapter: slow; keep models small)' : ''}`;
      describe();
      break;
    case 'state':
      state = m.state;
      $('state').textContent = m.state;
      if (m.message) $('status').textContent = m.message;
      else if (m.state === 'done') $('status').textContent = 'Training finished.';
      else if (m.state === 'paused') $('status').textContent = 'Paused. Resume continues training (an interrupted epoch restarts its pass over the data).';
      break;
    case 'dataset':
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
      charts.clear();
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
      $('ips').textContent = m.imagesPerSecond.toFixed(1);
      ($('progress-bar') as HTMLDivElement).style.width = `${(100 * (m.epoch + m.step / m.steps)) / m.epochs}%`;
      $('status').textContent = `epoch ${m.epoch + 1}, step ${m.step}/${m.steps}: loss ${fmt(m.loss)} (epoch mean ${fmt(m.epochLoss)}), lr ${m.lr.toPrecision(3)}`;
      charts.progress(m);
      history.push({ totalSteps: m.totalSteps, epoch: m.epoch, step: m.step, loss: m.loss });
      break;
    case 'epoch':
      $('test-acc').textContent = pct(m.testAccuracy);
      $('status').textContent = `epoch ${m.epoch}: train loss ${fmt(m.trainLoss)}, acc ${pct(m.trainAccuracy)} | test loss ${fmt(m.testLoss)}, acc ${pct(m.testAccuracy)} | ${m.imagesPerSecond.toFixed(1)} img/s, ${m.seconds.toFixed(1)} s`;
      charts.epoch(m);
      break;
    case 'blends':
      showBlends(m.layers, m.step);
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
      if (m.kind === 'profiler') {
        profiling = false;
        $('profile-info').textContent = m.message;
      }
      if (m.kind === 'webgpu') fatal(m.message);
      else message(m.kind === 'device-lost' ? 'warn' : 'error', m.message);
      break;
  }
  setButtons();
};
worker.onerror = (e) => message('error', `The training worker failed to start: ${e.message || 'unknown error'} (see the console).`);

// Test hooks: the browser tests read state and trigger a device loss through these.
(window as unknown as { onelayerDemo: unknown }).onelayerDemo = {
  state: () => state,
  history: () => history.slice(),
  loseDevice: () => send({ type: 'lose-device' }),
};

setButtons();
send({ type: 'init' });
showDatasetPickers();
