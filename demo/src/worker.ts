// The training worker: runs the SAME src/ code as Node (init, createModel, Trainer, checkpoints, data parsers),
// so the page stays responsive. It keeps the last epoch's checkpoint in memory to survive a lost GPU device.
import { init, shutdown, WebGPUUnavailableError, type DeviceContext } from '../../src/device/index.js';
import { createModel, compressionFactor, MODEL_NAMES, type Model } from '../../src/models/index.js';
import { Blend } from '../../src/nn/layers.js';
import { Trainer, NonFiniteLossError, evaluateModel } from '../../src/train/trainer.js';
import { modelCheckpoint, optimizerCheckpoint, loadOptimizerCheckpoint, type CheckpointInfo } from '../../src/train/checkpoint.js';
import { BatchLoader } from '../../src/data/loader.js';
import { DatasetError, type Dataset } from '../../src/data/types.js';
import { DATASET_NAMES, loadDataset } from './datasets.js';
import { describeLoaded, modelFromCheckpoint, pageModelCheckpoint, position, restoreMomentum, type LoadedCheckpoint, type PageCheckpointInfo } from './worker-checkpoint.js';
import { StepProfiler } from './worker-profile.js';
import { StepMeter } from './step-meter.js';
import { checkCompatible, describeModel, probeStep, trainerFor } from './worker-probe.js';
import type { ErrorKind, Event, ModelSummary, Request, RunState, TrainSettings } from './protocol.js';

const scope = self as unknown as { postMessage(m: Event, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<Request>) => void) | null };
const post = (m: Event, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let ctx: DeviceContext | null = null;
let dataset: Dataset | null = null;
let model: Model | null = null;
let trainer: Trainer | null = null;
let settings: TrainSettings | null = null;
/** A checkpoint loaded by the user that the next Start continues from. */
let loaded: LoadedCheckpoint | null = null;
let loadedInfo: CheckpointInfo | null = null;
/** The last epoch's state, kept in memory: what device-loss recovery restores. */
let last: { model: Uint8Array; optimizer: Uint8Array; info: CheckpointInfo } | null = null;
let state: RunState = 'idle';
let running = false;
let pauseRequested = false;
let stopRequested = false;
let wake: (() => void) | null = null;
let deviceLost: string | null = null;
let ownShutdown = false;
let totalSteps = 0;
let blendBusy = false;
/** The test accuracy of THIS model's last evaluation (reset for new weights: it goes into checkpoint metadata). */
let lastTestAccuracy: number | undefined;
/**
 * trainer.globalStep when the epoch in progress began (null between epochs). Steps into the epoch are counted from
 * it, not from progress events: those lag one step behind the submitted work (the trainer pipelines steps), while
 * a checkpoint's weights and globalStep include every submitted step.
 */
let epochBase: number | null = null;
const epochStep = () => (trainer && epochBase !== null ? trainer.globalStep - epochBase : 0);
/** performance.now() at Start: the charts' wall-time axis. */
let runStarted = 0;
const profile = new StepProfiler((m) => post(m));

const log = (message: string) => post({ type: 'log', message });

function setState(s: RunState, message?: string): void {
  state = s;
  post({ type: 'state', state: s, message });
}

/** A failed readback or an op on a destroyed device: possibly a symptom of a device loss, not news of its own. */
const gpuError = (e: unknown) => e instanceof DOMException || (e instanceof Error && /GPU|mapAsync|device/i.test(e.message));

/**
 * Reports an error, except one caused by a lost device: the device-loss notice already says what happened, so the
 * raw "Failed to execute 'mapAsync'…" of a readback in flight (a download, a step) must not sit beside it. A GPU
 * error can arrive before device.lost resolves, so such errors wait briefly for it.
 */
function fail(kind: ErrorKind, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  const c = ctx;
  if (kind === 'webgpu' || kind === 'device-lost' || !gpuError(e)) return post({ type: 'error', kind, message });
  if (deviceLost !== null || state === 'recovering' || !c) return;
  void Promise.race([c.device.lost.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]).then((lost) => {
    if (!lost) post({ type: 'error', kind, message });
  });
}

function watchDevice(c: DeviceContext): void {
  void c.device.lost.then((info) => {
    if (ownShutdown || ctx !== c) return;
    deviceLost = `${info.reason}${info.message ? `: ${info.message}` : ''}`;
    // Idle: nothing will notice the loss by failing, so recover now. Paused: wake the loop, whose next op fails.
    if (!running) void recover();
    else if (wake) wake();
  });
}

async function device(): Promise<DeviceContext> {
  if (!ctx) {
    ctx = await init();
    watchDevice(ctx);
  }
  return ctx;
}

function summary(): ModelSummary {
  const m = model!;
  return {
    name: m.name,
    width: m.config.width,
    parameters: m.numParameters(),
    compression: compressionFactor(m),
    blendLayers: blendModules().length,
    dataset: dataset?.name ?? '',
    epoch: trainer?.epoch ?? loadedInfo?.epoch ?? 0,
    globalStep: trainer?.globalStep ?? loadedInfo?.globalStep ?? 0,
  };
}

function checkpointInfo(): PageCheckpointInfo {
  const m = model!;
  return {
    model: m.name,
    width: m.config.width,
    numClasses: m.config.numClasses,
    inChannels: m.config.inChannels,
    inputSize: m.config.inputSize,
    stem: m.config.stem,
    dataset: dataset?.name ?? loadedInfo?.dataset ?? '',
    epoch: trainer?.epoch ?? loadedInfo?.epoch ?? 0,
    globalStep: trainer?.globalStep ?? loadedInfo?.globalStep ?? 0,
    testAccuracy: lastTestAccuracy,
    epochStep: trainer ? epochStep() : (loaded?.epochStep ?? 0),
  };
}

/** The SL blends in order of appearance (registration order is the order of use). */
function blendModules(): [string, Blend][] {
  if (!model) return [];
  return model.namedModules().filter((e): e is [string, Blend] => e[1] instanceof Blend);
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

async function snapshot(): Promise<void> {
  const info = checkpointInfo();
  last = { model: await modelCheckpoint(model!, info), optimizer: trainer ? await optimizerCheckpoint(model!, trainer.optimizer, info) : new Uint8Array(0), info };
}

async function start(s: TrainSettings): Promise<void> {
  if (running) throw new Error('Training is already running: pause or stop it first.');
  await device();
  if (!dataset || dataset.name !== DATASET_NAMES[s.dataset]) {
    if (s.dataset !== 'mnist') throw new DatasetError(`${s.dataset}: choose the dataset files first (the file picker next to the dataset).`);
    dataset = await loadDataset('mnist', [], log);
    postDataset();
  }
  settings = s;
  const ds = dataset;
  // A loaded checkpoint is continued unless the user has since picked another architecture or width.
  if (loadedInfo && model && (model.name !== s.model || (model.config.width !== null && model.config.width !== s.width))) loadedInfo = loaded = null;
  const fresh = !(loadedInfo && model);
  if (!fresh) {
    checkCompatible(model!.config, `The loaded checkpoint (${model!.name})`, ds);
  } else {
    model?.dispose();
    model = null;
    model = createModel(s.model, { width: s.width, numClasses: ds.numClasses, inChannels: ds.channels, inputSize: ds.height, seed: s.seed });
    // New weights: nothing measured on the previous model may reach this run's tiles or checkpoint metadata.
    lastTestAccuracy = undefined;
  }
  trainer?.optimizer.dispose?.();
  trainer = trainerFor(model!, s, ds);
  epochBase = null;
  if (loadedInfo) {
    trainer.epoch = loadedInfo.epoch;
    trainer.globalStep = loadedInfo.globalStep;
    if (loaded?.hasMomentum) {
      const n = restoreMomentum(model!, trainer.optimizer, loaded);
      post({ type: 'notice', message: `Restored the optimizer momentum of ${n} parameter tensors from ${loaded.name}.` });
    } else if (loaded) {
      post({ type: 'notice', message: `${loaded.name} holds no optimizer state: training continues with the momentum at zero.` });
    }
    if (trainer.epoch >= s.epochs) post({ type: 'notice', message: `The checkpoint has ${trainer.epoch} epochs already; raise Epochs to train on.` });
  }
  loadedInfo = loaded = null;
  totalSteps = 0;
  runStarted = performance.now();
  pauseRequested = false;
  stopRequested = false;
  post({ type: 'run', fresh, globalStep: trainer.globalStep });
  post({ type: 'model', summary: summary() });
  await snapshot();
  await sendBlends();
  void loop();
}

async function loop(): Promise<void> {
  const t = trainer!;
  const s = settings!;
  running = true;
  setState('training', t.globalStep === 0 ? 'Training… the first step also compiles the GPU pipelines (slow on a software adapter).' : 'Training…');
  const meter = new StepMeter();
  try {
    while (t.epoch < s.epochs && !stopRequested) {
      if (pauseRequested) {
        setState('paused', `Paused at ${position(checkpointInfo(), epochStep())}. Resume continues with the next step of this epoch.`);
        await new Promise<void>((r) => (wake = r));
        wake = null;
        if (stopRequested) break;
        setState('training', 'Training…');
      }
      meter.call(t.epoch);
      epochBase ??= t.globalStep;
      let globalStep = t.globalStep;
      profile.epochStart();
      const result = await t.trainEpoch(
        (p) => {
          totalSteps++;
          globalStep++;
          const m = meter.step(p.step, p.loss, p.acc, s.batchSize);
          post({ type: 'progress', epoch: p.epoch, epochs: p.epochs, step: p.step, steps: p.steps, totalSteps, globalStep, loss: m.loss, epochLoss: p.loss, accuracy: m.accuracy, acc: p.acc, imagesPerSecond: p.imagesPerSecond, stepImagesPerSecond: m.ips, wallSeconds: (performance.now() - runStarted) / 1000, lr: p.lr });
          if (totalSteps % Math.max(1, s.blendEvery) === 0) void sendBlends().catch(() => undefined);
          if (profile.step()) void profile.finish(model?.name ?? 'onelayer');
        },
        () => pauseRequested || stopRequested,
      );
      profile.epochEnd();
      if (!result.completed) continue; // interrupted by pause or stop; trainEpoch continues this epoch on resume
      epochBase = null;
      const test = await t.evaluate();
      lastTestAccuracy = test.accuracy;
      post({ type: 'epoch', epoch: t.epoch, globalStep: t.globalStep, lr: t.optimizer.lr, trainLoss: result.loss, trainAccuracy: result.accuracy, testLoss: test.loss, testAccuracy: test.accuracy, imagesPerSecond: result.imagesPerSecond, seconds: result.seconds });
      await snapshot();
      await sendBlends();
    }
    running = false;
    if (profile.pending) void profile.finish(model?.name ?? 'onelayer');
    setState(stopRequested ? 'stopped' : 'done', stopRequested ? `Stopped at ${position(checkpointInfo(), epochStep())}.` : 'Training finished.');
  } catch (e) {
    // A lost device fails the step's readback (mapAsync) BEFORE device.lost resolves: wait for the loss briefly,
    // so the raw readback error is not shown beside the recovery message. `running` stays true meanwhile, so
    // watchDevice leaves the recovery to this handler.
    const c = ctx;
    if (!deviceLost && c) await Promise.race([c.device.lost, new Promise((r) => setTimeout(r, 2000))]);
    running = false;
    profile.drop();
    if (deviceLost) {
      await recover();
      return;
    }
    fail(e instanceof NonFiniteLossError ? 'training' : e instanceof DatasetError ? 'dataset' : 'training', e);
    setState('stopped', 'Training stopped by the error above.');
  }
}

/** After a lost device: a new device, the model and optimizer from the in-memory checkpoint, then paused. */
async function recover(): Promise<void> {
  const reason = deviceLost ?? 'unknown reason';
  setState('recovering', 'Replacing the GPU device…');
  post({ type: 'error', kind: 'device-lost', message: `The GPU device was lost (${reason}). Restoring the last checkpoint${last ? ` (epoch ${last.info.epoch})` : ''} on a new device…` });
  ownShutdown = true;
  shutdown();
  ownShutdown = false;
  ctx = null;
  model = null;
  trainer = null;
  deviceLost = null;
  try {
    await device();
    if (!last || !settings || !dataset) {
      setState('idle', 'The device was replaced; no checkpoint was held, so start again.');
      return;
    }
    const restored = modelFromCheckpoint(last.model, 'checkpoint in memory');
    const info = restored.info;
    model = restored.model;
    trainer = trainerFor(model, settings, dataset);
    if (last.optimizer.length) loadOptimizerCheckpoint(model, trainer.optimizer, last.optimizer, 'optimizer state in memory');
    trainer.epoch = info.epoch;
    trainer.globalStep = info.globalStep;
    epochBase = null;
    pauseRequested = false;
    stopRequested = false;
    post({ type: 'rewind', globalStep: info.globalStep });
    post({ type: 'model', summary: summary() });
    await sendBlends();
    setState('paused', `Restored the checkpoint of epoch ${info.epoch} (global step ${info.globalStep}) on a new device. Press Resume to continue.`);
  } catch (e) {
    fail(e instanceof WebGPUUnavailableError ? 'webgpu' : 'device-lost', e);
    setState('idle', 'The GPU device could not be replaced.');
  }
}

function postDataset(): void {
  const d = dataset!;
  post({ type: 'dataset', name: d.name, train: d.train.count, test: d.test.count, classes: d.numClasses, channels: d.channels, size: d.height });
}

async function load(name: string, bytes: Uint8Array): Promise<void> {
  if (running) throw new Error('Stop or pause training before loading a checkpoint.');
  await device();
  const next = modelFromCheckpoint(bytes, name);
  model?.dispose();
  trainer?.optimizer.dispose?.();
  trainer = null;
  model = next.model;
  loaded = next;
  loadedInfo = next.info;
  lastTestAccuracy = next.info.testAccuracy;
  last = { model: next.hasMomentum ? await modelCheckpoint(next.model, next.info) : bytes, optimizer: new Uint8Array(0), info: next.info };
  post({ type: 'loaded', name, summary: summary() });
  await sendBlends();
  setState('stopped', describeLoaded(next));
}

async function evaluate(maxImages: number): Promise<void> {
  if (state === 'training' || state === 'pausing') throw new Error('Pause or stop training before evaluating.');
  if (!model) throw new Error('No model yet: start training or load a checkpoint first.');
  await device();
  if (!dataset) {
    if (settings?.dataset && settings.dataset !== 'mnist') throw new DatasetError('Choose the dataset files first.');
    dataset = await loadDataset('mnist', [], log);
    postDataset();
  }
  checkCompatible(model.config, `The model (${model.name})`, dataset);
  const loader = new BatchLoader(dataset, 'test', { batchSize: 100, shuffle: false, augment: false, seed: 0 });
  const limit = maxImages > 0 ? maxImages : Infinity;
  const r = await evaluateModel(model, dataset, loader, limit);
  post({ type: 'eval', loss: r.loss, accuracy: r.accuracy, images: Math.min(dataset.test.count, limit) });
}

async function handle(m: Request): Promise<void> {
  switch (m.type) {
    case 'init': {
      try {
        const c = await device();
        const i = c.info;
        post({ type: 'ready', adapter: [i.vendor, i.architecture, i.device, i.description].filter((x) => x).join(' ') || 'unknown adapter', software: i.software, source: c.platform.source });
      } catch (e) {
        fail('webgpu', e);
      }
      return;
    }
    case 'dataset':
      try {
        if (running) throw new Error('Stop training before changing the dataset.');
        setState('preparing', `Reading ${m.kind}…`);
        dataset = await loadDataset(m.kind, m.files, log, m.maxPerClass);
        postDataset();
        setState(model ? 'stopped' : 'idle', `${dataset.name} is ready.`);
      } catch (e) {
        fail('dataset', e);
        setState(model ? 'stopped' : 'idle', `${m.kind} was not loaded (see the message above).`);
      }
      return;
    case 'start':
      try {
        setState('preparing', 'Preparing…');
        await start(m.settings);
      } catch (e) {
        fail(e instanceof WebGPUUnavailableError ? 'webgpu' : e instanceof DatasetError ? 'dataset' : 'usage', e);
        setState(model ? 'stopped' : 'idle', 'Not started (see the message above).');
      }
      return;
    case 'pause':
      if (running && !pauseRequested) {
        pauseRequested = true;
        setState('pausing');
      }
      return;
    case 'resume':
      pauseRequested = false;
      if (wake) wake();
      else if (!running && trainer && state === 'paused') void loop();
      return;
    case 'stop':
      stopRequested = true;
      if (wake) wake();
      else if (!running && state === 'paused') setState('stopped', 'Stopped.');
      return;
    case 'load':
      try {
        await load(m.name, m.bytes);
      } catch (e) {
        fail(running ? 'usage' : 'checkpoint', e);
      }
      return;
    case 'download':
      try {
        if (!model) throw new Error('No model yet: start training or load a checkpoint first.');
        const info = checkpointInfo();
        const bytes = await pageModelCheckpoint(model, info);
        const name = `${info.model}${info.width ? `-n${info.width}` : ''}-${info.dataset || 'model'}-epoch${info.epoch}-step${info.globalStep}.safetensors`;
        post({ type: 'checkpoint', name, bytes }, [bytes.buffer]);
      } catch (e) {
        fail('checkpoint', e);
      }
      return;
    case 'eval':
      try {
        await evaluate(m.maxImages);
      } catch (e) {
        fail(e instanceof DatasetError ? 'dataset' : 'usage', e);
      }
      return;
    case 'describe':
      try {
        await device();
        post(describeModel(m.model, m.width, m.dataset));
      } catch (e) {
        fail(e instanceof WebGPUUnavailableError ? 'webgpu' : 'usage', e);
      }
      return;
    case 'estimate':
      try {
        if (running) throw new Error('Pause or stop training before estimating: the probe would compete with it for the GPU.');
        const c = await device();
        if (!dataset || dataset.name !== DATASET_NAMES[m.settings.dataset]) throw new DatasetError(`${m.settings.dataset}: choose the dataset files first.`);
        setState(state, 'Estimating: a few steps of a throw-away model (the first compiles the pipelines)…');
        post(await probeStep(c.runtime, dataset, m.settings));
        setState(state, 'Estimate ready (under Start).');
      } catch (e) {
        fail(e instanceof DatasetError ? 'dataset' : 'usage', e);
        setState(state, 'No estimate (see the message above).');
      }
      return;
    case 'profile':
      try {
        if (!running || !ctx) throw new Error('Start (or resume) training first: the profile times the next training steps.');
        profile.request(ctx.runtime, m.steps);
        log(`Profiling the next ${m.steps} training step${m.steps > 1 ? 's' : ''}…`);
      } catch (e) {
        fail('profiler', e);
      }
      return;
    case 'lose-device':
      // A real loss: the device is destroyed under the trainer, exactly as a driver reset would leave it.
      ctx?.device.destroy();
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
