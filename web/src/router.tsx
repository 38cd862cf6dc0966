/**
 * A small history router: the console has a handful of routes, one of which ends in a
 * repository name that may itself contain slashes (`shop/frontend`). Paths match
 * src/http/ui.ts CONSOLE_ROUTES, which serves index.html for each.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'sign-in' }
  | { page: 'registries' }
  | { page: 'create-registry' }
  | { page: 'subscription' }
  | { page: 'registry'; registry: string; tab: 'repositories' | 'access' | 'garbage-collection' | 'settings' }
  | { page: 'repository'; registry: string; repository: string }
  | { page: 'not-found'; path: string };

const TABS = { '': 'repositories', access: 'access', 'garbage-collection': 'garbage-collection', settings: 'settings' } as const;

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/registries') return { page: 'registries' };
  if (path === '/sign-in') return { page: 'sign-in' };
  if (path === '/create-registry') return { page: 'create-registry' };
  if (path === '/subscription') return { page: 'subscription' };
  const repository = /^\/registries\/([a-z0-9-]+)\/repositories\/(.+)$/.exec(path);
  if (repository) return { page: 'repository', registry: repository[1]!, repository: decodeURIComponent(repository[2]!) };
  const registry = /^\/registries\/([a-z0-9-]+)(?:\/([a-z-]+))?$/.exec(path);
  if (registry && (registry[2] ?? '') in TABS) {
    return { page: 'registry', registry: registry[1]!, tab: TABS[(registry[2] ?? '') as keyof typeof TABS] };
  }
  return { page: 'not-found', path };
}

export const paths = {
  registries: () => '/registries',
  createRegistry: () => '/create-registry',
  subscription: () => '/subscription',
  signIn: () => '/sign-in',
  registry: (name: string, tab: '' | 'access' | 'garbage-collection' | 'settings' = '') => `/registries/${name}${tab ? `/${tab}` : ''}`,
  // Repository names are [a-z0-9._-] segments joined by '/': readable as they are.
  repository: (registry: string, repository: string) => `/registries/${registry}/repositories/${repository}`,
};

const listeners = new Set<() => void>();

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const listener of listeners) listener();
}

/** The current location, re-rendering on navigation and on back/forward. */
export function useLocation(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

interface LinkProps {
  href: string;
  children: ComponentChildren;
  class?: string;
  'aria-current'?: 'page';
}

/** An ordinary link (open in a new tab works) that navigates in place on a plain click. */
export function Link({ href, children, ...rest }: LinkProps) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
