/**
 * The kernel-reach check (`make build`, and bpf/reach/reach.test.ts): lists
 * every helper, kfunc, context field and instruction feature each eBPF object
 * uses, with the first Linux version that has it (table.ts), and fails when
 * an object needs a newer kernel than its receiver promises
 * (bpf/minimum-kernel.ts: netfilter 6.4, cgroup 5.8) or uses
 * something the table does not know.
 *
 *   node bpf/reach/check.ts OBJECT.bpf.o...
 */
import { basename } from 'node:path';
import { MINIMUM_KERNEL } from '../minimum-kernel.ts';
import { readPrograms } from './elf.ts';
import { usesOf, type Use } from './analyze.ts';
import { CONTEXT_FIELDS, HELPERS, INSTRUCTIONS, KFUNCS, PROGRAM_TYPES, compareVersions, type Availability, type Version } from './table.ts';

export interface ProgramReach {
  object: string;
  program: string;
  /** The kernel its receiver promises. */
  promise: Version;
  /** What it uses, with what the table says (undefined: not in the table). */
  uses: Array<{ use: string; availability: Availability | undefined }>;
  /** The newest `since` of all it uses. */
  needs: Version;
  problems: string[];
}

const RECEIVER = { netfilter: 'netfilter', cgroup_skb: 'cgroup' } as const;

function describe(use: Use): string {
  switch (use.kind) {
    case 'helper':
      return `helper ${use.id}`;
    case 'kfunc':
      return `kfunc ${use.name}`;
    case 'context':
      return `context ${use.write ? 'write' : 'read'} at offset ${use.offset} (${use.size} bytes)`;
    case 'instruction':
      return `instruction ${use.feature}`;
  }
}

/** The reach of every program in `objectPath`. */
export function reachOf(objectPath: string): ProgramReach[] {
  return readPrograms(objectPath).map((program) => {
    const type = PROGRAM_TYPES[program.section];
    const problems: string[] = [];
    if (!type) {
      return { object: basename(objectPath), program: program.name, promise: '0.0', uses: [], needs: '0.0', problems: [`section "${program.section}" is not a program type in bpf/reach/table.ts`] };
    }
    const promise = MINIMUM_KERNEL[RECEIVER[type.type]].join('.') as Version;
    const uses = [{ use: `program type (${program.section})`, availability: type as Availability | undefined }];
    for (const use of usesOf(program)) {
      let availability: Availability | undefined;
      if (use.kind === 'helper') availability = HELPERS[use.id];
      else if (use.kind === 'kfunc') availability = KFUNCS[use.name];
      else if (use.kind === 'instruction') availability = INSTRUCTIONS[use.feature];
      else if (!use.write) availability = CONTEXT_FIELDS[type.type][use.offset];
      const what = describe(use);
      uses.push({ use: availability && !what.endsWith(availability.name) ? `${what}: ${availability.name}` : what, availability });
    }
    let needs: Version = '0.0';
    for (const { use, availability } of uses) {
      if (!availability) {
        problems.push(`${use} is not in bpf/reach/table.ts: add it with the first kernel that has it (for ${type.type} programs), and its source`);
      } else {
        if (compareVersions(availability.since, needs) > 0) needs = availability.since;
        if (compareVersions(availability.since, promise) > 0) problems.push(`${use} needs Linux ${availability.since}, but the ${RECEIVER[type.type]} receiver promises Linux >= ${promise}`);
      }
    }
    return { object: basename(objectPath), program: program.name, promise, uses, needs, problems };
  });
}

/** A readable listing of one program's reach. */
export function listing(reach: ProgramReach): string {
  const lines = [`${reach.object} ${reach.program}: needs Linux ${reach.needs} (promised: >= ${reach.promise})`];
  for (const { use, availability } of reach.uses) lines.push(`  ${(availability?.since ?? '?').padEnd(5)} ${use}`);
  for (const problem of reach.problems) lines.push(`  PROBLEM: ${problem}`);
  return lines.join('\n');
}

if (import.meta.main) {
  const reaches = process.argv.slice(2).flatMap(reachOf);
  for (const reach of reaches) console.log(listing(reach));
  const problems = reaches.flatMap((r) => r.problems.map((p) => `${r.object} ${r.program}: ${p}`));
  if (problems.length > 0) {
    console.error(`bpf/reach: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    process.exit(1);
  }
}
