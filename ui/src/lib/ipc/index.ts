// The UI's one gateway to Rust. Components import from here, never from `@tauri-apps/api`
// or from the generated bindings directly.
import { commands, type CacheStatus, type CommandError, type ErrorCode } from './bindings';

export type { CacheCounts, CacheStatus, CommandError, ErrorCode } from './bindings';

const ERROR_CODES: readonly ErrorCode[] = ['cache_unavailable', 'internal'];

/** A failed command. Branch on `code`; show `message` to people. */
export class IpcError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'IpcError';
    this.code = code;
  }

  /** Normalises whatever a command rejected with into an `IpcError`. */
  static from(raw: unknown): IpcError {
    if (raw instanceof IpcError) return raw;
    if (isCommandError(raw)) return new IpcError(raw.code, raw.message);
    // Tauri itself (an unknown command, a permission denial) rejects with a plain string.
    const message = typeof raw === 'string' ? raw : raw instanceof Error ? raw.message : String(raw);
    return new IpcError('internal', message);
  }
}

function isCommandError(raw: unknown): raw is CommandError {
  if (typeof raw !== 'object' || raw === null) return false;
  const candidate = raw as Record<string, unknown>;
  return (
    typeof candidate.message === 'string' &&
    typeof candidate.code === 'string' &&
    (ERROR_CODES as readonly string[]).includes(candidate.code)
  );
}

type Result<T> = { status: 'ok'; data: T } | { status: 'error'; error: CommandError };

async function unwrap<T>(call: () => Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call();
  } catch (raw) {
    throw IpcError.from(raw);
  }
  if (result.status === 'ok') return result.data;
  throw IpcError.from(result.error);
}

/** Opens the local cache if needed and summarises it. */
export function cacheStatus(): Promise<CacheStatus> {
  return unwrap(() => commands.cacheStatus());
}
