// Tensor-name rewriting between a checkpoint and moekit's parameters, both directions, from one rule
// list per architecture (types.ts NameRule). Names no rule matches are the same on both sides.
import type { NameRule } from './types.js';

interface Compiled {
  from: RegExp;
  to: string;
}

function compile(rules: readonly NameRule[], dir: 'load' | 'save'): Compiled[] {
  return rules.map((r) => {
    const [pattern, template] = dir === 'load' ? [r.hf, r.moekit] : [r.moekit, r.hf];
    // The other side's template becomes a regex: `$n` → a capture group, dots literal.
    const literalDots = pattern.replace(/\./g, '\\.');
    const source = dir === 'load' ? literalDots : literalDots.replace(/\$\d/g, '(\\d+|[a-z_]+)');
    const to = dir === 'load' ? template : toTemplate(r.hf);
    return { from: new RegExp(`^${source}$`), to };
  });
}

/** `model.layers.(\d+).x.(a|b).weight` → `model.layers.$1.x.$2.weight`. */
function toTemplate(pattern: string): string {
  let n = 0;
  return pattern.replace(/\([^)]*\)/g, () => `$${++n}`);
}

export class NameMapper {
  private readonly load: Compiled[];
  private readonly save: Compiled[];
  constructor(rules: readonly NameRule[]) {
    this.load = compile(rules, 'load');
    this.save = compile(rules, 'save');
  }

  /** Checkpoint name → moekit parameter name. */
  toMoekit(name: string): string {
    return apply(this.load, name);
  }

  /** moekit parameter name → checkpoint name (export). */
  toHf(name: string): string {
    return apply(this.save, name);
  }
}

function apply(rules: Compiled[], name: string): string {
  for (const r of rules) {
    const m = r.from.exec(name);
    if (m) return r.to.replace(/\$(\d)/g, (_, i: string) => m[Number(i)]);
  }
  return name;
}
