/** Object identifiers of the certificate profile: `@cairn/shared/oids`, the one table. */
export { OID, fulcioOid } from '@cairn/shared/oids';
