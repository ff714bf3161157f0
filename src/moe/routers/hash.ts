// Hash layers (spec §7; Roller et al., arXiv 2106.04426): the expert is a fixed function of the input
// token id — weight 1, no router parameters, no gradient, no balance loss. The table is plain data
// (saved with the checkpoint); hash_tables.ts builds the paper's variants.
import { AssignmentBuilder } from '../assignment.js';
import { applyCapacity, DROPLESS } from '../capacity.js';
import { CAPACITY_KEYS, readCapacity, type CapacityConfig } from '../config.js';
import { RoutingError } from '../math.js';
import { Rng } from '../../tensor/index.js';
import { randomHashTable } from '../hash_tables.js';
import type { RouterModule } from './types.js';

export interface HashConfig extends CapacityConfig {
  type: 'hash';
  /** token id → expert. Given directly, or drawn as a random table from `vocab_size` and `seed`. */
  table: number[];
}

export const hash: RouterModule<HashConfig> = {
  keys: ['table', 'vocab_size', 'seed', ...CAPACITY_KEYS],

  parse(r, numExperts) {
    const capacity = readCapacity(r, numExperts);
    const given = r.raw('table');
    if (given !== undefined && (r.raw('vocab_size') !== undefined || r.raw('seed') !== undefined)) {
      r.fail('table', 'and "vocab_size"/"seed" exclude each other: give a table, or a vocabulary size (and seed) to draw one');
    }
    if (given === undefined) {
      if (r.raw('vocab_size') === undefined) r.fail('table', 'is required (or give "vocab_size" and "seed" for a random table)');
      const vocabSize = r.integer('vocab_size', 0, 1, 2 ** 31 - 1);
      const table = randomHashTable(vocabSize, numExperts, new Rng(r.integer('seed', 0, 0, 2 ** 32 - 1)));
      return { type: 'hash', table: Array.from(table), ...capacity };
    }
    const table: unknown[] = Array.isArray(given) ? given : [];
    if (table.length === 0) r.fail('table', 'must be a non-empty list of expert indices');
    table.forEach((e, id) => {
      if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e >= numExperts) r.fail('table', `entry ${id} must be an expert index in [0, ${numExperts}), got ${JSON.stringify(e)}`);
    });
    return { type: 'hash', table: table as number[], ...capacity };
  },

  route(logits, T, E, config, ctx) {
    const ids = ctx.tokenIds;
    if (!ids || ids.length !== T) throw new RoutingError(`hash router: needs the ${T} input token ids, got ${ids ? ids.length : 'none'}`, 'pass ctx.tokenIds (CLI: --token-ids 1,2,3)');
    const probs = new Float32Array(T * E); // one-hot of the table's expert [T, E]
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      const expert = config.table[ids[t]];
      if (expert === undefined) throw new RoutingError(`hash router: token ${t} has id ${ids[t]}, outside the table's ${config.table.length} ids`);
      if (expert >= E) throw new RoutingError(`hash router: the table maps id ${ids[t]} to expert ${expert}, but the layer has ${E}`);
      probs[t * E + expert] = 1;
      pairs.push(t, expert, 1, 0); // y_t = FFN_{h(x_t)}(u_t), w = 1
    }
    const assignment = pairs.finish();
    const capacity = applyCapacity(assignment, T, E, ctx.capacity ?? DROPLESS, ctx.training, 1);
    return { assignment, capacity, probs, backward: () => new Float32Array(T * E) }; // no learned-routing gradient
  },

  auxLosses: () => [],
};
