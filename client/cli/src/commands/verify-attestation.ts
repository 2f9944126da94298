import type { Command } from '../command.ts';
import { runVerify, VERIFY_ATTESTATION_USAGE } from './verify.ts';

export const command: Command = {
  summary: 'verify an attestation bundle and conditions on its predicate',
  usage: VERIFY_ATTESTATION_USAGE,
  run: (args, io) => runVerify(args, io, true),
};
