// The architecture, as rules that fail `npm test` (test/layers.test.ts runs dependency-cruiser's API with this
// file). docs/ARCHITECTURE.md explains the layers; this list is the one source of their order.
//
// Layers, bottom to top. A file may import its own layer and any layer below it, never one above. The order is
// the one the imports already had, not a wish: gpu (runtime, pool, kernels) knows nothing of how a device is
// found, device builds a gpu Runtime; tensors live on the device; autograd records tensors; ops record autograd
// nodes; and so on up to the command line.
const LAYERS = [
  'platform', // src/platform: Node file primitives (atomic write with fsync, reads, makeDirs); imports nothing of src
  'gpu', // runtime, pipeline/bind-group caches, buffer pool, capture, profiler, kernel registry
  'device', // init(): adapter + device (Dawn in Node, navigator.gpu in a browser) → a gpu Runtime
  'tensor', // Tensor, Storage, scopes, seeded random, compiled steps
  'autograd', // record / gradOf / backward
  'ops', // user-facing ops: forward dispatch + backward rule
  'nn', // Module and layers
  'optim', // SGD
  'models', // VGG, ResNet, shared S/SL variants
  'io', // safetensors
  'data', // datasets, loaders, augmentation
  'train', // trainer, checkpoints, run folders
  'analysis', // plots, sweeps, blend pictures, pruning
  'cli', // the `onelayer` command
];

// Files the browser bundle never loads: the `*-node.ts` rule, plus the folders that are Node-only as a whole and
// two older entry files that predate the suffix (src/device/node.ts, src/data/node.ts).
const NODE_ONLY = '(-node\\.ts$)|^src/(node|cli|platform)/|^src/device/node\\.ts$|^src/data/node\\.ts$';
// Where the Node-only rules apply: the library, and the demo page (demo/src), which imports src/ files directly.
const BROWSER = '^(src|demo/src)/';
// npm packages that need Node (native code, sockets, Dawn): like node:* builtins, only Node-only files import them.
const NODE_PACKAGES = '^node_modules/(sharp|@img|ioredis|bullmq|webgpu)/';

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may only import src/{${LAYERS.slice(0, i + 1).join(',')}}; it imports a layer above it`,
  severity: 'error',
  from: { path: `^src/${esc(layer)}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).map(esc).join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'an import cycle (type-only imports count: a cycle of types is still two files that cannot be read apart)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...upward,
    {
      name: 'entries-on-top',
      comment: 'src/index.ts (the package) and src/node/ (onelayer/node) only re-export; nothing inside src imports them',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/index\\.ts$|^src/node/' },
      to: { path: '^src/index\\.ts$|^src/node/' },
    },
    {
      name: 'layers-only',
      comment: 'every file of src belongs to a layer folder (or is an entry): a new folder must be added to LAYERS',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/(${LAYERS.map(esc).join('|')}|node)/|^src/index\\.ts$|\\.d\\.ts$` },
      to: {},
    },
    {
      name: 'node-builtin-in-browser-code',
      comment: 'a node:* (or bare builtin) import in a file the browser loads: move it to a *-node.ts file',
      severity: 'error',
      from: { path: BROWSER, pathNot: NODE_ONLY },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only', 'type-import'] },
    },
    {
      name: 'node-package-in-browser-code',
      comment: 'a Node-only npm package (native or server code) imported by a file the browser loads',
      severity: 'error',
      from: { path: BROWSER, pathNot: NODE_ONLY },
      to: { path: NODE_PACKAGES, dependencyTypesNot: ['type-only', 'type-import'] },
    },
    {
      name: 'node-file-in-browser-code',
      comment: 'a file the browser loads imports a Node-only file (types are fine: they are erased)',
      severity: 'error',
      from: { path: BROWSER, pathNot: NODE_ONLY },
      to: { path: NODE_ONLY, dependencyTypesNot: ['type-only', 'type-import'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too: they count for cycles and layers (a lower layer naming a higher
    // layer's type is an upward dependency), but not for the Node-only rules (erased before any bundle sees them).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'] },
  },
};
