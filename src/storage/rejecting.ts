/**
 * A copy of `target` whose async methods (nested objects' too, such as a driver's upload
 * sessions) reject with `translate(err)` instead of `err`: how a driver turns what its
 * backend throws (a full disk, an unreachable S3 endpoint) into one clear error, whichever
 * call met it. Synchronous methods, values and async iterables pass through unchanged.
 */
export function rejectingWith<T extends object>(target: T, translate: (err: unknown) => unknown): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(target)) {
    if (typeof value === 'function') {
      out[key] = (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(translate(err))) : result;
      };
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = rejectingWith(value as object, translate);
    } else {
      out[key] = value;
    }
  }
  return out as T;
}
