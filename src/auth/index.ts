export * from './credentials.js';
export * from './scope.js';
export * from './registry-tokens.js';
export * from './rate-limiter.js';
