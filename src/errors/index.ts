export { codes, type ErrorCode, type CodeDef } from './codes.js';
export { AppError, isAppError, toOciBody, toDoBody } from './app-error.js';
