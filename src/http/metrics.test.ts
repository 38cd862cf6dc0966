import { describe, expect, it } from 'vitest';
import { registryOperation } from './metrics.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('registryOperation', () => {
  it.each([
    ['GET', '/v2/', 'base'],
    ['GET', '/v2/_catalog?n=10', 'catalog'],
    ['GET', '/auth/token?scope=x', 'token'],
    ['GET', '/readyz', 'health'],
    ['GET', '/v2/r/team/app/manifests/v1', 'manifest_get'],
    ['HEAD', '/v2/r/app/manifests/v1', 'manifest_head'],
    ['PUT', '/v2/r/app/manifests/v1', 'manifest_put'],
    ['DELETE', `/v2/r/app/manifests/${digest}`, 'manifest_delete'],
    ['GET', `/v2/r/app/blobs/${digest}`, 'blob_get'],
    ['HEAD', `/v2/r/app/blobs/${digest}`, 'blob_head'],
    ['DELETE', `/v2/r/app/blobs/${digest}`, 'blob_delete'],
    ['POST', '/v2/r/app/blobs/uploads/', 'upload_start'],
    ['POST', `/v2/r/app/blobs/uploads/?digest=${digest}`, 'blob_upload_monolithic'],
    ['POST', `/v2/r/app/blobs/uploads/?mount=${digest}&from=r/other`, 'blob_mount'],
    ['PATCH', '/v2/r/app/blobs/uploads/0b6f7c1e-7d1c-4f7e-9c1a-2b3c4d5e6f70?_state=5', 'upload_patch'],
    ['PUT', `/v2/r/app/blobs/uploads/0b6f7c1e-7d1c-4f7e-9c1a-2b3c4d5e6f70?digest=${digest}`, 'upload_finish'],
    ['GET', '/v2/r/app/blobs/uploads/0b6f7c1e-7d1c-4f7e-9c1a-2b3c4d5e6f70', 'upload_status'],
    ['DELETE', '/v2/r/app/blobs/uploads/0b6f7c1e-7d1c-4f7e-9c1a-2b3c4d5e6f70', 'upload_cancel'],
    ['GET', '/v2/r/app/tags/list', 'tags_list'],
    ['GET', `/v2/r/app/referrers/${digest}`, 'referrers_list'],
    ['POST', '/v2/r/app/manifests/v1', 'other'],
    ['GET', '/nothing', 'other'],
  ])('%s %s is %s', (method, url, operation) => expect(registryOperation(method, url)).toBe(operation));
});
