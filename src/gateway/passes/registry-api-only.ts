/** Past the gateway's own endpoints, only the registry API (/v2/...) goes on; anything else is a JSON 404. */
import { sendError } from '../../oci/errors.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export const registryApiOnly: Pass = ({ res, route }) => {
  if (route.api) return NEXT;
  sendError(res, 'NOT_FOUND', `${route.path} is not part of the registry API`, { path: route.path });
  return ANSWERED;
};
