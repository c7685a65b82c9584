// The demo page: settings, controls, live charts and blend pictures. All GPU work happens in worker.ts.
import { Charts, type XMode } from './charts.js';
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
};

setButtons();
send({ type: 'init' });
showDatasetPickers();
