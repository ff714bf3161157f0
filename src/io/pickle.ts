// A safe unpickler for the `data.pkl` record of PyTorch checkpoints (interop.md §2.2–2.4).
//
// It is a stack machine over exactly the opcodes of §2.2 (protocol 2, plus the protocol-4 framing and
// short forms); any other opcode is refused. Nothing is ever executed: GLOBAL names are checked against
// the allowlist of §2.3 the moment they are read, REDUCE maps the few allowed callables to builders
// that return plain descriptors (dicts, tensor references), and the result is data only. Every length
// and memo index is bounds-checked, every opcode consumes at least one byte, nothing recurses: a
// hostile stream cannot hang, overflow the stack or allocate more than its own size.
import { PytorchBinError } from './errors.js';

/** A storage record referenced by BINPERSID (§2.4): `data/<key>` holds `numel` elements of `storageType`. */
export class StorageRef {
  constructor(
    /** The torch storage class name, e.g. "FloatStorage" (§2.3). */
    readonly storageType: string,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}

/** What `_rebuild_tensor_v2` describes (§2.4): a strided view of a storage; offset and strides in elements. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

export class PyTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

export class PyList {
  readonly items: PickleValue[] = [];
}

/** A dict or OrderedDict; keys are compared as JS Map keys (strings and ints by value). */
export class PyDict {
  readonly entries = new Map<PickleValue, PickleValue>();
  constructor(readonly ordered: boolean) {}
}

/** A Python float (kept apart from ints, which are JS numbers or, past 2^53, bigints). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** An allowlisted global (§2.3); nothing else can be named by a checkpoint. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

export type PickleValue = null | boolean | number | bigint | string | PyFloat | PyTuple | PyList | PyDict | PyGlobal | StorageRef | TensorRef;

/** The torch storage classes of §2.3 (GLOBAL `torch <name>`); which of them moekit can read is up to the caller. */
export const STORAGE_TYPES: ReadonlySet<string> = new Set([
  'FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage', 'ShortStorage',
  'CharStorage', 'ByteStorage', 'BoolStorage',
]);

/** The callables of §2.3, as "module name". */
const CALLABLES: ReadonlySet<string> = new Set([
  'collections OrderedDict', 'torch._utils _rebuild_tensor_v2', 'torch._utils _rebuild_tensor', 'torch._utils _rebuild_parameter',
]);

function isAllowedGlobal(module: string, name: string): boolean {
  return CALLABLES.has(`${module} ${name}`) || (module === 'torch' && STORAGE_TYPES.has(name));
}

// Opcodes of §2.2.
const OP = {
  PROTO: 0x80, FRAME: 0x95, STOP: 0x2e, GLOBAL: 0x63, STACK_GLOBAL: 0x93, REDUCE: 0x52, BUILD: 0x62, NEWOBJ: 0x81,
  BINPERSID: 0x51, MARK: 0x28, TUPLE: 0x74, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, EMPTY_TUPLE: 0x29,
  EMPTY_LIST: 0x5d, EMPTY_DICT: 0x7d, APPEND: 0x61, APPENDS: 0x65, SETITEM: 0x73, SETITEMS: 0x75, NONE: 0x4e,
  NEWTRUE: 0x88, NEWFALSE: 0x89, BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, LONG1: 0x8a, BINFLOAT: 0x47,
  BINUNICODE: 0x58, SHORT_BINUNICODE: 0x8c, SHORT_BINSTRING: 0x55, BINPUT: 0x71, LONG_BINPUT: 0x72, MEMOIZE: 0x94,
  BINGET: 0x68, LONG_BINGET: 0x6a,
} as const;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

const HOSTILE = 'the file may be malicious or corrupt; moekit never runs pickle code — convert trusted checkpoints to safetensors';

/**
 * Run the pickle stream `bytes` (`source` names it in errors, e.g. "model.bin: archive/data.pkl") and
 * return the single value it leaves. Storages and tensors come back as StorageRef / TensorRef: no
 * tensor data is touched here.
 */
export function unpickle(bytes: Uint8Array, source: string): PickleValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PickleValue[] = [];
  const marks: number[] = []; // stack heights at each open MARK
  const memo = new Map<number, PickleValue>();
  const storages = new Map<string, StorageRef>();
  let pos = 0;
  let opAt = 0;

  const fail = (what: string, code: 'InvalidPickle' | 'UnsupportedOpcode' = 'InvalidPickle', hint?: string) =>
    new PytorchBinError(code, `${source}: ${what} at byte ${opAt}`, hint ?? HOSTILE);
  const need = (n: number): number => {
    if (n > bytes.length - pos) throw fail(`opcode 0x${hex(bytes[opAt])} needs ${n} more bytes but the stream ends at byte ${bytes.length}`);
    const at = pos;
    pos += n;
    return at;
  };
  const utf8 = (n: number): string => {
    const at = need(n);
    try {
      return UTF8.decode(bytes.subarray(at, at + n));
    } catch {
      throw fail('a string that is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw fail('GLOBAL: a name without its terminating newline');
    return utf8(end - pos + 1).slice(0, -1);
  };
  const floor = () => (marks.length ? marks[marks.length - 1] : 0);
  const pop = (): PickleValue => {
    if (stack.length <= floor()) throw fail('stack underflow');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length <= floor()) throw fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const mark = marks.pop();
    if (mark === undefined) throw fail('no MARK to pop to');
    return stack.splice(mark);
  };
  const global = (module: string, name: string): PyGlobal => {
    if (!isAllowedGlobal(module, name)) {
      throw new PytorchBinError('ForbiddenGlobal', `${source}: forbidden pickle global ${JSON.stringify(`${module} ${name}`)} at byte ${opAt}; `
        + 'a checkpoint may only name torch tensor rebuilders, torch storage types and collections.OrderedDict (interop.md §2.3)', HOSTILE);
    }
    return new PyGlobal(module, name);
  };
  const persistentLoad = (pid: PickleValue): StorageRef => {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [tag, type, key, location, numel] = items;
    if (items.length !== 5 || tag !== 'storage' || !(type instanceof PyGlobal) || type.module !== 'torch' || !STORAGE_TYPES.has(type.name)
      || typeof key !== 'string' || typeof location !== 'string' || !isIndex(numel)) {
      throw fail(`BINPERSID: expected ("storage", <torch storage type>, key, location, numel), found ${describe(pid)}`);
    }
    const known = storages.get(key);
    if (known && (known.storageType !== type.name || known.numel !== numel)) {
      throw fail(`storage ${JSON.stringify(key)} is referenced as ${known.storageType}[${known.numel}] and as ${type.name}[${numel}]`);
    }
    const ref = known ?? new StorageRef(type.name, key, location, numel);
    storages.set(key, ref);
    return ref;
  };
  const call = (fn: PickleValue, args: PickleValue, via: string): PickleValue => {
    if (!(fn instanceof PyGlobal) || !CALLABLES.has(`${fn.module} ${fn.name}`)) {
      throw fail(`${via}: ${describe(fn)} is not an allowed callable`);
    }
    if (!(args instanceof PyTuple)) throw fail(`${via} ${fn}: expected an argument tuple, found ${describe(args)}`);
    const a = args.items;
    switch (fn.name) {
      case 'OrderedDict':
        if (a.length !== 0) throw fail(`${via} collections.OrderedDict: expected no arguments, found ${a.length}`);
        return new PyDict(true);
      case '_rebuild_parameter':
        if (a.length !== 3 || !(a[0] instanceof TensorRef)) throw fail(`${via} ${fn}: expected (tensor, requires_grad, hooks), found ${describe(args)}`);
        return a[0];
      default: // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) or _rebuild_tensor(first four)
        return rebuildTensor(fn, a, (what) => fail(`${via} ${fn}: ${what}`));
    }
  };

  for (;;) {
    opAt = pos;
    if (pos >= bytes.length) throw fail(`the pickle stream ended without STOP (${bytes.length} bytes)`);
    const op = bytes[pos++];
    switch (op) {
      case OP.PROTO: {
        const v = bytes[need(1)];
        if (v < 2 || v > 5) throw fail(`pickle protocol ${v}; expected 2 to 5`);
        break;
      }
      case OP.FRAME: {
        const n = dv.getBigUint64(need(8), true);
        if (n > BigInt(bytes.length - pos)) throw fail(`FRAME of ${n} bytes runs past the end of the stream`);
        break;
      }
      case OP.STOP: {
        if (stack.length !== 1 || marks.length !== 0) throw fail(`STOP with ${stack.length} values and ${marks.length} open MARKs on the stack; expected one value`);
        return stack[0];
      }
      case OP.GLOBAL: {
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case OP.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail(`STACK_GLOBAL: expected two strings, found ${describe(module)} and ${describe(name)}`);
        stack.push(global(module, name));
        break;
      }
      case OP.REDUCE: {
        const args = pop();
        stack.push(call(pop(), args, 'REDUCE'));
        break;
      }
      case OP.NEWOBJ: {
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyGlobal) || cls.name !== 'OrderedDict') throw fail(`NEWOBJ: only collections.OrderedDict may be instantiated, found ${describe(cls)}`);
        stack.push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case OP.BUILD: {
        pop(); // the state: an OrderedDict's attributes (a state_dict's `_metadata`) are not needed (§2.3)
        const obj = top();
        if (!(obj instanceof TensorRef) && !(obj instanceof PyDict && obj.ordered)) throw fail(`BUILD on ${describe(obj)}; only an OrderedDict or a tensor may be built`);
        break;
      }
      case OP.BINPERSID:
        stack.push(persistentLoad(pop()));
        break;
      case OP.MARK:
        marks.push(stack.length);
        break;
      case OP.TUPLE:
        stack.push(new PyTuple(popMark()));
        break;
      case OP.TUPLE1: case OP.TUPLE2: case OP.TUPLE3: {
        const n = op - OP.TUPLE1 + 1;
        if (stack.length - floor() < n) throw fail('stack underflow');
        stack.push(new PyTuple(stack.splice(stack.length - n)));
        break;
      }
      case OP.EMPTY_TUPLE: stack.push(new PyTuple([])); break;
      case OP.EMPTY_LIST: stack.push(new PyList()); break;
      case OP.EMPTY_DICT: stack.push(new PyDict(false)); break;
      case OP.APPEND: case OP.APPENDS: {
        const items = op === OP.APPEND ? [pop()] : popMark();
        const list = top();
        if (!(list instanceof PyList)) throw fail(`APPEND to ${describe(list)}; only a list can be appended to`);
        for (const item of items) list.items.push(item);
        break;
      }
      case OP.SETITEM: case OP.SETITEMS: {
        const items = op === OP.SETITEM ? [pop(), pop()].reverse() : popMark();
        const dict = top();
        if (!(dict instanceof PyDict)) throw fail(`SETITEM on ${describe(dict)}; only a dict can take items`);
        if (items.length % 2 !== 0) throw fail(`SETITEMS with an odd number (${items.length}) of keys and values`);
        for (let i = 0; i < items.length; i += 2) dict.entries.set(items[i], items[i + 1]);
        break;
      }
      case OP.NONE: stack.push(null); break;
      case OP.NEWTRUE: stack.push(true); break;
      case OP.NEWFALSE: stack.push(false); break;
      case OP.BININT: stack.push(dv.getInt32(need(4), true)); break;
      case OP.BININT1: stack.push(bytes[need(1)]); break;
      case OP.BININT2: stack.push(dv.getUint16(need(2), true)); break;
      case OP.LONG1: {
        const n = bytes[need(1)];
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
        if (n > 0 && bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n); // two's complement
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case OP.BINFLOAT: stack.push(new PyFloat(dv.getFloat64(need(8), false))); break; // big-endian (§2.2)
      case OP.BINUNICODE: stack.push(utf8(dv.getUint32(need(4), true))); break;
      case OP.SHORT_BINUNICODE: case OP.SHORT_BINSTRING: stack.push(utf8(bytes[need(1)])); break;
      case OP.BINPUT: memo.set(bytes[need(1)], top()); break;
      case OP.LONG_BINPUT: memo.set(dv.getUint32(need(4), true), top()); break;
      case OP.MEMOIZE: memo.set(memo.size, top()); break;
      case OP.BINGET: case OP.LONG_BINGET: {
        const i = op === OP.BINGET ? bytes[need(1)] : dv.getUint32(need(4), true);
        if (!memo.has(i)) throw fail(`memo index ${i} was never stored (memo holds ${memo.size} values)`);
        stack.push(memo.get(i) as PickleValue);
        break;
      }
      default:
        throw fail(`unsupported pickle opcode 0x${hex(op)}`, 'UnsupportedOpcode',
          'moekit reads the pickle subset torch.save writes (interop.md §2.2); re-save the checkpoint with torch.save or convert it to safetensors');
    }
  }
}

function rebuildTensor(fn: PyGlobal, a: readonly PickleValue[], fail: (what: string) => PytorchBinError): TensorRef {
  const v2 = fn.name === '_rebuild_tensor_v2';
  if (v2 ? a.length !== 6 && a.length !== 7 : a.length !== 4) {
    throw fail(`expected ${v2 ? '6 or 7' : '4'} arguments (storage, offset, size, stride${v2 ? ', requires_grad, hooks[, metadata]' : ''}), found ${a.length}`);
  }
  const [storage, offset, size, stride] = a;
  if (!(storage instanceof StorageRef)) throw fail(`the storage must come from BINPERSID, found ${describe(storage)}`);
  if (!isIndex(offset)) throw fail(`storage offset must be a non-negative integer, found ${describe(offset)}`);
  const dims = indexTuple(size);
  const steps = indexTuple(stride);
  if (!dims || !steps || dims.length !== steps.length) {
    throw fail(`size and stride must be tuples of non-negative integers of one length, found ${describe(size)} and ${describe(stride)}`);
  }
  if (v2 && (typeof a[4] !== 'boolean' || !(a[5] instanceof PyDict))) {
    throw fail(`requires_grad must be a bool and backward_hooks a dict, found ${describe(a[4])} and ${describe(a[5])}`);
  }
  return new TensorRef(storage, offset, dims, steps);
}

function indexTuple(v: PickleValue): number[] | null {
  if (!(v instanceof PyTuple) || !v.items.every(isIndex)) return null;
  return v.items as number[];
}

function isIndex(v: PickleValue): v is number {
  return typeof v === 'number' && v >= 0;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/** A short description of a value for error messages (never recursive). */
export function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the int ${v}`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof PyFloat) return `the float ${v.value}`;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  if (v instanceof PyList) return `a list of ${v.items.length}`;
  if (v instanceof PyDict) return `${v.ordered ? 'an OrderedDict' : 'a dict'} of ${v.entries.size}`;
  if (v instanceof PyGlobal) return `the global ${v}`;
  if (v instanceof StorageRef) return `storage ${JSON.stringify(v.key)}`;
  return 'a tensor';
}
