import { useId, useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { announce } from '../announce.js';
import { CopyCommand } from '../components/copy-command.js';
import { describedBy, ErrorMessage, FieldError } from '../components/feedback.js';
import { fieldOf, messageOf } from '../errors.js';
import { kubernetesSecret } from '../kubernetes.js';
import { api } from '../session.js';
import type { Registry } from '../types.js';

const EXPIRIES = [
  { value: '0', label: 'Never' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '1 day' },
  { value: '604800', label: '7 days' },
  { value: '2592000', label: '30 days' },
  { value: 'custom', label: 'Custom…' },
];

type Format = 'config' | 'secret';

function download(filename: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Docker credentials for the registry (config.json or a Kubernetes Secret) and how to log in. */
export function AccessPanel({ registry }: { registry: Registry }) {
  const name = registry.name!;
  const host = (registry.endpoint ?? name).split('/')[0]!;
  const [readWrite, setReadWrite] = useState(false);
  const [expiry, setExpiry] = useState('0');
  const [customSeconds, setCustomSeconds] = useState('');
  const [secretName, setSecretName] = useState(`registry-${name}`);
  const [namespace, setNamespace] = useState('kube-system');
  const [busy, setBusy] = useState<Format>();
  const [errors, setErrors] = useState<{ expiry?: unknown; form?: unknown; secret?: string }>({});
  const [done, setDone] = useState<string>();
  const ids = { heading: useId(), custom: useId(), expiry: useId(), secretName: useId(), namespace: useId(), login: useId() };

  const generate = async (format: Format) => {
    const seconds = expiry === 'custom' ? customSeconds.trim() : expiry;
    if (expiry === 'custom' && seconds === '') {
      setErrors({ expiry: 'Enter the number of seconds the credential stays valid.' });
      return;
    }
    if (format === 'secret' && (!secretName.trim() || !namespace.trim())) {
      setErrors({ secret: 'Enter a name and a namespace for the Secret.' });
      return;
    }
    setBusy(format);
    setErrors({});
    setDone(undefined);
    try {
      // Sent as typed: the API checks the number and says what is wrong with it.
      const query = { read_write: readWrite, expiry_seconds: seconds as unknown as number };
      const config = await unwrap(api.GET('/v2/registries/{registry_name}/docker-credentials', { params: { path: { registry_name: name }, query } }));
      const json = JSON.stringify(config);
      const what = `a ${readWrite ? 'read-write' : 'read-only'} credential that ${seconds === '0' ? 'never expires' : `expires in ${EXPIRIES.find((e) => e.value === seconds)?.label ?? `${seconds} seconds`}`}`;
      if (format === 'config') {
        download('config.json', `${JSON.stringify(config, null, 2)}\n`, 'application/json');
        setDone(`Downloaded config.json with ${what}.`);
      } else {
        download(`${secretName.trim()}.yaml`, kubernetesSecret(json, { name: secretName.trim(), namespace: namespace.trim() }), 'application/yaml');
        setDone(`Downloaded the Kubernetes Secret ${secretName.trim()} with ${what}.`);
      }
      announce(`Credentials downloaded`);
    } catch (err) {
      if (fieldOf(err, ['expiry_seconds'])) setErrors({ expiry: messageOf(err) });
      else setErrors({ form: err });
    } finally {
      setBusy(undefined);
    }
  };

  const expiryErrorId = `${ids.expiry}-error`;
  return (
    <>
      <section aria-labelledby={ids.heading}>
        <h2 id={ids.heading}>Docker credentials</h2>
        <p>
          A credential lets docker, podman, skopeo or Kubernetes pull from (and, if read-write, push to) <strong>{name}</strong>. Each download creates a
          new one; it is shown only in the file.
        </p>
        <form onSubmit={(e) => e.preventDefault()} noValidate>
          <fieldset>
            <legend>Access</legend>
            <div class="radio">
              <input type="radio" id={`${ids.heading}-ro`} name="access" checked={!readWrite} onChange={() => setReadWrite(false)} />
              <label for={`${ids.heading}-ro`}>Read only (pull)</label>
            </div>
            <div class="radio">
              <input type="radio" id={`${ids.heading}-rw`} name="access" checked={readWrite} onChange={() => setReadWrite(true)} />
              <label for={`${ids.heading}-rw`}>Read and write (push and pull)</label>
            </div>
          </fieldset>
          <div class="field">
            <label for={ids.expiry}>Expiry</label>
            <select
              id={ids.expiry}
              value={expiry}
              onChange={(e) => setExpiry(e.currentTarget.value)}
              aria-describedby={describedBy(expiry !== 'custom' && errors.expiry !== undefined && expiryErrorId)}
            >
              {EXPIRIES.map((e) => (
                <option key={e.value} value={e.value}>
                  {e.label}
                </option>
              ))}
            </select>
          </div>
          {expiry === 'custom' && (
            <div class="field">
              <label for={ids.custom}>Seconds until it expires</label>
              <input
                id={ids.custom}
                inputMode="numeric"
                value={customSeconds}
                onInput={(e) => setCustomSeconds(e.currentTarget.value)}
                aria-invalid={errors.expiry ? true : undefined}
                aria-describedby={describedBy(errors.expiry !== undefined && expiryErrorId)}
              />
            </div>
          )}
          <FieldError id={expiryErrorId} error={errors.expiry} />
          <fieldset>
            <legend>Kubernetes Secret</legend>
            <div class="field">
              <label for={ids.secretName}>Secret name</label>
              <input id={ids.secretName} value={secretName} onInput={(e) => setSecretName(e.currentTarget.value)} autocomplete="off" spellcheck={false} />
            </div>
            <div class="field">
              <label for={ids.namespace}>Namespace</label>
              <input id={ids.namespace} value={namespace} onInput={(e) => setNamespace(e.currentTarget.value)} autocomplete="off" spellcheck={false} />
            </div>
            <FieldError id={`${ids.secretName}-error`} error={errors.secret} />
          </fieldset>
          {errors.form !== undefined && <ErrorMessage error={errors.form} title="No credential was created" />}
          <div class="actions">
            <button type="button" disabled={busy !== undefined} onClick={() => void generate('config')}>
              Download config.json
            </button>
            <button type="button" class="secondary" disabled={busy !== undefined} onClick={() => void generate('secret')}>
              Download Kubernetes Secret
            </button>
          </div>
          {done && (
            <p class="message success" role="status">
              {done}
            </p>
          )}
        </form>
      </section>
      <section aria-labelledby={ids.login}>
        <h2 id={ids.login}>Log in with docker or podman</h2>
        <p>
          Use the downloaded <code>config.json</code> as <code>~/.docker/config.json</code> (or pass <code>docker --config DIR</code>), or log in with an API
          token as the password — any user name works:
        </p>
        <CopyCommand command={`echo "$BERTH_TOKEN" | docker login ${host} --username berth --password-stdin`} label="docker login command" />
        <CopyCommand command={`echo "$BERTH_TOKEN" | podman login ${host} --username berth --password-stdin`} label="podman login command" />
        <p class="muted small">
          For a registry served over plain HTTP, podman needs <code>--tls-verify=false</code> and docker an <code>insecure-registries</code> entry. Apply
          the Secret with <code>kubectl apply -f {secretName || `registry-${name}`}.yaml</code> and name it in a pod’s <code>imagePullSecrets</code>.
        </p>
      </section>
    </>
  );
}
