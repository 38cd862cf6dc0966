export {
  BlobNotFoundError,
  blobKey,
  uploadedBlobKey,
  uploadIdOfBlobKey,
  uploadKey,
  type Appended,
  type BlobDriver,
  type SessionState,
  type StoredObject,
  type UploadSessions,
} from './driver.js';
export { createFilesystemDriver } from './filesystem.js';
export { createMemoryDriver } from './memory.js';
export { createS3Driver, type S3Options } from './s3.js';
