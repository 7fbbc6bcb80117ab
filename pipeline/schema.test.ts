/**
 * The file checks of component schemas: what `zonetap validate` says about a
 * file a component will read or append to. (A directory this process cannot
 * write to is checked as an unprivileged user in cli/cli.test.ts: root may
 * write anywhere.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { appendableFileProblem, existingFile } from './schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'zt-schema-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'present.txt');
writeFileSync(file, 'x');

const messages = (path: string) => existingFile().safeParse(path).error?.issues.map((i) => i.message) ?? [];

describe('existingFile', () => {
  it('accepts a readable file; refuses a missing one, a directory, and a path through a file', () => {
    assert.deepEqual(messages(file), []);
    assert.deepEqual(messages(join(dir, 'absent.txt')), [`file "${join(dir, 'absent.txt')}" does not exist`]);
    assert.deepEqual(messages(dir), [`"${dir}" is a directory; expected a file`]);
    assert.deepEqual(messages(join(file, 'below')), [`file "${join(file, 'below')}" does not exist`]);
  });
});

describe('appendableFileProblem', () => {
  it('accepts an existing file and a new file in an existing directory', () => {
    assert.equal(appendableFileProblem(file, 'flow log'), undefined);
    assert.equal(appendableFileProblem(join(dir, 'new.jsonl'), 'flow log'), undefined);
  });

  it('refuses a missing directory and a directory given as the file', () => {
    assert.equal(appendableFileProblem(join(dir, 'no', 'x.jsonl'), 'flow log'), `directory "${join(dir, 'no')}" of flow log "${join(dir, 'no', 'x.jsonl')}" does not exist`);
    assert.equal(appendableFileProblem(dir, 'flow log'), `flow log "${dir}" is a directory; expected a file path`);
  });
});
