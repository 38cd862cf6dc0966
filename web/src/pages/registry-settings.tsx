import { useId, useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { announce } from '../announce.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { formatBytes } from '../format.js';
import { navigate, paths } from '../router.js';
import { api } from '../session.js';
import type { Registry } from '../types.js';

/** Deleting the registry, behind a typed confirmation (as DigitalOcean's control panel asks). */
export function RegistrySettingsPanel({ registry }: { registry: Registry }) {
  const name = registry.name!;
  const [confirming, setConfirming] = useState(false);
  const heading = useId();
  const remove = async () => {
    await unwrap(api.DELETE('/v2/registries/{registry_name}', { params: { path: { registry_name: name } } }));
    announce(`Deleted registry ${name}`);
    navigate(paths.registries());
  };
  return (
    <section aria-labelledby={heading} class="danger-zone">
      <h2 id={heading}>Delete this registry</h2>
      <p>
        Deletes <strong>{name}</strong> with every repository, tag and manifest in it ({formatBytes(registry.storage_usage_bytes)}) and revokes its docker
        credentials. Its name becomes free for anyone to take. This cannot be undone.
      </p>
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Delete registry
      </button>
      {confirming && (
        <ConfirmDialog title={`Delete registry ${name}?`} confirmLabel="Delete registry" typeToConfirm={name} onConfirm={remove} onClose={() => setConfirming(false)}>
          <p>Everything stored in {name} is deleted. Pulls of its images will fail.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
