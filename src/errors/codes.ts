/**
 * One table of every error Berth can answer with. The code is vocabulary, not HTTP: the
 * status, the OCI code and the DigitalOcean id all come from here, so the registry listener
 * (`{errors:[{code,message,detail}]}`) and the API listener (`{id,message,request_id}`) can
 * never disagree about what went wrong.
 */
export interface CodeDef {
  status: number;
  /** The code in the OCI `{errors:[…]}` envelope. */
  oci: string;
  /** The `id` in DigitalOcean's `{id, message, request_id}` envelope. */
  doId: string;
  message: string;
}

export const codes = {
  // OCI Distribution Specification error codes.
  BLOB_UNKNOWN: { status: 404, oci: 'BLOB_UNKNOWN', doId: 'not_found', message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, oci: 'BLOB_UPLOAD_INVALID', doId: 'bad_request', message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, oci: 'BLOB_UPLOAD_UNKNOWN', doId: 'not_found', message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, oci: 'DIGEST_INVALID', doId: 'bad_request', message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, oci: 'MANIFEST_BLOB_UNKNOWN', doId: 'bad_request', message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, oci: 'MANIFEST_INVALID', doId: 'bad_request', message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, oci: 'MANIFEST_UNKNOWN', doId: 'not_found', message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, oci: 'NAME_INVALID', doId: 'bad_request', message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, oci: 'NAME_UNKNOWN', doId: 'not_found', message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, oci: 'SIZE_INVALID', doId: 'bad_request', message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, oci: 'UNAUTHORIZED', doId: 'unauthorized', message: 'authentication required' },
  DENIED: { status: 403, oci: 'DENIED', doId: 'forbidden', message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, oci: 'UNSUPPORTED', doId: 'bad_request', message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, oci: 'TOOMANYREQUESTS', doId: 'too_many_requests', message: 'too many requests' },
  PAGINATION_NUMBER_INVALID: { status: 400, oci: 'PAGINATION_NUMBER_INVALID', doId: 'bad_request', message: 'invalid number of results requested' },
  RANGE_INVALID: { status: 416, oci: 'BLOB_UPLOAD_INVALID', doId: 'bad_request', message: 'requested range not satisfiable' },
  MANIFEST_TOO_LARGE: { status: 413, oci: 'SIZE_INVALID', doId: 'bad_request', message: 'manifest exceeds the maximum size' },
  TAG_INVALID: { status: 400, oci: 'TAG_INVALID', doId: 'bad_request', message: 'manifest tag did not match URI' },
  READ_ONLY: { status: 405, oci: 'UNSUPPORTED', doId: 'precondition_failed', message: 'the registry is in read-only mode' },

  // Management API errors (DigitalOcean ids).
  BAD_REQUEST: { status: 400, oci: 'UNSUPPORTED', doId: 'bad_request', message: 'bad request' },
  API_UNAUTHORIZED: { status: 401, oci: 'UNAUTHORIZED', doId: 'unauthorized', message: 'Unable to authenticate you.' },
  FORBIDDEN: { status: 403, oci: 'DENIED', doId: 'forbidden', message: 'You do not have access for the attempted action.' },
  NOT_FOUND: { status: 404, oci: 'NAME_UNKNOWN', doId: 'not_found', message: 'The resource you requested could not be found.' },
  CONFLICT: { status: 409, oci: 'DENIED', doId: 'conflict', message: 'The resource already exists.' },
  PRECONDITION_FAILED: { status: 412, oci: 'DENIED', doId: 'precondition_failed', message: 'precondition failed' },
  UNPROCESSABLE: { status: 422, oci: 'UNSUPPORTED', doId: 'unprocessable_entity', message: 'unprocessable entity' },
  RATE_LIMITED: { status: 429, oci: 'TOOMANYREQUESTS', doId: 'too_many_requests', message: 'API rate limit exceeded.' },
  INTERNAL: { status: 500, oci: 'UNKNOWN', doId: 'server_error', message: 'Unexpected server-side error' },
  UNAVAILABLE: { status: 503, oci: 'UNAVAILABLE', doId: 'server_error', message: 'service unavailable' },
  // A full disk (ENOSPC, EDQUOT, SQLITE_FULL): 507 Insufficient Storage on both listeners.
  STORAGE_FULL: { status: 507, oci: 'UNAVAILABLE', doId: 'server_error', message: 'the registry has run out of storage space' },

  // HTTP-level refusals: malformed or oversized requests, answered before any route runs.
  METHOD_NOT_ALLOWED: { status: 405, oci: 'UNSUPPORTED', doId: 'method_not_allowed', message: 'the method is not allowed here' },
  REQUEST_TIMEOUT: { status: 408, oci: 'UNSUPPORTED', doId: 'request_timeout', message: 'the request was not received in time' },
  PAYLOAD_TOO_LARGE: { status: 413, oci: 'SIZE_INVALID', doId: 'request_entity_too_large', message: 'the request body is too large' },
  URI_TOO_LONG: { status: 414, oci: 'UNSUPPORTED', doId: 'request_uri_too_long', message: 'the request URI is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, oci: 'UNSUPPORTED', doId: 'unsupported_media_type', message: 'unsupported media type' },
  HEADERS_TOO_LARGE: { status: 431, oci: 'UNSUPPORTED', doId: 'request_header_fields_too_large', message: 'the request headers are too large' },
} as const satisfies Record<string, CodeDef>;

export type ErrorCode = keyof typeof codes;
