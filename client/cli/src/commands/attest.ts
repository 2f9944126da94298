import { basename } from 'node:path';
import { isRecord, sha256Hex } from '@cairn/shared';
import { CliError, parseFlags, type Command } from '../command.ts';
import { attest, MAX_ARTIFACT_BYTES, MAX_STATEMENT_BYTES } from '@cairn/sign';
import { serializeBundle } from '@cairn/sign';
import { SignError } from '@cairn/sign';
import { checkWritable, loadTrustedRootJson, readSmallFile, writeFileAtomic } from '@cairn/sign';
import { buildStatement, resolvePredicateType, PREDICATE_TYPE_ALIASES, STATEMENT_TYPE_V1 } from '@cairn/sign';
import { checkLogAnswer, IDENTITY_FLAGS, IDENTITY_USAGE, readArtifact, report, signOptionsFromFlags } from './sign.ts';

/** Largest predicate file read. */
export const MAX_PREDICATE_BYTES = 8 * 1024 * 1024;

/** A ready statement must at least be an in-toto Statement v1 with subjects. */
function checkStatement(payload: Buffer, path: string): void {
  let j: unknown;
  try {
    j = JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    throw new SignError('INPUT_INVALID', `${path} is not JSON`);
  }
  if (!isRecord(j) || j._type !== STATEMENT_TYPE_V1 || !Array.isArray(j.subject) || j.subject.length === 0 || typeof j.predicateType !== 'string') {
    throw new SignError('INPUT_INVALID', `${path} is not an in-toto Statement v1 with subjects and a predicateType`);
  }
}

export const command: Command = {
  summary: 'sign an in-toto statement about a file in a DSSE bundle',
  usage: `Usage: cairn attest FILE --predicate P.json --type TYPE --bundle OUT [--tlog-kind dsse|intoto] [identity] [services]
       cairn attest --statement S.json --bundle OUT [--tlog-kind dsse|intoto] [identity] [services]

Builds an in-toto Statement v1 (https://in-toto.io/Statement/v1) whose subject is FILE's name and
sha256 digest and whose predicate is the JSON object in P.json, signs it in a DSSE envelope
(payloadType application/vnd.in-toto+json), logs it, and writes a Sigstore bundle v0.3 with a
dsseEnvelope to OUT.

  --predicate P.json     the predicate (a JSON object), e.g. from 'cairn provenance'
  --type TYPE            the predicate type: a URI, or one of the aliases
                         ${Object.keys(PREDICATE_TYPE_ALIASES).join(', ')}
                         (slsaprovenance = https://slsa.dev/provenance/v1)
  --statement S.json     sign this in-toto Statement v1 as it is (its bytes become the payload)
  --tlog-kind KIND       Rekor v1 entry kind: dsse (dsse 0.0.1, the default) or intoto (intoto
                         0.0.2); through Rekor v2 the entry is hashedrekord 0.0.2 over SHA-256(PAE)

${IDENTITY_USAGE}

Exit codes: 0 signed, 1 failed (the error code is printed), 2 usage error.`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      ...IDENTITY_FLAGS,
      predicate: { type: 'string' },
      type: { type: 'string' },
      statement: { type: 'string' },
      'tlog-kind': { type: 'string' },
    });
    if (values.bundle === undefined) throw new CliError('USAGE', 'cairn attest needs --bundle OUT');
    checkWritable(values.bundle, io.cwd);
    const kind = values['tlog-kind'] ?? 'dsse';
    if (kind !== 'dsse' && kind !== 'intoto') throw new CliError('USAGE', '--tlog-kind is dsse or intoto');
    let payload: Buffer;
    let what: string;
    if (values.statement !== undefined) {
      if (positionals.length !== 0 || values.predicate !== undefined || values.type !== undefined) {
        throw new CliError('USAGE', '--statement signs a ready statement: no FILE, --predicate or --type with it');
      }
      payload = readSmallFile(values.statement, MAX_STATEMENT_BYTES, 'statement file', io.cwd);
      checkStatement(payload, values.statement);
      what = `the statement in ${values.statement}`;
    } else {
      if (positionals.length !== 1) throw new CliError('USAGE', 'cairn attest needs exactly one FILE');
      if (values.predicate === undefined) throw new CliError('USAGE', 'cairn attest needs --predicate P.json');
      if (values.type === undefined) throw new CliError('USAGE', 'cairn attest needs --type');
      const predicateType = resolvePredicateType(values.type);
      const predicateText = readSmallFile(values.predicate, MAX_PREDICATE_BYTES, 'predicate file', io.cwd).toString('utf8');
      let predicate: unknown;
      try {
        predicate = JSON.parse(predicateText) as unknown;
      } catch {
        throw new SignError('INPUT_INVALID', `${values.predicate} is not JSON`);
      }
      if (!isRecord(predicate)) throw new SignError('INPUT_INVALID', `${values.predicate} must hold a JSON object`);
      const file = positionals[0]!;
      const artifact = readArtifact(file, MAX_ARTIFACT_BYTES, io.cwd);
      const statement = buildStatement([{ name: basename(file), digest: { sha256: sha256Hex(artifact) } }], predicateType, predicate);
      payload = Buffer.from(JSON.stringify(statement), 'utf8');
      what = `a statement about ${file}`;
    }
    const trust = loadTrustedRootJson(values, io);
    const options = await signOptionsFromFlags(values, io);
    const result = await attest(payload, { ...options, tlogKind: kind });
    checkLogAnswer(result, trust, io);
    const out = writeFileAtomic(values.bundle, serializeBundle(result.bundle), io.cwd);
    report(result, what, out, io);
    return 0;
  },
};
