/**
 * Just enough of an eBPF object file (ELF64, little-endian) for the reach
 * check: each program (a global function in an executable section) with its
 * instructions, and the symbols its calls are relocated against (kfuncs).
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** The symbol a relocation at this instruction points to, if any (a kfunc, a map, a global). */
  symbol?: string;
}

export interface Program {
  name: string;
  /** Its ELF section, which names the program type: `netfilter`, `cgroup_skb/egress`. */
  section: string;
  instructions: Instruction[];
}

const SHT_SYMTAB = 2;
const SHT_REL = 9;
const SHF_EXECINSTR = 0x4;
const STT_FUNC = 2;
const STB_GLOBAL = 1;

interface Section {
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
}

/** The programs of an object file. */
export function readPrograms(path: string): Program[] {
  const file = readFileSync(path);
  if (file.readUInt32BE(0) !== 0x7f454c46 || file[4] !== 2 || file[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
  const shoff = Number(file.readBigUInt64LE(0x28));
  const shnum = file.readUInt16LE(0x3c);
  const raw: Omit<Section, 'name'>[] = [];
  const names: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    names.push(file.readUInt32LE(at));
    raw.push({
      type: file.readUInt32LE(at + 4),
      flags: Number(file.readBigUInt64LE(at + 8)),
      offset: Number(file.readBigUInt64LE(at + 24)),
      size: Number(file.readBigUInt64LE(at + 32)),
      link: file.readUInt32LE(at + 40),
      info: file.readUInt32LE(at + 44),
    });
  }
  const shstr = raw[file.readUInt16LE(0x3e)]!;
  const cstring = (base: number, off: number) => file.toString('latin1', base + off, file.indexOf(0, base + off));
  const sections: Section[] = raw.map((s, i) => ({ ...s, name: cstring(shstr.offset, names[i]!) }));

  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) throw new Error(`${path} has no symbol table`);
  const strtab = sections[symtab.link]!;
  const symbols = [];
  for (let at = symtab.offset; at < symtab.offset + symtab.size; at += 24) {
    symbols.push({
      name: cstring(strtab.offset, file.readUInt32LE(at)),
      info: file[at + 4]!,
      shndx: file.readUInt16LE(at + 6),
      value: Number(file.readBigUInt64LE(at + 8)),
      size: Number(file.readBigUInt64LE(at + 16)),
    });
  }

  const programs: Program[] = [];
  sections.forEach((section, index) => {
    if (!(section.flags & SHF_EXECINSTR) || section.name === '.text' || section.size === 0) return;
    const relocated = new Map<number, string>();
    for (const rel of sections.filter((s) => s.type === SHT_REL && s.info === index)) {
      for (let at = rel.offset; at < rel.offset + rel.size; at += 16) {
        const offset = Number(file.readBigUInt64LE(at));
        relocated.set(offset, symbols[Number(file.readBigUInt64LE(at + 8) >> 32n)]!.name);
      }
    }
    for (const sym of symbols) {
      if (sym.shndx !== index || (sym.info & 0xf) !== STT_FUNC || sym.info >> 4 !== STB_GLOBAL) continue;
      const instructions: Instruction[] = [];
      for (let off = sym.value; off < sym.value + sym.size; off += 8) {
        const at = section.offset + off;
        const regs = file[at + 1]!;
        const symbol = relocated.get(off);
        instructions.push({ code: file[at]!, dst: regs & 0xf, src: regs >> 4, off: file.readInt16LE(at + 2), imm: file.readInt32LE(at + 4), ...(symbol ? { symbol } : {}) });
      }
      programs.push({ name: sym.name, section: section.name, instructions });
    }
  });
  return programs;
}
