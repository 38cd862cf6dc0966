export { BlobNotFoundError, blobKey, uploadKey, type BlobDriver } from './driver.js';
export { createFilesystemDriver } from './filesystem.js';
export { createMemoryDriver } from './memory.js';
export { formatMode, restrictFiles, restrictTree, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, type ModeChange } from './permissions.js';
