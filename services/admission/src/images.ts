/**
 * Where images appear in the objects the API server sends (reference §5.3): containers,
 * initContainers and ephemeralContainers of the pod spec of a Pod, of the pod template of the
 * workload kinds, and of a CronJob's job template. Each image keeps its JSON pointer, for the
 * digest patch and for messages.
 */
import { isRecord } from '@cairn/shared';
import { admissionFail } from './errors.ts';

/** Containers per object, all three lists together (5,000 is refused, not walked). */
export const MAX_CONTAINERS = 256;
/** Distinct image references per object. */
export const MAX_DISTINCT_IMAGES = 64;

export const CONTAINER_FIELDS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
export type ContainerField = (typeof CONTAINER_FIELDS)[number];

/** The path from the object to its PodSpec, per kind (Kyverno's extractor table). */
export const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export interface ImageSite {
  /** RFC 6901 pointer to the image string, e.g. /spec/template/spec/containers/0/image. */
  pointer: string;
  image: string;
  container: string;
  field: ContainerField;
}

/**
 * The images of an object of `kind`; undefined when the kind carries no pod spec Cairn knows.
 * Throws OBJECT_INVALID for a malformed spec, TOO_MANY_IMAGES over the limits.
 */
export function extractImages(kind: string, object: unknown): ImageSite[] | undefined {
  const path = POD_SPEC_PATHS[kind];
  if (path === undefined) return undefined;
  let cur: unknown = object;
  for (const seg of path) {
    if (!isRecord(cur)) return admissionFail('OBJECT_INVALID', `the ${kind} has no ${path.join('.')} (a pod spec)`);
    cur = cur[seg];
  }
  if (!isRecord(cur)) admissionFail('OBJECT_INVALID', `the ${kind}'s ${path.join('.')} is not an object`);
  const spec = cur;
  const out: ImageSite[] = [];
  let count = 0;
  for (const field of CONTAINER_FIELDS) {
    const list = spec[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) admissionFail('OBJECT_INVALID', `${path.join('.')}.${field} is not a list`);
    count += list.length;
    if (count > MAX_CONTAINERS) admissionFail('TOO_MANY_IMAGES', `the ${kind} has more than ${MAX_CONTAINERS} containers`);
    list.forEach((c: unknown, i) => {
      if (!isRecord(c)) admissionFail('OBJECT_INVALID', `${path.join('.')}.${field}[${i}] is not an object`);
      if (typeof c.image !== 'string' || c.image === '') admissionFail('OBJECT_INVALID', `${path.join('.')}.${field}[${i}] has no image`);
      out.push({ pointer: `/${[...path, field, String(i), 'image'].join('/')}`, image: c.image, container: typeof c.name === 'string' ? c.name.slice(0, 253) : `#${i}`, field });
    });
  }
  if (new Set(out.map((s) => s.image)).size > MAX_DISTINCT_IMAGES) admissionFail('TOO_MANY_IMAGES', `the ${kind} names more than ${MAX_DISTINCT_IMAGES} distinct images`);
  return out;
}
