export {
  BlobNotFoundError,
  blobKey,
  uploadedBlobKey,
  uploadIdOfBlobKey,
  uploadKey,
  type Appended,
  type BlobDriver,
  type RandomAccessObject,
  type SessionState,
  type StoredObject,
  type UploadSessions,
} from './driver.js';
export { createFilesystemDriver } from './filesystem.js';
export { createMemoryDriver } from './memory.js';
// s3.js is imported on demand (context.ts): the AWS SDK is large.
export type { S3Options } from './s3.js';
export { formatMode, restrictFiles, restrictTree, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, type ModeChange } from './permissions.js';
export { observeDriver, type StorageObserver, type StorageFailure } from './observed.js';
