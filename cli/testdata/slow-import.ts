/**
 * Test hook (node --import): holds back the loading of one module, to make the
 * second or so that `zonetap run` spends loading its components long enough
 * to send it signals in. Environment:
 *   ZT_TEST_SLOW_IMPORT          path suffix of the module to hold (receivers/replay/index.ts)
 *   ZT_TEST_SLOW_IMPORT_MARKER   file created once that module is being loaded (its imports are)
 *   ZT_TEST_SLOW_IMPORT_RELEASE  the module loads once this file exists (at most 60 s later)
 */
import { register } from 'node:module';

register(new URL('./slow-import-hooks.ts', import.meta.url));
