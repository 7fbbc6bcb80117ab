/**
 * Every document and file that the docs and the code point to is in the
 * repository: relative links of every Markdown file (and their #anchors, by
 * GitHub's heading rule), repository paths written in Markdown and in code
 * comments, and no reference to a design document kept outside the repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { REPO } from './support/processes.ts';

/** Not the project's own files: dependencies, the installed Node.js, git, build output. */
const SKIP_DIRS = new Set(['node_modules', '.tools', '.git', 'build']);

function files(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (SKIP_DIRS.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files(path, out);
    else out.push(relative(REPO, path));
  }
  return out;
}

const ALL = files(REPO);
const MARKDOWN = ALL.filter((f) => f.endsWith('.md'));
const read = (f: string) => readFileSync(join(REPO, f), 'utf8');

/** GitHub's anchor of a heading: lower case, punctuation dropped (not `-` and `_`), spaces to `-`. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (!m) continue;
    const base = anchorOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

test('every relative link of every Markdown file points at a file, and at a heading of it when it names one', () => {
  const broken: string[] = [];
  for (const file of MARKDOWN) {
    const text = read(file);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = path === '' ? file : normalize(join(dirname(file), path));
      if (!existsSync(join(REPO, resolved))) {
        broken.push(`${file}: ${target} (no ${resolved})`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(read(resolved)).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
    }
  }
  assert.deepEqual(broken, []);
});

/** The top-level folders of the repository: a word starting with one of them and a `/` is a repository path. */
const TOP = readdirSync(REPO).filter((e) => !SKIP_DIRS.has(e) && statSync(join(REPO, e)).isDirectory());
/** `config/agent.yaml`, `../../exporters/flowlog/README.md`: a path into a top-level folder ending in a file name with an extension. */
const PATH = new RegExp(`(?<![\\w./-])((?:\\.\\./)*(?:${TOP.join('|')})/[\\w./-]*\\.[a-z]+)\\b`, 'g');

/** Comments of source files: what a `//` or `*` line or a `#` line of YAML says. */
function commentsOf(file: string, text: string): string {
  const marker = file.endsWith('.yaml') ? /^\s*#(.*)$|\s#\s(.*)$/ : /^\s*(?:\/\/|\/?\*+)(.*)$|\s\/\/\s(.*)$/;
  return text
    .split('\n')
    .map((line) => {
      const m = marker.exec(line);
      return m ? (m[1] ?? m[2] ?? '') : '';
    })
    .join('\n');
}

test('every repository path that a README or a code comment names exists', () => {
  // Tests and their testdata name files that must not exist (the errors they check); they are not documentation.
  const sources = ALL.filter((f) => /\.(ts|ya?ml|c|h|cc)$/.test(f) && !f.endsWith('.test.ts') && !f.includes('testdata/'));
  const missing: string[] = [];
  for (const file of [...MARKDOWN, ...sources]) {
    const text = file.endsWith('.md') ? read(file) : commentsOf(file, read(file));
    for (const [, path] of text.matchAll(PATH)) {
      const candidates = [normalize(path!), normalize(join(dirname(file), path!))];
      if (!candidates.some((c) => existsSync(join(REPO, c)))) missing.push(`${file}: ${path}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('nothing points to a design document kept outside the repository', () => {
  const name = ['DESIGN', 'md'].join('.');
  const citing = ALL.filter((f) => /\.(ts|md|ya?ml|json|c|h|cc|sh)$|Makefile|Dockerfile/.test(f) && read(f).includes(name));
  assert.deepEqual(citing, [], `every document the code points to must be in the repository; these cite ${name}`);
});
