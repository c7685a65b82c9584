// One declarative table per command: it drives the strict parser (unknown flags are errors that suggest the
// nearest valid one) and renders `onelayer <command> --help`.

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder of the value in help (string options). */
  value?: string;
  help: string;
  /** Boolean options that default to true and are turned off with --no-NAME. */
  defaultOn?: boolean;
}

export type OptionTable = Record<string, OptionSpec>;

export interface CommandSpec {
  usage: string;
  summary: string;
  options: OptionTable;
}

const s = (value: string, help: string): OptionSpec => ({ type: 'string', value, help });
const b = (help: string, defaultOn = false): OptionSpec => ({ type: 'boolean', help, defaultOn });

/** Training settings shared by `train` and `sweep` (a sweep passes them to every run). */
const TRAINING: OptionTable = {
  dataset: s('mnist|fashion-mnist|cifar10|cifar100|tiny-imagenet|imagefolder|imagenet', 'dataset (default mnist, embedded; fashion-mnist needs the optional fashion-mnist package)'),
  data: s('PATH', 'folder or archive of cifar10 / cifar100 / tiny-imagenet; imagefolder / imagenet: DIR with train/<class>/ and val/<class>/'),
  'image-size': s('S', 'imagefolder / imagenet: side of the S×S crops (default 224)'),
  'val-fraction': s('F', 'imagefolder without train/ and val/: hold out this fraction of each class for evaluation'),
  'image-cache': s('DIR', 'imagefolder / imagenet: keep decoded, resized evaluation crops in DIR (default $ONELAYER_IMAGE_CACHE; none)'),
  epochs: s('E', 'epochs (default 3)'),
  'batch-size': s('B', 'images per step (default 64)'),
  lr: s('LR', 'peak learning rate (default 0.05)'),
  momentum: s('M', 'SGD momentum (default 0.9)'),
  'weight-decay': s('WD', 'L2 weight decay (default 5e-4)'),
  nesterov: b('Nesterov momentum'),
  schedule: s('cosine|step|constant', 'learning-rate schedule (default cosine)'),
  'step-epochs': s('K', 'step schedule: decay every K epochs'),
  gamma: s('G', 'step schedule: decay factor (default 0.1)'),
  warmup: s('STEPS', 'linear warm-up steps (default 0)'),
  stem: s('pad|conv', 'S/SL models: zero-pad the input channels (default) or a learned 3×3 conv'),
  arch: s('cifar|imagenet|auto', "ResNets: 3×3 stem (cifar) or torchvision's 7×7 stride-2 stem + max-pool (imagenet); auto (default): imagenet for inputs ≥ 128 px"),
  augment: b('random crop (+ flip except on MNIST); --no-augment turns it off', true),
  seed: s('S', 'seed of init and data order (default 0)'),
  'require-hardware': b('fail fast on a software (CPU) adapter'),
  'max-steps-per-epoch': s('K', 'limit steps per epoch (quick runs)'),
  'max-eval-images': s('N', 'limit test images evaluated per epoch'),
  quiet: b('no progress output'),
  compile: b('record each step once and replay it; --no-compile keeps the eager path (same results)', true),
  precision: s('f32|mixed', 'mixed: f16 conv/blend/linear operands, f32 weights and BatchNorm, dynamic loss scaling (needs shader-f16; default f32)'),
};

const QUEUE: OptionTable = {
  'queue-name': s('N', 'BullMQ queue name (default onelayer-sweep)'),
  attempts: s('K', 'tries per run (default 3)'),
  'lock-duration': s('MS', 'job lock (default 60000)'),
  'stalled-interval': s('MS', 'stalled-job check interval (default 30000)'),
  'max-stalled': s('K', 'recoveries from dead workers before a job fails'),
  'redis-timeout': s('MS', 'give up when redis is unreachable this long (default 10000)'),
  trainer: s('MODULE', 'training function module (tests, custom trainers)'),
};

export const COMMANDS: Record<string, CommandSpec> = {
  info: {
    usage: 'onelayer info [--json] [--software]',
    summary: 'the WebGPU adapter: vendor, architecture, software/hardware, limits, features',
    options: { json: b('print JSON'), software: b('skip hardware adapters (use SwiftShader)') },
  },
  models: {
    usage: 'onelayer models [--classes 10] [--arch cifar|imagenet] [--json]',
    summary: "parameter table of every model and its compression factor C",
    options: {
      classes: s('K', 'number of classes (default 10)'),
      arch: s('cifar|imagenet', "the ResNets' form (default cifar); --classes 1000 --arch imagenet gives torchvision's counts"),
      json: b('print JSON'),
    },
  },
  train: {
    usage: 'onelayer train --model M [--width N] --out RUN_DIR [options]',
    summary: 'train a model into a run folder (checkpoint.safetensors, model.safetensors, metrics.jsonl, summary.json)',
    options: {
      model: s('M', 'vgg16, s-vgg16, sl-vgg16, resnet18/34/50 and their s-/sl- variants'),
      width: s('N', 'width n of the shared layer (S/SL models)'),
      out: s('RUN_DIR', 'run folder (default runs/<model>[-w<n>])'),
      resume: b('continue the run in --out from its checkpoint'),
      overwrite: b('replace the run in --out (its files are deleted first)'),
      ...TRAINING,
    },
  },
  eval: {
    usage: 'onelayer eval --checkpoint FILE [--dataset D] [--data PATH] [--val-fraction F] [--batch-size B]',
    summary: "evaluate a model.safetensors / checkpoint.safetensors on its dataset's test split",
    options: {
      checkpoint: s('FILE', 'safetensors checkpoint'),
      dataset: TRAINING.dataset,
      data: TRAINING.data,
      'val-fraction': s('F', "imagefolder split by a fraction (default: the checkpoint's)"),
      'image-cache': s('DIR', 'imagefolder / imagenet: keep decoded, resized crops in DIR (default $ONELAYER_IMAGE_CACHE; none)'),
      'batch-size': s('B', 'images per batch (default 100)'),
    },
  },
  profile: {
    usage: 'onelayer profile --model M [--width N] [--steps 5] [--batch-size 32] [--trace trace.json]',
    summary: 'per-kernel GPU times and host time per step, eager vs compiled; a Chrome trace',
    options: {
      model: s('M', 'model name'),
      width: s('N', 'width n (S/SL models)'),
      steps: s('K', 'steps to time (default 5)'),
      'batch-size': s('B', 'images per step (default 32)'),
      dataset: TRAINING.dataset,
      data: TRAINING.data,
      trace: s('FILE', 'write a Chrome trace (chrome://tracing, Perfetto)'),
      top: s('K', 'kernels listed (default 15)'),
      compile: TRAINING.compile,
      arch: TRAINING.arch,
      precision: TRAINING.precision,
    },
  },
  sweep: {
    usage: 'onelayer sweep --models a,b,c --widths 32,64 --dataset D --epochs E --out DIR [train options] [--queue redis://HOST:PORT]',
    summary: 'train every model × width, write results.csv and the accuracy-vs-C plot; skips finished runs with the same settings',
    options: {
      models: s('a,b,c', 'models (baselines once, S/SL models at every width)'),
      widths: s('n1,n2', 'widths of the shared layer'),
      out: s('DIR', 'sweep folder'),
      overwrite: b('retrain finished runs whose settings differ'),
      queue: s('redis://HOST:PORT', 'enqueue the runs for `onelayer worker`s instead of training here'),
      ...TRAINING,
      ...QUEUE,
    },
  },
  worker: {
    usage: 'onelayer worker --queue redis://HOST:PORT [--out-dir DIR]',
    summary: 'train queued sweep runs (SIGINT/SIGTERM hands the current job back)',
    options: { queue: s('redis://HOST:PORT', 'the sweep queue'), 'out-dir': s('DIR', 'train into DIR/<run> instead of the sweep folder'), ...QUEUE },
  },
  blends: {
    usage: 'onelayer blends --checkpoint FILE --out DIR',
    summary: "pictures of an SL model's blend matrices",
    options: {
      checkpoint: s('FILE', 'SL model checkpoint'),
      out: s('DIR', 'output folder'),
      k: s('K', 'entries marked per row, red = largest |w|, blue = smallest (default min(32, max(1, n/8)), as on the page; the paper: 32)'),
    },
  },
  prune: {
    usage: 'onelayer prune --checkpoint FILE [--fractions 0,0.1,...] [--per-layer] [--baselines SWEEP_DIR] [--out DIR]',
    summary: 'accuracy of an SL model as its blends are pruned',
    options: {
      checkpoint: s('FILE', 'SL model checkpoint'),
      fractions: s('f1,f2', 'fractions of blend entries to prune (default 0,0.1,...,0.9)'),
      'per-layer': b('prune each blend by its own threshold'),
      baselines: s('DIR|CSV', "a sweep's results, for equivalent-parameter points"),
      reference: s('MODEL', 'reference model in the baselines'),
      dataset: TRAINING.dataset,
      data: TRAINING.data,
      'batch-size': s('B', 'images per batch (default 100)'),
      'max-eval-images': TRAINING['max-eval-images'],
      out: s('DIR', 'output folder (default beside the checkpoint)'),
    },
  },
};

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The valid name closest to `name`, when it is close enough to be a likely typo. */
export function nearest(name: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const v of valid) {
    const d = v.replace(/-/g, '') === name.replace(/-/g, '') ? 0 : distance(name, v);
    if (d < bestD) [best, bestD] = [v, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** `onelayer <command> --help`. */
export function commandHelp(command: string): string {
  const spec = COMMANDS[command];
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = o.type === 'boolean' ? (o.defaultOn ? `--no-${name}` : `--${name}`) : `--${name} ${o.value ?? 'VALUE'}`;
    return `  ${flag.padEnd(40)} ${o.help}`;
  });
  return `usage: ${spec.usage}\n\n${spec.summary}\n\noptions:\n${rows.join('\n')}\n  ${'--help'.padEnd(40)} this text\n`;
}
