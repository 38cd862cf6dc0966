import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import type { Registry } from '../../src/db/index.js';
import { GarbageCollectionService, type GcOptions } from '../../src/gc/index.js';
import { startGcWorker } from '../../src/jobs/gc-worker.js';
import { age, newRegistry, openContext, pausedListing, repository, upload, waitFor } from './fixtures.js';

const OPTIONS: GcOptions = { nodeId: 'worker-test', graceMs: 60_000, leaseMs: 5_000, readOnlyMode: false, writeTokenTtlMs: 0 };

let ctx: AppContext;
let registry: Registry;

beforeEach(async () => {
  ctx = await openContext();
  registry = await newRegistry(ctx, 'worker');
});
afterEach(() => ctx.close());

/** The real service, counting how many ticks run at the same time. */
class CountingService extends GarbageCollectionService {
  concurrent = 0;
  maxActive = 0;
  ticks = 0;

  override async runPending(): Promise<number> {
    this.ticks++;
    this.maxActive = Math.max(this.maxActive, ++this.concurrent);
    try {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return await super.runPending();
    } finally {
      this.concurrent--;
    }
  }
}

describe('gc worker', () => {
  it('executes a requested run right after a kick', async () => {
    const repo = await repository(ctx, registry, 'app');
    await upload(ctx, repo, randomBytes(64));
    await age(ctx, 600_000);
    const gc = new GarbageCollectionService(ctx.db, ctx.driver, ctx.logger, OPTIONS);
    const worker = startGcWorker({ gc, logger: ctx.logger }, 60_000);
    const run = await gc.start(registry);
    worker.kick();
    const done = await waitFor(async () => {
      const r = await gc.get(registry.id, run.id);
      return r.status === 'succeeded' && r;
    });
    expect(done).toMatchObject({ blobs_deleted: 1, freed_bytes: 64 });
    await worker.stop();
  });

  it('never overlaps ticks, however often it is kicked', async () => {
    const gc = new CountingService(ctx.db, ctx.driver, ctx.logger, OPTIONS);
    const worker = startGcWorker({ gc, logger: ctx.logger }, 5);
    for (let i = 0; i < 20; i++) {
      worker.kick();
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await worker.stop();
    expect(gc.ticks).toBeGreaterThan(1);
    expect(gc.maxActive).toBe(1);
    const ticks = gc.ticks;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gc.ticks).toBe(ticks); // stopped means stopped
  });

  it('stop() waits for the tick in progress', async () => {
    const repo = await repository(ctx, registry, 'app');
    await upload(ctx, repo, randomBytes(64));
    await age(ctx, 600_000);
    const { driver, paused, release } = pausedListing(ctx);
    const gc = new GarbageCollectionService(ctx.db, driver, ctx.logger, OPTIONS);
    const run = await gc.start(registry);
    const worker = startGcWorker({ gc, logger: ctx.logger }, 60_000);
    await paused;
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'succeeded' });
  });
});
