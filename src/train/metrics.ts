// metrics.jsonl: one JSON object per logged step (step, tokens, train_loss, lr, tok_per_s, and
// val_loss / val_ppl on evaluation steps). On resume the lines after the checkpoint's step are cut, so
// the file reads as if the run had never stopped.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';

export type MetricsRecord = Record<string, unknown> & { step: number };

export class MetricsLog {
  constructor(readonly path: string) {}

  /** Start fresh, or keep only records with step <= keepUpTo (resume). */
  reset(keepUpTo = 0): void {
    const kept = keepUpTo > 0 ? this.read().filter((r) => r.step <= keepUpTo) : [];
    writeFileAtomic(this.path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  append(rec: MetricsRecord): void {
    appendFileSync(this.path, JSON.stringify(rec) + '\n');
  }

  read(): MetricsRecord[] {
    if (!existsSync(this.path)) return [];
    const out: MetricsRecord[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as MetricsRecord);
      } catch {
        break; // a torn last line from a crash: everything before it is intact
      }
    }
    return out;
  }
}
