/** The API's bodies as the console uses them, straight from the generated API types. */
import type { operations } from '../../src/api-client/index.js';

type Json<O extends keyof operations, S extends keyof operations[O]['responses']> = operations[O]['responses'][S] extends { content: { 'application/json': infer T } } ? T : never;
type Item<T> = NonNullable<T> extends (infer I)[] ? I : never;

export type Registry = Item<Json<'registries_list', 200>['registries']>;
export type Subscription = NonNullable<Json<'registries_get_subscription', 200>['subscription']>;
export type Options = NonNullable<Json<'registries_get_options', 200>['options']>;
export type TierOption = Item<Options['subscription_tiers']>;
export type Repository = Item<Json<'registries_list_repositoriesV2', 200>['repositories']>;
export type Tag = Item<Json<'registries_list_repositoryTags', 200>['tags']>;
export type Manifest = Item<Json<'registries_list_repositoryManifests', 200>['manifests']>;
export type IndexChild = Item<Manifest['manifests']>;
export type Referrer = Item<Manifest['referrers']>;
export type Blob = Item<Manifest['blobs']>;
export type GarbageCollection = NonNullable<Json<'registries_get_garbageCollection', 200>['garbage_collection']>;
export type GcType = NonNullable<GarbageCollection['type']>;
export type PageLinks = NonNullable<Json<'registries_list_repositoriesV2', 200>['links']>;
