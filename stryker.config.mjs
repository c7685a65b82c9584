// Mutation testing (StrykerJS + its vitest runner): `npm run mutate`. Not part of CI's default run: on the
// software WebGPU adapter a full run takes hours (every mutant re-runs the GPU tests that cover it).
// StrykerJS 10 needs Node >= 22. One folder at a time, with the tests that cover it, e.g.
//   npx stryker run --mutate 'src/models/**/*.ts' --testFiles test/models.test.ts,test/nn.test.ts
//   npx stryker run --mutate 'src/io/**/*.ts' --testFiles test/safetensors.test.ts,test/fuzz-readers.test.ts
// Reports: runs/mutation/ (runs/ is git-ignored), scratch copies in runs/.stryker-tmp.
// @ts-check
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.config.ts' },
  // Each mutant runs only the tests that executed it in the initial run.
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants: VGG16_CFG, RESNET_STAGES, MODEL_NAMES, message tables) are not
  // activated by the vitest runner here (10.1 with vitest 4.1): they run every test, pass, and are reported as
  // survivors, while the same edits made by hand fail the model tests (VGG16_CFG's first 'M' → '' fails 16).
  // Each would cost a full run of the test files below, so they are left out.
  ignoreStatic: true,
  mutate: [
    'src/train/**/*.ts',
    'src/io/**/*.ts',
    'src/models/**/*.ts',
    'src/data/**/*.ts',
    // Declarations and type-only modules hold no code to mutate.
    '!src/**/*.d.ts',
    '!src/train/types.ts',
    // Node-only: its tests are whole training runs in child processes (train.test.ts, resume-kill.test.ts:
    // minutes each, and a child process reports no per-test coverage to Stryker). The pieces it wires together
    // (schedule, checkpoint, trainer, fingerprint, models, data) are mutated in their own files.
    '!src/train/run-node.ts',
  ],
  // The test files that exercise these folders (the rest of the suite is kernels, autograd, analysis, CLI).
  testFiles: [
    'test/schedule.test.ts',
    'test/safetensors.test.ts',
    'test/fuzz-*.test.ts',
    'test/models.test.ts',
    'test/nn.test.ts',
    'test/data.test.ts',
    'test/train.test.ts',
    'test/resume-kill.test.ts',
  ],
  // Two shared cores, and every worker drives its own (software) WebGPU device.
  concurrency: 1,
  // GPU tests: the first compile of a kernel can take tens of seconds (Mesa then caches it).
  timeoutMS: 120_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 60,
  ignorePatterns: ['dist', 'demo', 'docs', 'bench', 'runs', 'sweeps', 'test/browser'],
  tempDirName: 'runs/.stryker-tmp',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'runs/mutation/mutation.html' },
  jsonReporter: { fileName: 'runs/mutation/mutation.json' },
  cleanTempDir: true,
};
