/** The two URL trees DigitalOcean serves the same operations under. */
export interface ApiVariant {
  prefix: '/v2/registries' | '/v2/registry';
  operationPrefix: 'registries' | 'registry';
  tag: 'Container Registries' | 'Container Registry';
  deprecated: boolean;
}

export const MULTI: ApiVariant = { prefix: '/v2/registries', operationPrefix: 'registries', tag: 'Container Registries', deprecated: false };
export const LEGACY: ApiVariant = { prefix: '/v2/registry', operationPrefix: 'registry', tag: 'Container Registry', deprecated: true };
export const BOTH: readonly ApiVariant[] = [MULTI, LEGACY];
