import { useEffect, useState } from 'preact/hooks';
import { announce, onAnnounce } from './announce.js';
import { CreateRegistryPage } from './pages/create-registry.js';
import { NotFoundPage } from './pages/not-found.js';
import { RegistriesPage } from './pages/registries.js';
import { RegistryPage } from './pages/registry.js';
import { RepositoryPage } from './pages/repository.js';
import { SignInPage } from './pages/sign-in.js';
import { SubscriptionPage } from './pages/subscription.js';
import { Link, navigate, parseRoute, paths, useLocation } from './router.js';
import { forgetToken, onSessionExpired, storedToken } from './session.js';

/** The shell: signed in or not, the header, the page for the current route, the live region. */
export function App() {
  const location = useLocation();
  const [signedIn, setSignedIn] = useState(storedToken() !== undefined);
  const [notice, setNotice] = useState<string>();
  const [returnTo, setReturnTo] = useState<string>();
  const [live, setLive] = useState('');
  const route = parseRoute(location);

  useEffect(() => onAnnounce((message) => setLive(message)), []);
  useEffect(
    () =>
      onSessionExpired(() => {
        forgetToken();
        setReturnTo(location);
        setNotice('Your session ended: the API no longer accepts this token (it expired or was revoked). Sign in again to continue.');
        setSignedIn(false);
      }),
    [location],
  );

  // Signed out: every route shows the sign-in page (the address stays, so a reload after
  // signing in lands where the person wanted to go).
  useEffect(() => {
    if (!signedIn && route.page !== 'sign-in') {
      setReturnTo((r) => r ?? location);
      navigate(paths.signIn(), { replace: true });
    }
    if (signedIn && (route.page === 'sign-in' || location === '/')) navigate(paths.registries(), { replace: true });
  }, [signedIn, route.page, location]);

  const signOut = () => {
    forgetToken();
    setNotice('You are signed out. The token was removed from this browser tab.');
    setReturnTo(undefined);
    setSignedIn(false);
    announce('Signed out');
  };

  if (!signedIn) {
    return (
      <>
        <SkipLink />
        <header class="top">
          <span class="brand">Berth</span>
        </header>
        <main id="main" tabIndex={-1}>
          <SignInPage
            notice={notice}
            onSignedIn={() => {
              setNotice(undefined);
              setSignedIn(true);
              navigate(returnTo && returnTo !== paths.signIn() ? returnTo : paths.registries(), { replace: true });
              setReturnTo(undefined);
            }}
          />
        </main>
        <LiveRegion message={live} />
      </>
    );
  }

  return (
    <>
      <SkipLink />
      <header class="top">
        <Link href={paths.registries()} class="brand">
          Berth
        </Link>
        <nav aria-label="Main">
          <ul>
            <li>
              <Link href={paths.registries()} aria-current={route.page === 'registries' || route.page === 'registry' || route.page === 'repository' ? 'page' : undefined}>
                Registries
              </Link>
            </li>
            <li>
              <Link href={paths.subscription()} aria-current={route.page === 'subscription' ? 'page' : undefined}>
                Subscription
              </Link>
            </li>
          </ul>
        </nav>
        <button type="button" class="secondary small sign-out" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'registries' && <RegistriesPage />}
        {route.page === 'create-registry' && <CreateRegistryPage />}
        {route.page === 'subscription' && <SubscriptionPage />}
        {route.page === 'registry' && <RegistryPage key={route.registry} name={route.registry} tab={route.tab} />}
        {route.page === 'repository' && <RepositoryPage key={`${route.registry}/${route.repository}`} registry={route.registry} repository={route.repository} />}
        {route.page === 'not-found' && <NotFoundPage path={route.path} />}
      </main>
      <LiveRegion message={live} />
    </>
  );
}

function SkipLink() {
  return (
    <a class="skip-link" href="#main">
      Skip to content
    </a>
  );
}

function LiveRegion({ message }: { message: string }) {
  return (
    <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
      {message}
    </div>
  );
}
