/** With access rules, the catalog a backend answers is cut down to the repositories the caller may pull. */
import type { AuthService } from '../../auth/index.js';
import { filterCatalogResponse } from '../catalog-filter.js';
import { NEXT, type Pass } from './pass.js';

export function catalogFilter(auth: AuthService): Pass {
  return (ctx) => {
    if (ctx.route.operation === 'catalog' || ctx.route.operation === 'catalog_usage')
      filterCatalogResponse(ctx.res, (repos) => auth.filterCatalog(ctx.user, repos));
    return NEXT;
  };
}
