import type { ComponentChildren } from 'preact';
import { messageOf, requestIdOf } from '../errors.js';

/** A failed request, in the API's words, with its request id for a support question. */
export function ErrorMessage({ error, title, children }: { error: unknown; title?: string; children?: ComponentChildren }) {
  const requestId = requestIdOf(error);
  return (
    <div class="message error" role="alert">
      {title && <p class="message-title">{title}</p>}
      <p>{messageOf(error)}</p>
      {requestId && <p class="muted small">Request id: <code>{requestId}</code></p>}
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

/** An error for one form field: referenced by the field's aria-describedby. */
export function FieldError({ id, error }: { id: string; error: unknown }) {
  if (!error) return null;
  return (
    <p id={id} class="field-error">
      {typeof error === 'string' ? error : messageOf(error)}
    </p>
  );
}

/** ids of the hint and error an input should be described by. */
export function describedBy(...ids: (string | false | undefined)[]): string | undefined {
  const list = ids.filter(Boolean).join(' ');
  return list || undefined;
}
