/**
 * README's "Deployment shapes": every shape links to a manifest or example that exists and to
 * the tests that run it, and each of those tests names what it runs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';

const REPO = join(import.meta.dirname, '..');

test('README "Deployment shapes": every shape links to its manifest or example and to the tests that run it', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = /\n### Deployment shapes\n([\s\S]*?)\n## /.exec(readme)?.[1];
  assert.ok(section, 'README.md has no "Deployment shapes" section');
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| shape') && !l.startsWith('|---'));
  assert.deepEqual(rows.map((r) => r.split('|')[1]!.trim()), ['agent on every node, serving Prometheus', 'agents and a gateway per zone', 'sidecar in one workload\'s pods', 'standalone on a plain Linux host', 'inside your own Node program']);
  for (const row of rows) {
    const [, shape, manifests, tests] = row.split('|').map((c) => c.trim());
    const links = (cell: string) => [...cell.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]!);
    const made = links(manifests!);
    assert.ok(made.length > 0, `${shape}: no manifest or example`);
    for (const target of [...made, ...links(tests!)]) assert.ok(existsSync(join(REPO, target)), `${shape}: ${target} does not exist`);
    const testFiles = links(tests!);
    assert.ok(testFiles.length > 0 && testFiles.every((f) => f.endsWith('.test.ts')), `${shape}: tested by ${testFiles.join(', ')}`);
    // Each manifest or example is named by one of its tests (or by what they import).
    const texts = testFiles.map((f) => readFileSync(join(REPO, f), 'utf8')).join('\n');
    for (const target of made) {
      const name = basename(target) === 'kustomization.yaml' || basename(target) === 'README.md' ? basename(join(target, '..')) : basename(target);
      assert.ok(texts.includes(name) || texts.includes(name.replace(/\.yaml$/, '')), `${shape}: no test of ${testFiles.join(', ')} names ${name}`);
    }
  }
});
