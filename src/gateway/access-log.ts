/**
 * One line per request: pino JSON (default) or the Apache/nginx "combined" format.
 * Only chosen fields are written, never headers, so Authorization cannot leak; the app
 * logger additionally redacts authorization and password paths.
 */
import pino, { type Logger } from 'pino';
import type { RequestContext } from './context.js';
import { bytesIn, bytesOut } from './context.js';

export interface AccessLog {
  write(ctx: RequestContext, status: number): void;
  reopen(): void;
  flush(): void;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function clfTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
}
const quote = (s: string | undefined) => (s ? s.replace(/["\\]/g, (c) => `\\${c}`) : '-');

export function createAccessLog(target: string, format: 'json' | 'combined'): AccessLog {
  if (target === 'off') return { write() {}, reopen() {}, flush() {} };
  // Asynchronous destination: log lines are batched, not a write(2) per request.
  // Whole lines per write(2): a file is opened O_APPEND, so the workers of a group never
  // interleave within a line; a pipe (stdout) only guarantees that up to PIPE_BUF (4 KiB).
  const dest = pino.destination(
    target === '-'
      ? { dest: 1, sync: false, minLength: 2048, maxWrite: 4096 }
      : { dest: target, sync: false, mkdir: true, minLength: 4096 },
  );
  // Batched lines still reach the file within a second on a quiet server (tail -f, logrotate).
  const flusher = setInterval(() => {
    try {
      dest.flush();
    } catch {
      /* not open yet */
    }
  }, 1000);
  flusher.unref();
  const logger: Logger = pino({ base: undefined, messageKey: 'msg', timestamp: pino.stdTimeFunctions.isoTime }, dest);
  return {
    write(ctx, status) {
      const durationMs = Number(process.hrtime.bigint() - ctx.startNs) / 1e6;
      if (format === 'combined') {
        const { req } = ctx;
        dest.write(
          `${ctx.client.ip} - ${ctx.user ?? '-'} [${clfTime(new Date())}] "${req.method} ${quote(req.url)} HTTP/${req.httpVersion}" ${status} ${bytesOut(ctx)} "${quote(req.headers.referer)}" "${quote(ctx.userAgent)}"\n`,
        );
        return;
      }
      logger.info({
        reqId: ctx.id,
        ip: ctx.client.ip,
        user: ctx.user,
        method: ctx.req.method,
        path: ctx.req.url,
        status,
        bytesIn: bytesIn(ctx),
        bytesOut: bytesOut(ctx),
        durationMs: Math.round(durationMs * 100) / 100,
        op: ctx.route.operation,
        repo: ctx.route.repository,
        ua: ctx.userAgent,
        client: ctx.clientType,
        upstream: ctx.upstreamMember,
        upstreamMs: ctx.upstreamMs,
        error: ctx.upstreamError,
      });
    },
    reopen() {
      // Lines buffered before the rotation belong to the old file.
      try {
        dest.flushSync();
      } catch {
        /* not open yet */
      }
      dest.reopen();
    },
    flush() {
      try {
        dest.flushSync();
      } catch {
        /* not ready yet */
      }
    },
  };
}

/** The application (not access) logger: to stderr, secrets redacted by path. */
export function createAppLogger(level: string): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'authorization',
          'password',
          '*.authorization',
          '*.password',
          'headers.authorization',
          'req.headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
