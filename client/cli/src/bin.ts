/** The `cairn` process: runs one command and exits with its code. The bin (bin/cairn.js) loads the built form of this file. */
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
