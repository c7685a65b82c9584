// The training worker: a message adapter around the library's run loop (src/train/loop.ts), the SAME loop the CLI
// drives, so the page stays responsive. Requests become RunLoop / RunControl calls, loop events become messages.
// The loop checkpoints into memory (before the first step and after every epoch): what device-loss recovery restores.
import { WebGPUUnavailableError } from '../../src/device/index.js';
import { compressionFactor, MODEL_NAMES, type Model } from '../../src/models/index.js';
import { Blend } from '../../src/nn/layers.js';
import { evaluateModel } from '../../src/train/trainer.js';
import { MemoryCheckpointStore, RunControl, RunLoop, type RunEvent } from '../../src/train/loop.js';
import { modelFromCheckpoint, type RestoredModel } from '../../src/train/restore.js';
import { BatchLoader } from '../../src/data/loader.js';
import { DatasetError, type Dataset } from '../../src/data/types.js';
import { DATASET_NAMES, loadDataset } from './datasets.js';
import { describeLoaded, pageModelCheckpoint, position, type PageCheckpointInfo } from './worker-checkpoint.js';
import { WorkerDevice } from './worker-device.js';
import { StepProfiler } from './worker-profile.js';
import { checkCompatible, describeModel, loopConfig, probeStep } from './worker-probe.js';
import type { ErrorKind, Event, ModelSummary, Request, RunState, TrainSettings } from './protocol.js';

const scope = self as unknown as { postMessage(m: Event, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<Request>) => void) | null };
const post = (m: Event, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let dataset: Dataset | null = null;
let settings: TrainSettings | null = null;
/** The run (model, optimizer, position) of the last Start, kept after it ends for Download, Evaluate and blends. */
let loop: RunLoop | null = null;
let control: RunControl | null = null;
/** A checkpoint loaded by the user that the next Start continues from, and its file (what a device loss reloads). */
let loaded: RestoredModel | null = null;
let loadedFile: { bytes: Uint8Array; name: string } | null = null;
/** The loop's checkpoints: the latest is what device-loss recovery restores. */
const memory = new MemoryCheckpointStore();
let state: RunState = 'idle';
let running = false;
/** Optimizer steps this session (never goes back). */
let totalSteps = 0;
let blendBusy = false;
/** performance.now() at Start: the charts' wall-time axis. */
let runStarted = 0;
const profile = new StepProfiler((m) => post(m));
const gpu = new WorkerDevice(post, () => {
  // Idle: nothing will notice the loss by failing, so recover now. Paused: end the loop, which then recovers.
  if (!running) void recover();
  else if (control?.pauseRequested) control.stop();
});
const fail = (kind: ErrorKind, e: unknown) => gpu.fail(kind, e);

const log = (message: string) => post({ type: 'log', message });
const model = (): Model | null => loop?.model ?? loaded?.model ?? null;

function setState(s: RunState, message?: string): void {
  state = s;
  post({ type: 'state', state: s, message });
}

function summary(): ModelSummary {
  const m = model()!;
  return {
    name: m.name,
    width: m.config.width,
    parameters: m.numParameters(),
    compression: compressionFactor(m),
    blendLayers: blendModules().length,
    dataset: dataset?.name ?? '',
    epoch: loop?.trainer.epoch ?? loaded?.info.epoch ?? 0,
    globalStep: loop?.trainer.globalStep ?? loaded?.info.globalStep ?? 0,
  };
}

/** What a download says about the model: where its run stands, in the epoch too. */
function checkpointInfo(): PageCheckpointInfo {
  if (loop) return { ...loop.info(), epochStep: loop.epochStep };
  if (loaded) return { ...loaded.info, epochStep: loaded.epochStep };
  throw new Error('No model yet: start training or load a checkpoint first.');
}

/** The SL blends in order of appearance (registration order is the order of use). */
function blendModules(): [string, Blend][] {
  return model()?.namedModules().filter((e): e is [string, Blend] => e[1] instanceof Blend) ?? [];
}

async function sendBlends(): Promise<void> {
  const blends = blendModules();
  if (!blends.length || blendBusy) return;
  blendBusy = true;
  try {
    // All copies in one submission, then one wait: sequential reads would each queue behind a training step.
    const weights = await Promise.all(blends.map(([, b]) => b.weight.toArray()));
    const layers = blends.map(([name, b], i) => ({ name, n: b.n, weight: weights[i] }));
    post({ type: 'blends', step: totalSteps, layers }, layers.map((l) => l.weight.buffer));
  } finally {
    blendBusy = false;
  }
}

/** Loop events as page messages. */
function onEvent(e: RunEvent): void {
  switch (e.type) {
    case 'phase':
      // The profiler times training steps only: evaluation and checkpoints between epochs are not steps.
      if (e.phase === 'train') profile.epochStart();
      else profile.epochEnd();
      return;
    case 'step':
      totalSteps++;
      post({ type: 'progress', epoch: e.epoch, epochs: e.epochs, step: e.step, steps: e.steps, totalSteps, globalStep: e.globalStep, loss: e.loss, epochLoss: e.epochLoss, accuracy: e.accuracy, acc: e.epochAccuracy, imagesPerSecond: e.epochImagesPerSecond, stepImagesPerSecond: e.imagesPerSecond, wallSeconds: (performance.now() - runStarted) / 1000, lr: e.lr });
      if (totalSteps % Math.max(1, settings!.blendEvery) === 0) void sendBlends().catch(() => undefined);
      if (profile.step()) void profile.finish(model()?.name ?? 'onelayer');
      return;
    case 'epoch':
      return post({ type: 'epoch', globalStep: e.globalStep, ...e.metrics });
    case 'checkpoint':
      return void sendBlends().catch(() => undefined);
    case 'paused':
      profile.epochEnd();
      return setState('paused', `Paused at ${position(e, e.epochStep)}. Resume continues with the next step of this epoch.`);
    case 'resumed':
      return setState('training', 'Training…');
    case 'end':
      return profile.epochEnd();
  }
}

function newLoop(s: TrainSettings, ds: Dataset, restored: RestoredModel | null, checkpointAtStart: boolean): RunLoop {
  control = new RunControl();
  try {
    return new RunLoop({ config: loopConfig(s), dataset: ds, restored, store: memory, control, onEvent, checkpointAtStart });
  } catch (e) {
    restored?.model.dispose();
    throw e;
  }
}

/** The dataset the settings name: the embedded MNIST digits are loaded on demand, the others must be chosen first. */
async function datasetFor(kind: TrainSettings['dataset'] | undefined): Promise<Dataset> {
  if (dataset && (!kind || dataset.name === DATASET_NAMES[kind])) return dataset;
  if (kind && kind !== 'mnist') throw new DatasetError(`${kind}: choose the dataset files first (the file picker next to the dataset).`);
  dataset = await loadDataset('mnist', [], log);
  postDataset();
  return dataset;
}

async function start(s: TrainSettings): Promise<void> {
  if (running) throw new Error('Training is already running: pause or stop it first.');
  await gpu.get();
  const ds = await datasetFor(s.dataset);
  // A loaded checkpoint is continued unless the user has since picked another architecture or width.
  if (loaded && (loaded.model.name !== s.model || (loaded.model.config.width !== null && loaded.model.config.width !== s.width))) {
    loaded.model.dispose();
    loaded = loadedFile = null;
  }
  if (loaded) checkCompatible(loaded.model.config, `The loaded checkpoint (${loaded.model.name})`, ds);
  settings = s;
  const restored = loaded;
  loop?.dispose();
  loop = null;
  loaded = loadedFile = null;
  loop = newLoop(s, ds, restored, true);
  if (restored) {
    if (loop.momentumTensors > 0) post({ type: 'notice', message: `Restored the optimizer momentum of ${loop.momentumTensors} parameter tensors from ${restored.source}.` });
    else post({ type: 'notice', message: `${restored.source} holds no optimizer state: training continues with the momentum at zero.` });
    if (restored.info.epoch >= s.epochs) post({ type: 'notice', message: `The checkpoint has ${restored.info.epoch} epochs already; raise Epochs to train on.` });
  }
  totalSteps = 0;
  runStarted = performance.now();
  post({ type: 'run', fresh: !restored, globalStep: loop.trainer.globalStep, summary: summary(), config: { ...loop.fingerprint }, started: new Date().toISOString() });
  post({ type: 'model', summary: summary() });
  void drive(loop);
}

/** Runs the loop to its end, then reports how it ended (or recovers from a lost device). */
async function drive(l: RunLoop): Promise<void> {
  running = true;
  setState('training', l.trainer.globalStep === 0 ? 'Training… the first step also compiles the GPU pipelines (slow on a software adapter).' : 'Training…');
  try {
    const reason = await l.run();
    running = false;
    if (gpu.lost) {
      // Lost while paused: the loop was stopped so that the device can be replaced.
      profile.drop();
      return recover();
    }
    if (profile.pending) void profile.finish(l.model.name);
    final(reason === 'stopped' ? 'stopped' : 'completed');
    setState(reason === 'stopped' ? 'stopped' : 'done', reason === 'stopped' ? `Stopped at ${position(l.info(), l.epochStep)}.` : 'Training finished.');
  } catch (e) {
    // A lost device fails the step's readback (mapAsync) BEFORE device.lost resolves: wait for the loss briefly, so
    // the raw readback error is not shown beside the recovery message. `running` stays true meanwhile, so the loss
    // handler leaves the recovery to this one.
    await gpu.settle();
    running = false;
    profile.drop();
    if (gpu.lost) return recover();
    fail(e instanceof DatasetError ? 'dataset' : 'training', e);
    final('failed');
    setState('stopped', 'Training stopped by the error above.');
  }
}

/** The end of a run for the page's run history: its last committed checkpoint (a copy: recovery keeps the original). */
function final(status: 'completed' | 'stopped' | 'failed'): void {
  const bytes = memory.last ? memory.last.checkpoint.slice() : null;
  post({ type: 'final', status, bytes, wallSeconds: (performance.now() - runStarted) / 1000 }, bytes ? [bytes.buffer] : []);
}

/** After a lost device: a new device, the model and optimizer from the checkpoint in memory, then paused. */
async function recover(): Promise<void> {
  const last = memory.last;
  const file = last ? { bytes: last.checkpoint, name: 'checkpoint in memory' } : loadedFile;
  gpu.recovering = true;
  setState('recovering', 'Replacing the GPU device…');
  post({ type: 'error', kind: 'device-lost', message: `The GPU device was lost (${gpu.lost ?? 'unknown reason'}). Restoring the last checkpoint${last ? ` (epoch ${last.info.epoch})` : ''} on a new device…` });
  // Every tensor lived on the lost device: nothing is left to free.
  gpu.drop();
  loop = control = loaded = null;
  try {
    await gpu.get();
    if (!file || (last && (!settings || !dataset))) return setState('idle', 'The device was replaced; no checkpoint was held, so start again.');
    const restored = modelFromCheckpoint(file.bytes, file.name);
    if (!last) {
      // Only a loaded (not yet started) checkpoint was held: load it again.
      loaded = restored;
      post({ type: 'loaded', name: file.name, summary: summary() });
      await sendBlends();
      return setState('stopped', `The device was replaced. ${describeLoaded(restored)}`);
    }
    loop = newLoop(settings!, dataset!, restored, false);
    const info = restored.info;
    post({ type: 'rewind', globalStep: info.globalStep });
    post({ type: 'model', summary: summary() });
    await sendBlends();
    setState('paused', `Restored the checkpoint of epoch ${info.epoch} (global step ${info.globalStep}) on a new device. Press Resume to continue.`);
  } catch (e) {
    fail(e instanceof WebGPUUnavailableError ? 'webgpu' : 'device-lost', e);
    setState('idle', 'The GPU device could not be replaced.');
  } finally {
    gpu.recovering = false;
  }
}

function postDataset(): void {
  const d = dataset!;
  post({ type: 'dataset', name: d.name, train: d.train.count, test: d.test.count, classes: d.numClasses, channels: d.channels, size: d.height });
}

async function load(name: string, bytes: Uint8Array): Promise<void> {
  if (running) throw new Error('Stop or pause training before loading a checkpoint.');
  await gpu.get();
  const next = modelFromCheckpoint(bytes, name);
  loop?.dispose();
  loop = null;
  loaded?.model.dispose();
  loaded = next;
  loadedFile = { bytes, name };
  memory.last = null;
  post({ type: 'loaded', name, summary: summary() });
  await sendBlends();
  setState('stopped', describeLoaded(next));
}

async function evaluate(maxImages: number): Promise<void> {
  if (state === 'training' || state === 'pausing') throw new Error('Pause or stop training before evaluating.');
  const m = model();
  if (!m) throw new Error('No model yet: start training or load a checkpoint first.');
  await gpu.get();
  const ds = await datasetFor(dataset ? undefined : settings?.dataset);
  checkCompatible(m.config, `The model (${m.name})`, ds);
  const loader = new BatchLoader(ds, 'test', { batchSize: 100, shuffle: false, augment: false, seed: 0 });
  const limit = maxImages > 0 ? maxImages : Infinity;
  const r = await evaluateModel(m, ds, loader, limit);
  post({ type: 'eval', loss: r.loss, accuracy: r.accuracy, images: Math.min(ds.test.count, limit) });
}

async function download(): Promise<void> {
  const current = model();
  if (!current) throw new Error('No model yet: start training or load a checkpoint first.');
  const info = checkpointInfo();
  // A run's own model goes with its momentum; a loaded file is re-downloaded with the momentum it came with.
  if (!loop && loadedFile && loaded?.model === current) {
    post({ type: 'checkpoint', name: loadedFile.name, bytes: loadedFile.bytes.slice() });
    return;
  }
  const bytes = await pageModelCheckpoint(current, info, loop?.model === current ? loop.trainer.optimizer : null);
  const name = `${info.model}${info.width ? `-n${info.width}` : ''}-${info.dataset || 'model'}-epoch${info.epoch}-step${info.globalStep}.safetensors`;
  post({ type: 'checkpoint', name, bytes }, [bytes.buffer]);
}

async function estimate(s: TrainSettings): Promise<void> {
  if (running) throw new Error('Pause or stop training before estimating: the probe would compete with it for the GPU.');
  const c = await gpu.get();
  if (!dataset || dataset.name !== DATASET_NAMES[s.dataset]) throw new DatasetError(`${s.dataset}: choose the dataset files first.`);
  setState(state, 'Estimating: a few steps of a throw-away model (the first compiles the pipelines)…');
  post(await probeStep(c.runtime, dataset, s));
  setState(state, 'Estimate ready (under Start).');
}

/** Runs a request's work; a failure becomes one error message of the kind `kind` picks, then `after` runs. */
async function attempt(work: () => unknown, kind: (e: unknown) => ErrorKind, after?: () => void): Promise<void> {
  try {
    await work();
  } catch (e) {
    fail(kind(e), e);
    after?.();
  }
}
const kindOf = (fallback: ErrorKind) => (e: unknown): ErrorKind => (e instanceof WebGPUUnavailableError ? 'webgpu' : e instanceof DatasetError ? 'dataset' : fallback);

async function handle(m: Request): Promise<void> {
  switch (m.type) {
    case 'init':
      return attempt(async () => {
        const c = await gpu.get();
        const i = c.info;
        post({ type: 'ready', adapter: [i.vendor, i.architecture, i.device, i.description].filter((x) => x).join(' ') || 'unknown adapter', software: i.software, source: c.platform.source });
      }, () => 'webgpu');
    case 'dataset':
      return attempt(
        async () => {
          if (running) throw new Error('Stop training before changing the dataset.');
          setState('preparing', `Reading ${m.kind}…`);
          dataset = await loadDataset(m.kind, m.files, log, m.maxPerClass);
          postDataset();
          setState(model() ? 'stopped' : 'idle', `${dataset.name} is ready.`);
        },
        () => 'dataset',
        () => setState(model() ? 'stopped' : 'idle', `${m.kind} was not loaded (see the message above).`),
      );
    case 'start':
      setState('preparing', 'Preparing…');
      return attempt(() => start(m.settings), kindOf('usage'), () => setState(model() ? 'stopped' : 'idle', 'Not started (see the message above).'));
    case 'pause':
      if (running && control && !control.pauseRequested) {
        control.pause();
        setState('pausing');
      }
      return;
    case 'resume':
      if (running) {
        control?.resume();
        if (state === 'pausing') setState('training', 'Training…'); // resumed before the loop reached its pause
      } else if (loop && state === 'paused') void drive(loop); // restored after a device loss: the loop starts now
      return;
    case 'stop':
      control?.stop();
      if (!running && state === 'paused') {
        final('stopped'); // restored after a device loss and never resumed
        setState('stopped', 'Stopped.');
      }
      return;
    case 'load':
      return attempt(() => load(m.name, m.bytes), () => (running ? 'usage' : 'checkpoint'));
    case 'download':
      return attempt(download, () => 'checkpoint');
    case 'eval':
      return attempt(() => evaluate(m.maxImages), kindOf('usage'));
    case 'describe':
      return attempt(async () => {
        await gpu.get();
        post(describeModel(m.model, m.width, m.dataset));
      }, kindOf('usage'));
    case 'estimate':
      return attempt(() => estimate(m.settings), kindOf('usage'), () => setState(state, 'No estimate (see the message above).'));
    case 'profile':
      return attempt(() => {
        const c = gpu.current;
        if (!running || !c) throw new Error('Start (or resume) training first: the profile times the next training steps.');
        profile.request(c.runtime, m.steps);
        log(`Profiling the next ${m.steps} training step${m.steps > 1 ? 's' : ''}…`);
      }, () => 'profiler');
    case 'lose-device':
      // A real loss: the device is destroyed under the trainer, exactly as a driver reset would leave it.
      gpu.current?.device.destroy();
      return;
  }
}

post({ type: 'models', names: [...MODEL_NAMES] });

// Requests run one at a time, in order, except pause/resume/stop, which must reach a running loop at once.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e: MessageEvent<Request>) => {
  const m = e.data;
  if (m.type === 'pause' || m.type === 'resume' || m.type === 'stop' || m.type === 'profile' || m.type === 'lose-device') void handle(m);
  else queue = queue.then(() => handle(m));
};
