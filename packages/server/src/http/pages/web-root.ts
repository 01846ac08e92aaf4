// Where the dashboard's templates and assets are: src/web when run from source, dist/web when bundled.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The bundle (dist/server.js) has the files beside it in dist/web (build.ts copies them);
 * from source this module sits in src/http/pages and they are in src/web.
 */
export function webRoot(): string {
  for (const relative of ['./web/', '../../web/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${dir}views/layout.eta`)) return dir;
  }
  throw new Error('The dashboard templates are missing (dist/web/views): run the build again.');
}
