export { crosszoneProcessorFactory } from './factory.ts';
export { crosszoneConfigSchema, type CrosszoneConfig } from './config.ts';
export { classifyBatches } from './processor.ts';
export { classifyFlow } from './classify.ts';
