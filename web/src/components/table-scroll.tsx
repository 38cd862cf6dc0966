import type { ComponentChildren } from 'preact';

/**
 * A table that scrolls sideways on its own on a narrow screen instead of widening the page.
 * The scroll area is focusable (so keyboard users can scroll it) and named after the table.
 */
export function TableScroll({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-scroll" role="region" aria-label={`${label} (table)`} tabIndex={0}>
      {children}
    </div>
  );
}
