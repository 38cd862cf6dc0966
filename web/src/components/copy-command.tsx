import { useRef, useState } from 'preact/hooks';

/**
 * A command to paste into a terminal, with a button that copies it. Where the clipboard is
 * not available the command is selected, so Ctrl+C copies it.
 */
export function CopyCommand({ command, label }: { command: string; label: string }) {
  const [copied, setCopied] = useState<'copied' | 'selected' | undefined>();
  const code = useRef<HTMLElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied('copied');
    } catch {
      const range = document.createRange();
      if (code.current) range.selectNodeContents(code.current);
      const selection = getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
      setCopied('selected');
    }
  };
  return (
    <div class="command">
      <code ref={code} tabIndex={-1}>
        {command}
      </code>
      <button type="button" class="secondary small" onClick={copy} aria-label={`Copy ${label}`}>
        Copy
      </button>
      <span class="visually-hidden" role="status">
        {copied === 'copied' ? `Copied ${label}` : copied === 'selected' ? `${label} selected: press Control C to copy` : ''}
      </span>
    </div>
  );
}
