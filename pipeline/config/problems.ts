/**
 * Configuration problems and how they are printed. Every problem is one line:
 *
 *   FILE:LINE:COLUMN: PATH: MESSAGE
 *
 * PATH is the key path joined with `::` (sequence items by index), as in the
 * OpenTelemetry Collector: `processors::cost::provider`. LINE:COLUMN (1-based)
 * is where the offending key starts; for a sequence item, where the item starts;
 * for a missing key, where its parent's key starts. Problems that belong to a
 * whole file (unreadable file) print as `FILE: MESSAGE`; problems with no
 * location in any file (a required section missing everywhere) as `PATH: MESSAGE`.
 */
import { ZonetapError } from '../errors.ts';

/**
 * Where a key or item was written. Line and column are 1-based; both are 0
 * when the source is one line given on the command line (a `yaml:` URI, a
 * `--set`): the source is then named without them.
 */
export interface SourcePosition {
  /** The file, or the configuration source (`env:NAME`, `yaml:...`, `--set ...`). */
  file: string;
  line: number;
  column: number;
}

export interface ConfigProblem {
  /** Key path, e.g. ['processors', 'cost', 'provider']; empty for the file itself. */
  path: readonly (string | number)[];
  message: string;
  position?: SourcePosition;
  /** Only set when no position is known (unreadable file). */
  file?: string;
}

export function formatPath(path: readonly (string | number)[]): string {
  return path.map(String).join('::');
}

/** Quoted text this long is shortened in messages: a 3 MB value must not make a 3 MB message. */
const LONG_QUOTE = /"((?:[^"\\\n]|\\.){120,})"/g;
/** The longest problem line printed; longer ones (a huge key in the path) keep their start and end. */
const MAX_LINE = 1000;

/** Shortens long quoted values and over-long lines, saying how long they were. */
export function shorten(text: string): string {
  const quoted = text.replace(LONG_QUOTE, (_, inner: string) => `"${inner.slice(0, 60)}...${inner.slice(-20)}" (${inner.length} characters)`);
  if (quoted.length <= MAX_LINE) return quoted;
  return `${quoted.slice(0, MAX_LINE - 240)} ... (${quoted.length - MAX_LINE + 40} characters left out) ... ${quoted.slice(-200)}`;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.position ? (p.position.line > 0 ? `${p.position.file}:${p.position.line}:${p.position.column}` : p.position.file) : p.file;
  const parts = [where, p.path.length > 0 ? formatPath(p.path) : undefined, p.message].filter((s) => s !== undefined);
  return shorten(parts.join(': '));
}

/** Problems in file order (file as listed, then line, column); unlocated ones last. */
export function sortProblems(problems: readonly ConfigProblem[], files: readonly string[]): ConfigProblem[] {
  const fileRank = (p: ConfigProblem) => {
    const f = p.position?.file ?? p.file;
    const i = f === undefined ? -1 : files.indexOf(f);
    return i < 0 ? files.length : i;
  };
  return problems
    .map((p, i) => ({ p, i }))
    .sort(
      (a, b) =>
        fileRank(a.p) - fileRank(b.p) ||
        (a.p.position?.line ?? Infinity) - (b.p.position?.line ?? Infinity) ||
        (a.p.position?.column ?? 0) - (b.p.position?.column ?? 0) ||
        a.i - b.i,
    )
    .map(({ p }) => p);
}

/**
 * Thrown by loadConfig with every problem found. `code` is ZT_CONFIG_READ when a
 * file could not be read or parsed (validation did not run), else ZT_CONFIG_INVALID.
 */
export class ConfigError extends ZonetapError {
  readonly problems: readonly ConfigProblem[];
  /** The problems, formatted one per entry (see formatProblem). */
  readonly lines: readonly string[];

  /** The message lists the first MAX_LISTED problems and counts the rest: thousands of lines help nobody. */
  static readonly MAX_LISTED = 100;

  constructor(code: 'ZT_CONFIG_READ' | 'ZT_CONFIG_INVALID', problems: readonly ConfigProblem[]) {
    const lines = problems.map(formatProblem);
    const what = code === 'ZT_CONFIG_READ' ? 'configuration could not be read' : 'configuration is invalid';
    const listed = lines.slice(0, ConfigError.MAX_LISTED).map((l) => `  ${l}`);
    if (lines.length > listed.length) listed.push(`  ... and ${lines.length - listed.length} more problems`);
    super(code, `${what} (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n${listed.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.lines = lines;
  }
}

/** Levenshtein distance (insert, delete, substitute: 1 each). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Typos are looked for in words and among candidates up to these sizes; beyond them the cost grows for no help. */
const MAX_TYPO_WORD = 64;
const MAX_TYPO_CANDIDATES = 200;
/** The most valid names a message lists. */
const MAX_NAMES_LISTED = 12;

/** The candidate closest to `word`, if it is close enough to be a plausible typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > MAX_TYPO_WORD || candidates.length > MAX_TYPO_CANDIDATES) return undefined;
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (Math.abs(c.length - word.length) > limit) continue; // the distance is at least the difference in length
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= limit ? best : undefined;
}

/** `; did you mean "x"?` or `; valid keys: a, b` (or nothing when there are none). */
export function suggestion(word: string, candidates: readonly string[], noun: string): string {
  const near = nearest(word, candidates);
  if (near !== undefined) return `; did you mean "${near}"?`;
  if (candidates.length === 0) return '';
  const names = [...candidates].sort();
  const more = names.length > MAX_NAMES_LISTED ? `, ... (${names.length} in all)` : '';
  return `; valid ${noun}: ${names.slice(0, MAX_NAMES_LISTED).join(', ')}${more}`;
}
