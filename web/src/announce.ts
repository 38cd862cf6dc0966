/**
 * One polite live region for what just happened ("Deleted tag v1"), so screen reader users
 * hear the outcome of an action that changed the page without moving focus.
 */
type Listener = (message: string) => void;
const listeners = new Set<Listener>();

export function announce(message: string): void {
  for (const listener of listeners) listener(message);
}

export function onAnnounce(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
