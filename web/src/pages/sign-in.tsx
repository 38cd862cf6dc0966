import { useState } from 'preact/hooks';
import { unwrap } from '../../../src/api-client/index.js';
import { describedBy, FieldError } from '../components/feedback.js';
import { PageHeading } from '../components/page-heading.js';
import { messageOf, statusOf } from '../errors.js';
import { clientFor, storeToken } from '../session.js';

/**
 * Signing in checks the token against the API (listing registries, which every use of the
 * console needs) before keeping it, so a bad token is refused here with the reason.
 */
export function SignInPage({ notice, onSignedIn }: { notice?: string; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = token.trim();
    if (!candidate) {
      setError('Enter an API token.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await unwrap(clientFor(candidate).GET('/v2/registries'));
      storeToken(candidate);
      setToken('');
      onSignedIn();
    } catch (err) {
      const status = statusOf(err);
      if (status === 401) setError(`This token was not accepted: it is invalid, expired or revoked. (${messageOf(err)})`);
      else if (status === 403) setError(`This token is valid but may not read registries; the console needs the registry:read scope. (${messageOf(err)})`);
      else setError(messageOf(err));
      setBusy(false);
    }
  };

  return (
    <section class="narrow">
      <PageHeading title="Sign in" />
      {notice && (
        <p class="message info" role="status">
          {notice}
        </p>
      )}
      <p>
        Sign in with an API token (<code>dop_v1_…</code>): the one Berth printed at first start, or one from{' '}
        <code>berth admin token create</code>. It stays in this browser tab only and is forgotten when you sign out or close the tab.
      </p>
      {/* method=post: even if the script were gone, the token would never land in a URL. */}
      <form method="post" action="/sign-in" onSubmit={submit} noValidate>
        <div class="field">
          <label for="token">API token</label>
          <input
            id="token"
            name="token"
            type="password"
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
            autocomplete="off"
            spellcheck={false}
            autoCapitalize="off"
            aria-invalid={error ? true : undefined}
            aria-describedby={describedBy('token-hint', error && 'token-error')}
            required
          />
          <p id="token-hint" class="hint">
            Tokens look like <code>dop_v1_</code> followed by 64 hexadecimal characters.
          </p>
          <FieldError id="token-error" error={error} />
        </div>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {busy && (
          <span class="muted" role="status">
            {' '}
            Checking the token…
          </span>
        )}
      </form>
    </section>
  );
}
