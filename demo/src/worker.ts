// The training worker: runs the SAME src/ code as Node (init, createModel, Trainer, checkpoints, data parsers),
// so the page stays responsive. It keeps the last epoch's checkpoint in memory to survive a lost GPU device.
import { init, shutdown, WebGPUUnavailableError, type DeviceContext } from '../../src/device/index.js';
import { createModel, compressionFactor, MODEL_NAMES, type Model } from '../../src/models/index.js';
import { Blend } from '../../src/nn/layers.js';
import { Trainer, NonFiniteLossError, evaluateModel } from '../../src/train/trainer.js';
import { modelCheckpoint, optimizerCheckpoint, loadModelCheckpoint, loadOptimizerCheckpoint, parseInfo, type CheckpointInfo } from '../../src/train/checkpoint.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { BatchLoader } from '../../src/data/loader.js';
import { DatasetError, type Dataset } from '../../src/data/types.js';
import { Profiler, summarize, chromeTrace } from '../../src/gpu/profiler.js';
import { DATASET_SHAPES, loadDataset } from './datasets.js';
import type { ErrorKind, Event, ModelSummary, Request, RunState, TrainSettings } from './protocol.js';

const scope = self as unknown as { postMessage(m: Event, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<Request>) => void) | null };
const post = (m: Event, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let ctx: DeviceContext | null = null;
let dataset: Dataset | null = null;
let model: Model | null = null;
let trainer: Trainer | null = null;
let settings: TrainSettings | null = null;
/** A checkpoint loaded by the user that the next Start continues from. */
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
let lastTestAccuracy: number | undefined;
/** A requested profile: armed (attached) at the next step boundary, collected after `steps` timed steps. */
let profile: { profiler: Profiler; steps: number; done: number; armed: boolean } | null = null;

const log = (message: string) => post({ type: 'log', message });

function setState(s: RunState, message?: string): void {
  state = s;
  post({ type: 'state', state: s, message });
}

function fail(kind: ErrorKind, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  post({ type: 'error', kind, message });
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

function checkpointInfo(): CheckpointInfo {
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

function checkCompatible(m: { numClasses: number; inChannels: number; inputSize: number }, what: string, ds: Dataset): void {
  if (m.numClasses !== ds.numClasses || m.inChannels !== ds.channels || m.inputSize !== ds.height) {
    throw new Error(
      `${what} is for ${m.numClasses} classes of ${m.inChannels}×${m.inputSize}×${m.inputSize} images, but ${ds.name} has ${ds.numClasses} classes of ${ds.channels}×${ds.height}×${ds.width}. Choose the matching dataset.`,
    );
  }
}

async function snapshot(): Promise<void> {
  const info = checkpointInfo();
  last = { model: await modelCheckpoint(model!, info), optimizer: trainer ? await optimizerCheckpoint(model!, trainer.optimizer, info) : new Uint8Array(0), info };
}

function trainerFor(m: Model, s: TrainSettings, ds: Dataset): Trainer {
  return new Trainer(m, ds, {
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    momentum: s.momentum,
    weightDecay: s.weightDecay,
    nesterov: false,
    schedule: s.schedule,
    seed: s.seed,
    warmupSteps: 0,
    maxStepsPerEpoch: s.maxStepsPerEpoch > 0 ? s.maxStepsPerEpoch : undefined,
    maxEvalImages: s.maxEvalImages > 0 ? s.maxEvalImages : undefined,
  });
}

async function start(s: TrainSettings): Promise<void> {
  if (running) throw new Error('Training is already running: pause or stop it first.');
  await device();
  if (!dataset || dataset.name !== s.dataset) {
    if (s.dataset !== 'mnist') throw new DatasetError(`${s.dataset}: choose the dataset files first (the file picker next to the dataset).`);
    dataset = await loadDataset('mnist', [], log);
    postDataset();
  }
  settings = s;
  const ds = dataset;
  // A loaded checkpoint is continued unless the user has since picked another architecture or width.
  if (loadedInfo && model && (model.name !== s.model || (model.config.width !== null && model.config.width !== s.width))) loadedInfo = null;
  if (loadedInfo && model) {
    checkCompatible(model.config, `The loaded checkpoint (${model.name})`, ds);
  } else {
    model?.dispose();
    model = null;
    model = createModel(s.model, { width: s.width, numClasses: ds.numClasses, inChannels: ds.channels, inputSize: ds.height, seed: s.seed });
  }
  trainer?.optimizer.dispose?.();
  trainer = trainerFor(model, s, ds);
  if (loadedInfo) {
    trainer.epoch = loadedInfo.epoch;
    trainer.globalStep = loadedInfo.globalStep;
    if (trainer.epoch >= s.epochs) post({ type: 'log', message: `The checkpoint has ${trainer.epoch} epochs already; raise Epochs to train on.` });
  }
  loadedInfo = null;
  totalSteps = 0;
  pauseRequested = false;
  stopRequested = false;
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
  let prevMean = 0;
  let prevEpoch = -1;
  try {
    while (t.epoch < s.epochs && !stopRequested) {
      if (pauseRequested) {
        setState('paused');
        await new Promise<void>((r) => (wake = r));
        wake = null;
        if (stopRequested) break;
        setState('training');
      }
      const epoch = t.epoch;
      // A paused epoch continues where it stopped, with its running means: reset only for a new epoch.
      if (epoch !== prevEpoch) {
        prevMean = 0;
        prevEpoch = epoch;
      }
      // Evaluation and pauses between epochs are not training steps: the profiler is attached only inside trainEpoch.
      if (profile?.armed) profile.profiler.start();
      const result = await t.trainEpoch(
        (p) => {
          totalSteps++;
          // Batches are equal-sized (dropLast), so this step's loss follows from the running means.
          const loss = p.loss * p.step - prevMean * (p.step - 1);
          prevMean = p.loss;
          post({ type: 'progress', epoch: p.epoch, epochs: p.epochs, step: p.step, steps: p.steps, totalSteps, loss, epochLoss: p.loss, acc: p.acc, imagesPerSecond: p.imagesPerSecond, lr: p.lr });
          if (totalSteps % Math.max(1, s.blendEvery) === 0) void sendBlends().catch(() => undefined);
          profileStep();
        },
        () => pauseRequested || stopRequested,
      );
      profile?.profiler.stop();
      if (!result.completed) continue; // interrupted by pause or stop; trainEpoch continues this epoch on resume
      const test = await t.evaluate();
      lastTestAccuracy = test.accuracy;
      post({ type: 'epoch', epoch: t.epoch, trainLoss: result.loss, trainAccuracy: result.accuracy, testLoss: test.loss, testAccuracy: test.accuracy, imagesPerSecond: result.imagesPerSecond, seconds: result.seconds });
      await snapshot();
      await sendBlends();
    }
    running = false;
    if (profile) void finishProfile();
    setState(stopRequested ? 'stopped' : 'done');
  } catch (e) {
    running = false;
    dropProfile();
    if (deviceLost) {
      await recover();
      return;
    }
    fail(e instanceof NonFiniteLossError ? 'training' : e instanceof DatasetError ? 'dataset' : 'training', e);
    setState('stopped');
  }
}

// ---- profiling ---------------------------------------------------------------------------------------------
function requestProfile(steps: number): void {
  if (!running || !ctx) throw new Error('Start (or resume) training first: the profile times the next training steps.');
  if (profile) throw new Error('A profile is already being taken.');
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`Profile steps must be an integer ≥ 1, got ${steps}.`);
  // Throws a clear message when the device lacks 'timestamp-query' (Chrome without the flag).
  profile = { profiler: new Profiler(ctx.runtime), steps, done: 0, armed: false };
  log(`Profiling the next ${steps} training step${steps > 1 ? 's' : ''}…`);
}

/** Called after each step: the step in flight when the request came is not timed, so timing starts here. */
function profileStep(): void {
  if (!profile) return;
  if (!profile.armed) {
    profile.armed = true;
    profile.profiler.start();
  } else if (++profile.done >= profile.steps) void finishProfile();
}

async function finishProfile(): Promise<void> {
  const p = profile;
  if (!p) return;
  profile = null;
  try {
    p.profiler.stop();
    const timings = await p.profiler.collect();
    if (p.done === 0) throw new Error('Training ended before a profiled step completed.');
    const gpuMs = timings.reduce((sum, t) => sum + t.durationUs, 0) / 1000;
    const trace = JSON.stringify(chromeTrace(timings, `${model?.name ?? 'onelayer'} (${p.done} steps)`));
    post({ type: 'profile', steps: p.done, dispatches: timings.length, gpuMs, rows: summarize(timings), trace });
  } catch (e) {
    fail('profiler', e);
  } finally {
    p.profiler.destroy();
  }
}

/** On a failed or lost device the queries cannot be read back: the profile is dropped. */
function dropProfile(): void {
  if (!profile) return;
  const p = profile;
  profile = null;
  try {
    p.profiler.destroy();
  } catch {
    // The device may be gone; its query sets went with it.
  }
  post({ type: 'error', kind: 'profiler', message: 'The profile was dropped: training failed before it finished.' });
}

/** After a lost device: a new device, the model and optimizer from the in-memory checkpoint, then paused. */
async function recover(): Promise<void> {
  const reason = deviceLost ?? 'unknown reason';
  setState('recovering');
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
    const info = parseInfo(decodeSafetensors(last.model, 'checkpoint in memory').metadata, 'checkpoint in memory');
    model = createModel(info.model, { width: info.width ?? undefined, numClasses: info.numClasses, inChannels: info.inChannels, inputSize: info.inputSize, stem: info.stem === 'conv' ? 'conv' : 'pad', initialize: false });
    loadModelCheckpoint(model, last.model, 'checkpoint in memory');
    trainer = trainerFor(model, settings, dataset);
    if (last.optimizer.length) loadOptimizerCheckpoint(model, trainer.optimizer, last.optimizer, 'optimizer state in memory');
    trainer.epoch = info.epoch;
    trainer.globalStep = info.globalStep;
    pauseRequested = false;
    stopRequested = false;
    post({ type: 'model', summary: summary() });
    await sendBlends();
    setState('paused', `Restored the checkpoint of epoch ${info.epoch} on a new device. Press Resume to continue.`);
  } catch (e) {
    fail(e instanceof WebGPUUnavailableError ? 'webgpu' : 'device-lost', e);
    setState('idle');
  }
}

function postDataset(): void {
  const d = dataset!;
  post({ type: 'dataset', name: d.name, train: d.train.count, test: d.test.count, classes: d.numClasses, channels: d.channels, size: d.height });
}

async function load(name: string, bytes: Uint8Array): Promise<void> {
  if (running) throw new Error('Stop or pause training before loading a checkpoint.');
  await device();
  const { metadata } = decodeSafetensors(bytes, name);
  const info = parseInfo(metadata, name);
  const next = createModel(info.model, { width: info.width ?? undefined, numClasses: info.numClasses, inChannels: info.inChannels, inputSize: info.inputSize, stem: info.stem === 'conv' ? 'conv' : 'pad', initialize: false });
  try {
    loadModelCheckpoint(next, bytes, name);
  } catch (e) {
    next.dispose();
    throw e;
  }
  model?.dispose();
  trainer?.optimizer.dispose?.();
  trainer = null;
  model = next;
  loadedInfo = info;
  lastTestAccuracy = info.testAccuracy;
  last = { model: bytes, optimizer: new Uint8Array(0), info };
  post({ type: 'loaded', name, summary: summary() });
  await sendBlends();
  setState('stopped', `Loaded ${name}: ${info.model}${info.width ? ` n=${info.width}` : ''}, trained ${info.epoch} epochs on ${info.dataset || 'an unnamed dataset'}. Start continues it; Evaluate tests it.`);
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
        setState(model ? 'stopped' : 'idle');
      } catch (e) {
        fail('dataset', e);
        setState(model ? 'stopped' : 'idle');
      }
      return;
    case 'start':
      try {
        setState('preparing', 'Preparing…');
        await start(m.settings);
      } catch (e) {
        fail(e instanceof WebGPUUnavailableError ? 'webgpu' : e instanceof DatasetError ? 'dataset' : 'usage', e);
        setState(model ? 'stopped' : 'idle');
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
      else if (!running && state === 'paused') setState('stopped');
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
        const bytes = await modelCheckpoint(model, info);
        const name = `${info.model}${info.width ? `-n${info.width}` : ''}-${info.dataset || 'model'}-epoch${info.epoch}.safetensors`;
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
        const shape = DATASET_SHAPES[m.dataset];
        const probe = createModel(m.model, { width: m.width, ...shape, initialize: false });
        try {
          const blendLayers = probe.namedModules().filter(([, x]) => x instanceof Blend).length;
          post({ type: 'describe', model: m.model, parameters: probe.numParameters(), compression: compressionFactor(probe), blendLayers });
        } finally {
          probe.dispose();
        }
      } catch (e) {
        fail(e instanceof WebGPUUnavailableError ? 'webgpu' : 'usage', e);
      }
      return;
    case 'profile':
      try {
        requestProfile(m.steps);
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
