/** @cairn/tuf: the TUF repository component. Ceremony code: `@cairn/tuf/ceremony`; model: `@cairn/tuf/metadata`. */
export { createService, createTufService, tufOptions, type TufServiceOptions } from './service.ts';
export { TufError, type TufErrorCode } from '@cairn/shared/tuf';
