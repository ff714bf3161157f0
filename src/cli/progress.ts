// A one-line progress bar on stderr: bar, step counter, named figures (loss, tok/s, ...) and ETA.
// On a terminal it redraws in place; elsewhere (CI logs, pipes) it prints a line at most every few
// seconds so logs stay readable.

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export class ProgressBar {
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly start = performance.now();
  private lastPrint = 0;
  private startDone = 0;
  private drawn = false;

  constructor(private readonly label: string, private readonly total: number, private readonly width = 24) {}

  /** Work already done when this bar starts (resume): excluded from the rate behind the ETA. */
  resumeFrom(done: number): void {
    this.startDone = done;
  }

  update(done: number, figures: Record<string, string> = {}, force = false): void {
    const now = performance.now();
    if (!force && !this.tty && now - this.lastPrint < 5000 && done < this.total) return;
    if (!force && this.tty && now - this.lastPrint < 100 && done < this.total) return;
    this.lastPrint = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const filled = Math.round(frac * this.width);
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? (frac >= 1 ? '=' : '>') : '') + ' '.repeat(this.width - filled);
    const elapsed = (now - this.start) / 1000;
    const rate = (done - this.startDone) / Math.max(1e-9, elapsed);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const figs = Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(' | ');
    const line = `${this.label} [${bar}] ${done}/${this.total}${figs ? ' | ' + figs : ''} | ETA ${frac >= 1 ? '0s' : formatDuration(eta)}`;
    if (this.tty) {
      process.stderr.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      process.stderr.write(line + '\n');
    }
  }

  /** End the bar's line (on a terminal) so later output starts on a fresh line. */
  finish(): void {
    if (this.tty && this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }

  /** Print a message without tearing the bar. */
  log(message: string): void {
    if (this.tty && this.drawn) process.stderr.write('\r\x1b[K');
    process.stderr.write(message + '\n');
    this.lastPrint = 0;
  }
}
