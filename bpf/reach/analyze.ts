/**
 * What one eBPF program uses, read from its instructions: helper calls (by
 * id), kfunc calls (by the symbol their call is relocated against), context
 * fields (loads and stores through the context pointer, followed through
 * register copies and stack spills), and instruction features that older
 * verifiers refuse (JMP32, atomic fetch operations, loops).
 */
import type { Instruction, Program } from './elf.ts';

export type Use =
  | { kind: 'helper'; id: number }
  | { kind: 'kfunc'; name: string }
  | { kind: 'context'; offset: number; size: number; write: boolean }
  | { kind: 'instruction'; feature: 'jmp32' | 'loop' | 'atomic_fetch' };

const CLASS = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, JMP32: 6, ALU64: 7 } as const;
const MODE_MEM = 0x60;
const MODE_ATOMIC = 0xc0;
const OP_CALL = 0x80;
const OP_EXIT = 0x90;
const OP_JA = 0x00;
const OP_MOV = 0xb0;
const SOURCE_X = 0x08;
const LD_IMM64 = 0x18;
const PSEUDO_CALL = 1;
const ATOMIC_ADD = 0x00;
const FP = 10;

/** Which registers and stack slots hold the context pointer at an instruction. */
interface CtxState {
  regs: number;
  slots: ReadonlySet<number>;
}

const sizeOf = (code: number) => [4, 2, 1, 8][(code >> 3) & 3]!;

/** Successor instruction indexes. */
function successors(insns: Instruction[], pc: number): number[] {
  const i = insns[pc]!;
  const cls = i.code & 7;
  if (i.code === LD_IMM64) return [pc + 2];
  if (cls !== CLASS.JMP && cls !== CLASS.JMP32) return [pc + 1];
  const op = i.code & 0xf0;
  if (op === OP_EXIT) return [];
  if (op === OP_CALL) return [pc + 1];
  if (op === OP_JA && cls === CLASS.JMP) return [pc + 1 + i.off];
  return [pc + 1, pc + 1 + i.off];
}

/** The context state after instruction `i`, and the context field it touches, if any. */
function step(i: Instruction, state: CtxState, uses: Map<string, Use>): CtxState {
  const cls = i.code & 7;
  const isCtx = (r: number) => (state.regs >> r) & 1;
  const setReg = (regs: number, r: number, ctx: boolean) => (ctx ? regs | (1 << r) : regs & ~(1 << r));
  if (i.code === LD_IMM64) return { regs: setReg(state.regs, i.dst, false), slots: state.slots };
  if (cls === CLASS.LDX && (i.code & 0xe0) === MODE_MEM) {
    if (isCtx(i.src)) add(uses, { kind: 'context', offset: i.off, size: sizeOf(i.code), write: false });
    const filled = i.src === FP && sizeOf(i.code) === 8 && state.slots.has(i.off);
    return { regs: setReg(state.regs, i.dst, filled), slots: state.slots };
  }
  if (cls === CLASS.STX || cls === CLASS.ST) {
    if ((i.code & 0xe0) === MODE_ATOMIC && i.imm !== ATOMIC_ADD) add(uses, { kind: 'instruction', feature: 'atomic_fetch' });
    if (isCtx(i.dst)) add(uses, { kind: 'context', offset: i.off, size: sizeOf(i.code), write: true });
    if (i.dst !== FP) return state;
    const slots = new Set(state.slots);
    if (cls === CLASS.STX && sizeOf(i.code) === 8 && isCtx(i.src)) slots.add(i.off);
    else slots.delete(i.off);
    return { regs: state.regs, slots };
  }
  if (cls === CLASS.JMP || cls === CLASS.JMP32) {
    if (cls === CLASS.JMP32) add(uses, { kind: 'instruction', feature: 'jmp32' });
    if ((i.code & 0xf0) !== OP_CALL) return state;
    if (i.src === PSEUDO_CALL) {
      if (!i.symbol) throw new Error('a call to a BPF subprogram: zonetap programs inline every function (__always_inline), so this check does not follow calls');
      add(uses, { kind: 'kfunc', name: i.symbol });
    } else {
      add(uses, { kind: 'helper', id: i.imm });
    }
    return { regs: state.regs & ~0b111111, slots: state.slots }; // r0-r5 are clobbered
  }
  if (cls === CLASS.ALU64 && (i.code & 0xf0) === OP_MOV && i.code & SOURCE_X) return { regs: setReg(state.regs, i.dst, isCtx(i.src) === 1), slots: state.slots };
  if (cls === CLASS.ALU || cls === CLASS.ALU64) return { regs: setReg(state.regs, i.dst, false), slots: state.slots };
  return state;
}

function add(uses: Map<string, Use>, use: Use): void {
  uses.set(JSON.stringify(use), use);
}

function merge(a: CtxState, b: CtxState): CtxState {
  return { regs: a.regs | b.regs, slots: new Set([...a.slots, ...b.slots]) };
}

function same(a: CtxState, b: CtxState): boolean {
  return a.regs === b.regs && a.slots.size === b.slots.size && [...a.slots].every((s) => b.slots.has(s));
}

/** Everything `program` uses, in a stable order. */
export function usesOf(program: Program): Use[] {
  const insns = program.instructions;
  const uses = new Map<string, Use>();
  const before = new Map<number, CtxState>([[0, { regs: 1 << 1, slots: new Set() }]]); // r1 holds the context at entry
  const work = [0];
  while (work.length > 0) {
    const pc = work.pop()!;
    const after = step(insns[pc]!, before.get(pc)!, uses);
    for (const next of successors(insns, pc)) {
      if (next < 0 || next >= insns.length) throw new Error(`${program.name}: a jump leaves the program at instruction ${pc}`);
      const known = before.get(next);
      const merged = known ? merge(known, after) : after;
      if (known && same(known, merged)) continue;
      before.set(next, merged);
      work.push(next);
    }
  }
  if (hasLoop(insns)) add(uses, { kind: 'instruction', feature: 'loop' });
  return [...uses.values()];
}

/** A back-edge in the control flow graph (depth-first): the program loops. */
function hasLoop(insns: Instruction[]): boolean {
  const state = new Uint8Array(insns.length); // 0 unseen, 1 on the stack, 2 done
  const stack: Array<{ pc: number; next: number[] }> = [{ pc: 0, next: successors(insns, 0) }];
  state[0] = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const next = top.next.pop();
    if (next === undefined) {
      state[top.pc] = 2;
      stack.pop();
    } else if (state[next] === 1) {
      return true;
    } else if (state[next] === 0) {
      state[next] = 1;
      stack.push({ pc: next, next: successors(insns, next) });
    }
  }
  return false;
}
