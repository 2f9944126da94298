export { bootstrapTrust, bootstrapTsa } from './bootstrap.ts';
export { type Stack, startStack } from './stack.ts';
