// The router-override flags shared by eval and inspect: --router TYPE with --top-p, --k,
// --capacity-factor and --router-options JSON → a raw router object (validated by the model).
import { ROUTER_TYPES } from '../moe/index.js';
import { intFlag, numberFlag, stringFlag, UsageError } from './args.js';

export const ROUTER_FLAGS = {
  router: { type: 'string' }, 'top-p': { type: 'string' }, k: { type: 'string' },
  'capacity-factor': { type: 'string' }, 'router-options': { type: 'string' },
} as const;

export const ROUTER_USAGE = `  --router TYPE      route with another router (same weights): ${ROUTER_TYPES.join(', ')}
  --top-p P, --k K, --capacity-factor F, --router-options JSON   its options`;

/** `needsRouter`: further flags of the command that mean nothing without --router. */
export function routerFromFlags(cmd: string, values: Record<string, unknown>, needsRouter: readonly string[] = []): Record<string, unknown> | null {
  const type = stringFlag(values.router);
  const opts = ['top-p', 'k', 'capacity-factor', 'router-options', ...needsRouter].filter((f) => values[f] !== undefined);
  if (!type) {
    if (opts.length > 0) throw new UsageError(`moekit ${cmd}: --${opts[0]} needs --router TYPE`, `routers: ${ROUTER_TYPES.join(', ')}`);
    return null;
  }
  let router: Record<string, unknown> = { type };
  const extra = stringFlag(values['router-options']);
  if (extra !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(extra);
    } catch (e) {
      throw new UsageError(`moekit ${cmd}: --router-options is not valid JSON (${(e as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`moekit ${cmd}: --router-options must be a JSON object`);
    router = { ...router, ...(parsed as Record<string, unknown>) };
  }
  const topP = numberFlag(cmd, 'top-p', values['top-p']);
  if (topP !== undefined) router.top_p = topP;
  const k = intFlag(cmd, 'k', values.k);
  if (k !== undefined) router.k = k;
  const cf = numberFlag(cmd, 'capacity-factor', values['capacity-factor']);
  if (cf !== undefined) router.capacity_factor = cf;
  return router;
}
