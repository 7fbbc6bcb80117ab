import { loadConfig } from './config/load.ts';
import { testRegistry } from './config/test-factories.ts';
try { const c = await loadConfig(process.argv.slice(2), testRegistry()); console.log(c); } catch (e) { console.log((e as any).code, (e as any).lines ?? e); }
