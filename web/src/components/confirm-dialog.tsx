import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ErrorMessage } from './feedback.js';

export interface ConfirmDialogProps {
  title: string;
  children: ComponentChildren;
  /** The confirm button's name, e.g. "Delete tag". */
  confirmLabel: string;
  /** When set, the person must type this exact text first (registry and repository deletion). */
  typeToConfirm?: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}

/**
 * A modal confirmation (the native <dialog>: focus is trapped, Escape cancels). It closes
 * only after the action succeeded; a refusal is shown inside it and nothing else changes.
 */
export function ConfirmDialog({ title, children, confirmLabel, typeToConfirm, onConfirm, onClose }: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const titleId = useId();
  const inputId = useId();

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);

  const confirm = async (event: Event) => {
    event.preventDefault();
    if (busy || (typeToConfirm !== undefined && typed !== typeToConfirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} aria-labelledby={titleId} onCancel={(e) => (busy ? e.preventDefault() : onClose())} class="dialog">
      <form method="dialog" onSubmit={confirm}>
        <h2 id={titleId}>{title}</h2>
        <div class="dialog-body">{children}</div>
        {typeToConfirm !== undefined && (
          <div class="field">
            <label for={inputId}>
              Type <strong>{typeToConfirm}</strong> to confirm
            </label>
            <input id={inputId} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autocomplete="off" spellcheck={false} autoFocus />
          </div>
        )}
        {error !== undefined && <ErrorMessage error={error} />}
        <div class="actions">
          <button type="button" class="secondary" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={busy || (typeToConfirm !== undefined && typed !== typeToConfirm)}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
