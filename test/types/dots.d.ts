/**
 * @digitalocean/dots ships its TypeScript sources next to the JavaScript, so importing it
 * would type-check DigitalOcean's code under our strict settings (it does not pass them).
 * Tests see it through this narrow declaration instead; the runtime is the real package.
 */
declare module '@digitalocean/dots' {
  import type { AuthenticationProvider, RequestAdapter } from '@microsoft/kiota-abstractions';

  export class DigitalOceanApiKeyAuthenticationProvider implements AuthenticationProvider {
    constructor(apiKey: string);
    authenticateRequest: AuthenticationProvider['authenticateRequest'];
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the client's surface is generated and huge
  export function createDigitalOceanClient(adapter: RequestAdapter): any;
}
