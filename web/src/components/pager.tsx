/** Previous / next page controls for a list. */
export function Pager({ label, page, pages, onPage, busy }: { label: string; page: number; pages: number | undefined; onPage: (page: number) => void; busy?: boolean }) {
  if (page === 1 && pages !== undefined && pages <= 1) return null;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" class="secondary small" disabled={busy || page <= 1} onClick={() => onPage(page - 1)}>
        Previous page
      </button>
      <span aria-live="polite">
        Page {page}
        {pages !== undefined ? ` of ${pages}` : ''}
      </span>
      <button type="button" class="secondary small" disabled={busy || (pages !== undefined && page >= pages)} onClick={() => onPage(page + 1)}>
        Next page
      </button>
    </nav>
  );
}
