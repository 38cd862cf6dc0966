/** The API client's generated schema module for an OpenAPI document (see the .mjs beside it). */
export function renderSchemaModule(document: Record<string, unknown>): Promise<string>;
export const HEADER: string;
