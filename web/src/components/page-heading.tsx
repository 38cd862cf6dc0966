import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

let firstRender = true;

/**
 * The page's one <h1>. It sets the document title and, after an in-app navigation, takes
 * focus so keyboard and screen reader users start at the new page's top (the initial load
 * keeps the browser's own focus).
 */
export function PageHeading({ title, children }: { title: string; children?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Berth`;
    if (firstRender) firstRender = false;
    else heading.current?.focus();
  }, [title]);
  return (
    <h1 ref={heading} tabIndex={-1}>
      {children ?? title}
    </h1>
  );
}
