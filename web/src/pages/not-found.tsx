import { PageHeading } from '../components/page-heading.js';
import { Link, paths } from '../router.js';

export function NotFoundPage({ path }: { path: string }) {
  return (
    <>
      <PageHeading title="Page not found" />
      <p>
        There is nothing at <code>{path}</code>. <Link href={paths.registries()}>Go to your registries</Link>.
      </p>
    </>
  );
}
