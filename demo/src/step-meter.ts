// Per-step numbers for the charts from the Trainer's per-epoch running means and the time between steps.

/** Per-step values from the trainer's running means (batches are equal-sized: dropLast), and per-step speed. */
export class StepMeter {
  private prevLoss = 0;
  private prevAcc = 0;
  private prevEpoch = -1;
  private lastTime: number | null = null;

  /** A trainEpoch call begins: its first step compiles, so it has no speed of its own. */
  call(epoch: number): void {
    this.lastTime = null;
    // A paused epoch continues with its running means: reset only for a new epoch.
    if (epoch !== this.prevEpoch) {
      this.prevLoss = this.prevAcc = 0;
      this.prevEpoch = epoch;
    }
  }

  step(step: number, meanLoss: number, meanAcc: number, batch: number): { loss: number; accuracy: number; ips: number | null } {
    const loss = meanLoss * step - this.prevLoss * (step - 1);
    const accuracy = meanAcc * step - this.prevAcc * (step - 1);
    this.prevLoss = meanLoss;
    this.prevAcc = meanAcc;
    const now = performance.now();
    const ips = this.lastTime === null ? null : batch / ((now - this.lastTime) / 1000);
    this.lastTime = now;
    return { loss, accuracy, ips };
  }
}
