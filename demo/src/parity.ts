// Chromium side of the parity test: runs the shared case and posts the result on window for run.mjs to read.
import { runParityCase } from './parity-case.js';

const w = window as unknown as { parityResult?: unknown; parityError?: string };
const status = document.getElementById('status')!;
runParityCase().then(
  (r) => {
    w.parityResult = r;
    status.textContent = `done: loss ${r.loss}`;
  },
  (e: unknown) => {
    w.parityError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    status.textContent = `failed: ${w.parityError}`;
  },
);
