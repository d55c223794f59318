import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { cacheStatus, IpcError } from './index';
import { cacheStatus as cacheStatusFixture } from '../fixtures';

const STATUS = cacheStatusFixture({
  path: '/home/ana/.local/share/app.zentro.desk/cache.sqlite',
  counts: { channels: 1, contacts: 2, conversations: 3, messages: 4 },
});

afterEach(() => clearMocks());

describe('cacheStatus', () => {
  it('invokes the cache_status command and returns its data', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return STATUS;
    });
    await expect(cacheStatus()).resolves.toEqual(STATUS);
    expect(calls).toEqual(['cache_status']);
  });

  it('turns a command error into an IpcError carrying its code', async () => {
    mockIPC(() => {
      throw { code: 'cache_unavailable', message: 'disk full' };
    });
    const error = await cacheStatus().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpcError);
    expect((error as IpcError).code).toBe('cache_unavailable');
    expect((error as IpcError).message).toBe('disk full');
  });

  it('treats a plain Tauri rejection (e.g. a denied permission) as an internal error', async () => {
    mockIPC(() => {
      throw 'cache_status not allowed. Permissions associated with this command: allow-cache-status';
    });
    const error = (await cacheStatus().catch((e: unknown) => e)) as IpcError;
    expect(error.code).toBe('internal');
    expect(error.message).toContain('not allowed');
  });

  it('does not trust an unknown code from the other side', () => {
    expect(IpcError.from({ code: 'made_up', message: 'x' }).code).toBe('internal');
  });
});
