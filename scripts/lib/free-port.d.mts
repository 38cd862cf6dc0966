/** A TCP port on 127.0.0.1 that was free a moment ago (see the .mjs beside it). */
export function freePort(): Promise<number>;
