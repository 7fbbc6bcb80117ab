/**
 * Test hook (node --import): appends the URL of every module loaded, one a
 * line, to the file named by ZT_TEST_MODULE_LIST, so a test can tell which
 * components and libraries a command loaded.
 */
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const list = process.env.ZT_TEST_MODULE_LIST;
if (list) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(list, `${url}\n`);
      return nextLoad(url, context);
    },
  });
}
