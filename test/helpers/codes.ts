/**
 * `codeOf(ErrorClass)` returns a function that runs a callback and answers the stable code of
 * the error it threw (undefined if it did not throw); any other error is rethrown, so a test
 * never mistakes a crash for the expected refusal.
 */
import type { CairnError } from '@cairn/shared';

export function codeOf<C extends string>(cls: abstract new (...args: never[]) => CairnError<C>): (f: () => unknown) => C | undefined {
  return (f) => {
    try {
      f();
    } catch (e) {
      if (e instanceof cls) return e.code;
      throw e;
    }
    return undefined;
  };
}

/** The same for a promise: the code it rejects with, any other rejection rethrown. */
export function codeOfAsync<C extends string>(cls: abstract new (...args: never[]) => CairnError<C>): (p: Promise<unknown>) => Promise<C | undefined> {
  return async (p) => {
    try {
      await p;
    } catch (e) {
      if (e instanceof cls) return e.code;
      throw e;
    }
    return undefined;
  };
}
