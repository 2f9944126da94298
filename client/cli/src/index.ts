export { type CliIO } from './command.ts';
export { main } from './main.ts';
