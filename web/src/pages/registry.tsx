import { unwrap } from '../../../src/api-client/index.js';
import { ErrorMessage, Loading } from '../components/feedback.js';
import { PageHeading } from '../components/page-heading.js';
import { formatBytes, formatDate } from '../format.js';
import { Link, paths } from '../router.js';
import { api } from '../session.js';
import type { Registry } from '../types.js';
import { useLoad } from '../use-load.js';
import { AccessPanel } from './access.js';
import { GarbageCollectionPanel } from './garbage-collection.js';
import { RegistrySettingsPanel } from './registry-settings.js';
import { RepositoriesPanel } from './repositories.js';

type Tab = 'repositories' | 'access' | 'garbage-collection' | 'settings';

const TABS: { tab: Tab; label: string; path: '' | 'access' | 'garbage-collection' | 'settings' }[] = [
  { tab: 'repositories', label: 'Repositories', path: '' },
  { tab: 'access', label: 'Access', path: 'access' },
  { tab: 'garbage-collection', label: 'Garbage collection', path: 'garbage-collection' },
  { tab: 'settings', label: 'Settings', path: 'settings' },
];

/** One registry: its facts, and a section per concern (repositories, access, GC, settings). */
export function RegistryPage({ name, tab }: { name: string; tab: Tab }) {
  const loaded = useLoad(async (signal) => (await unwrap(api.GET('/v2/registries/{registry_name}', { params: { path: { registry_name: name } }, signal }))).registry!, [name]);
  const registry = loaded.data;
  const label = TABS.find((t) => t.tab === tab)!.label;

  return (
    <>
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <ol>
          <li>
            <Link href={paths.registries()}>Registries</Link>
          </li>
          <li>
            <span aria-current="page">{name}</span>
          </li>
        </ol>
      </nav>
      <PageHeading title={tab === 'repositories' ? `Registry ${name}` : `${label} · ${name}`}>{name}</PageHeading>
      {loaded.error !== undefined && <ErrorMessage error={loaded.error} title={`Could not load registry ${name}`} />}
      {loaded.loading && !registry && <Loading what="the registry" />}
      {registry && (
        <>
          <RegistryFacts registry={registry} />
          <nav aria-label="Registry sections" class="tabs">
            <ul>
              {TABS.map((t) => (
                <li key={t.tab}>
                  <Link href={paths.registry(name, t.path)} aria-current={t.tab === tab ? 'page' : undefined}>
                    {t.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          {tab === 'repositories' && <RepositoriesPanel registry={registry} />}
          {tab === 'access' && <AccessPanel registry={registry} />}
          {tab === 'garbage-collection' && <GarbageCollectionPanel registry={name} />}
          {tab === 'settings' && <RegistrySettingsPanel registry={registry} />}
        </>
      )}
    </>
  );
}

function RegistryFacts({ registry }: { registry: Registry }) {
  return (
    <dl class="facts inline">
      <div>
        <dt>Endpoint</dt>
        <dd class="mono">{registry.endpoint}</dd>
      </div>
      <div>
        <dt>Region</dt>
        <dd>{registry.region}</dd>
      </div>
      <div>
        <dt>Storage used</dt>
        <dd title={registry.storage_usage_bytes_updated_at ? `As of ${formatDate(registry.storage_usage_bytes_updated_at)}` : undefined}>{formatBytes(registry.storage_usage_bytes)}</dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd>{formatDate(registry.created_at)}</dd>
      </div>
    </dl>
  );
}
