export { BlobNotFoundError, blobKey, uploadKey, type BlobDriver } from './driver.js';
export { createFilesystemDriver } from './filesystem.js';
export { createMemoryDriver } from './memory.js';
export { observeDriver, type StorageObserver, type StorageFailure } from './observed.js';
