/** The API's objects as the CLI shows them, named after DigitalOcean's models. */
import type { operations } from '../../api-client/index.js';

type Ok<Op extends keyof operations, Status extends number = 200> = operations[Op]['responses'] extends Record<Status, { content: { 'application/json': infer Body } }>
  ? Body
  : never;

/** DigitalOcean's legacy `Registry` (with its subscription) or `Multiregistry` (without). */
export type Registry = NonNullable<Ok<'registries_list'>['registries']>[number];
export type RepositoryV1 = NonNullable<Ok<'registry_list_repositories'>['repositories']>[number];
export type RepositoryV2 = NonNullable<Ok<'registries_list_repositoriesV2'>['repositories']>[number];
export type RepositoryTag = NonNullable<Ok<'registries_list_repositoryTags'>['tags']>[number];
export type RepositoryManifest = NonNullable<Ok<'registries_list_repositoryManifests'>['manifests']>[number];
export type GarbageCollection = NonNullable<Ok<'registries_get_garbageCollection'>['garbage_collection']>;
export type GarbageCollectionType = NonNullable<GarbageCollection['type']>;
export type Subscription = NonNullable<Ok<'registries_get_subscription'>['subscription']>;
export type Options = NonNullable<Ok<'registries_get_options'>['options']>;
export type SubscriptionTier = NonNullable<Options['subscription_tiers']>[number];
export type DockerCredentials = Ok<'registries_get_dockerCredentials'>;
/** One page of a paginated list. */
export interface Page {
  meta?: { total?: number };
  links?: { pages?: { next?: string } };
}
