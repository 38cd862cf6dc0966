export { BlobNotFoundError, blobKey, uploadKey, type BlobDriver, type RandomAccessObject } from './driver.js';
export { createFilesystemDriver } from './filesystem.js';
export { createMemoryDriver } from './memory.js';
