// The dispatch profiler in the worker: a request is armed at the next step boundary (the step in flight when the
// request came is not timed) and collected after `steps` timed steps. Evaluation and pauses between epochs are
// not training steps: the profiler is attached only while trainEpoch runs.
import { Profiler, summarize, chromeTrace } from '../../src/gpu/profiler.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import type { Event } from './protocol.js';

interface Active {
  profiler: Profiler;
  steps: number;
  done: number;
  armed: boolean;
}

export class StepProfiler {
  private active: Active | null = null;

  constructor(private readonly post: (m: Event) => void) {}

  get pending(): boolean {
    return this.active !== null;
  }

  request(rt: Runtime, steps: number): void {
    if (this.active) throw new Error('A profile is already being taken.');
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`Profile steps must be an integer ≥ 1, got ${steps}.`);
    // Throws a clear message when the device lacks 'timestamp-query' (Chrome without the flag).
    this.active = { profiler: new Profiler(rt), steps, done: 0, armed: false };
  }

  /** Before trainEpoch: re-attach an armed profile. */
  epochStart(): void {
    if (this.active?.armed) this.active.profiler.start();
  }

  epochEnd(): void {
    this.active?.profiler.stop();
  }

  /** After each step; returns true when the profile is complete and should be collected. */
  step(): boolean {
    const p = this.active;
    if (!p) return false;
    if (!p.armed) {
      p.armed = true;
      p.profiler.start();
      return false;
    }
    return ++p.done >= p.steps;
  }

  async finish(label: string): Promise<void> {
    const p = this.active;
    if (!p) return;
    this.active = null;
    try {
      p.profiler.stop();
      const timings = await p.profiler.collect();
      if (p.done === 0) throw new Error('Training ended before a profiled step completed.');
      const gpuMs = timings.reduce((sum, t) => sum + t.durationUs, 0) / 1000;
      const trace = JSON.stringify(chromeTrace(timings, `${label} (${p.done} steps)`));
      this.post({ type: 'profile', steps: p.done, dispatches: timings.length, gpuMs, rows: summarize(timings), trace });
    } catch (e) {
      this.post({ type: 'error', kind: 'profiler', message: e instanceof Error ? e.message : String(e) });
    } finally {
      p.profiler.destroy();
    }
  }

  /** On a failed or lost device the queries cannot be read back: the profile is dropped. */
  drop(): void {
    const p = this.active;
    if (!p) return;
    this.active = null;
    try {
      p.profiler.destroy();
    } catch {
      // The device may be gone; its query sets went with it.
    }
    this.post({ type: 'error', kind: 'profiler', message: 'The profile was dropped: training failed before it finished.' });
  }
}
