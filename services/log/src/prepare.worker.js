// Worker entry of the prepare pool (prepare-pool.ts). A worker does not inherit the main
// thread's TypeScript loader, so this file registers it, then loads the TypeScript worker body.
import { register } from 'tsx/esm/api';

register();
await import('./prepare-worker.ts');
