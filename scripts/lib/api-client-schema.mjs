// Renders the typed API client's schema module from Berth's OpenAPI document. Shared by the
// generator (scripts/generate-api-client.mjs) and the test that keeps the committed file current.
import openapiTS, { astToString } from 'openapi-typescript';

export const HEADER = `/**
 * Types of Berth's management API, generated from its own \`/openapi.json\` by
 * \`npm run generate:api-client\`. Do not edit: change the route schemas and regenerate.
 * test/api-client.test.ts fails when this file is stale.
 */
`;

export async function renderSchemaModule(document) {
  const ast = await openapiTS(document, { alphabetize: false, exportType: false });
  return HEADER + astToString(ast);
}
