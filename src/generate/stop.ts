// Stop strings over streamed text: generation ends at the first occurrence of any stop string, the stop
// string itself is never returned, and no text that could be the beginning of a stop string is emitted
// until the following text rules it out (a stop string may span several tokens).
import { ConfigError } from '../tensor/index.js';

export interface StopCheck {
  /** Text safe to emit now. */
  emit: string;
  /** A stop string was found: `emit` is the text before it, and generation ends. */
  stopped: boolean;
}

export class StopStrings {
  /** Text not yet emitted: the longest suffix of what came so far that begins some stop string. */
  private held = '';

  constructor(readonly stops: readonly string[]) {
    for (const s of stops) if (s === '') throw new ConfigError('a stop string must not be empty');
  }

  push(piece: string): StopCheck {
    const text = this.held + piece;
    let first = -1;
    for (const s of this.stops) {
      const at = text.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    if (first >= 0) {
      this.held = '';
      return { emit: text.slice(0, first), stopped: true };
    }
    // Every stop string that starts in `text` and is not complete runs to its end, so it is a suffix
    // of `text` that is a proper prefix of the stop string: hold the longest such suffix back.
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
        if (text.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    this.held = text.slice(text.length - hold);
    return { emit: text.slice(0, text.length - hold), stopped: false };
  }

  /** The held text, when generation ends for another reason (it never became a stop string). */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}
