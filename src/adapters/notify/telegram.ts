/**
 * Telegram sender: Bot API `POST {apiBase}/bot{token}/sendMessage`, via undici.
 *
 *   body: {"chat_id": <id>, "text": "...", "parse_mode"?: "HTML"|"MarkdownV2"|"Markdown",
 *          "disable_web_page_preview": true}
 *   200 {"ok":true,"result":{…}}                      → sent
 *   429 {"ok":false,"parameters":{"retry_after":N}}   → retryable after N s
 *   5xx, network error, timeout                       → retryable
 *   400/401/403/404 (bad chat, bad token, bot blocked) → not retryable
 *
 * The bot token is part of the URL path, so it must never reach a message: the endpoint is
 * described as `{apiBase}/bot<redacted>/sendMessage` and every message is scrubbed of the token.
 * Never throws for HTTP or network problems.
 */
import { request, type Dispatcher } from 'undici';
import {
  DEFAULT_SEND_TIMEOUT_MS,
  NOTIFIER_USER_AGENT,
  failureFromError,
  isRetryableStatus,
  notifyAgent,
  retryAfterFromHeaders,
  scrub,
  withTimeout,
  type SendOptions,
  type SendResult,
} from './send-result.js';

/** Telegram rejects longer texts (4096 UTF-16 code units after entity parsing). */
export const TELEGRAM_MAX_TEXT = 4096;

export interface TelegramMessage {
  chatId: string | number;
  text: string;
  parseMode?: 'HTML' | 'MarkdownV2' | 'Markdown';
  /** Default true: notification texts carry no links worth a preview. */
  disableWebPagePreview?: boolean;
}

export interface TelegramSendOptions extends SendOptions {
  /** e.g. `https://api.telegram.org` or a local Bot API server. A trailing `/` is ignored. */
  apiBase: string;
  botToken: string;
}

/** Shortens `text` to Telegram's limit, marking the cut with `…`. */
export function truncateTelegramText(text: string, max = TELEGRAM_MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The endpoint with the token replaced, for messages and logs. */
export function describeTelegramEndpoint(apiBase: string): string {
  return `${apiBase.replace(/\/+$/, '')}/bot<redacted>/sendMessage`;
}

// Real tokens look like `123456789:AAH…`; anything that could change the URL's structure is refused.
const TOKEN_CHARS = /^[A-Za-z0-9:_-]+$/;

interface TelegramReply {
  ok?: boolean;
  description?: string;
  error_code?: number;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

function parseReply(text: string): TelegramReply | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as TelegramReply) : undefined;
  } catch (_err) {
    return undefined;
  }
}

/** Sends one message. Never throws for HTTP or network problems. */
export async function sendTelegram(options: TelegramSendOptions, message: TelegramMessage): Promise<SendResult> {
  const token = options.botToken;
  const secrets = [token];
  const where = describeTelegramEndpoint(options.apiBase);
  if (!TOKEN_CHARS.test(token)) {
    return { ok: false, retryable: false, message: `the Telegram bot token has characters a token cannot have (expected digits, ':' and letters)` };
  }
  const url = `${options.apiBase.replace(/\/+$/, '')}/bot${token}/sendMessage`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const body: Record<string, unknown> = {
    chat_id: message.chatId,
    text: truncateTelegramText(message.text),
    disable_web_page_preview: message.disableWebPagePreview ?? true,
  };
  if (message.parseMode) body.parse_mode = message.parseMode;

  if (options.signal?.aborted) return { ok: false, retryable: false, message: `request to ${where} aborted` };
  const { signal, timeout } = withTimeout(options.signal, timeoutMs);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: 'POST',
      dispatcher: options.dispatcher ?? notifyAgent(),
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': NOTIFIER_USER_AGENT },
      body: JSON.stringify(body),
    });
  } catch (err) {
    return failureFromError(err, where, { timeoutMs, timedOut: timeout.aborted, aborted: options.signal?.aborted === true, secrets });
  }

  const status = res.statusCode;
  let text = '';
  try {
    text = await res.body.text();
  } catch (err) {
    if (status >= 200 && status < 300) return { ok: true, status };
    return failureFromError(err, where, { timeoutMs, timedOut: timeout.aborted, aborted: options.signal?.aborted === true, secrets });
  }
  const reply = parseReply(text);
  if (status >= 200 && status < 300) {
    if (reply?.ok === false) {
      return { ok: false, retryable: false, status, message: scrub(`${where} answered ${status} with ok=false: ${(reply.description ?? '').slice(0, 200)}`, secrets) };
    }
    return { ok: true, status };
  }

  const description = typeof reply?.description === 'string' ? `: ${reply.description.slice(0, 200)}` : '';
  const retryAfterS = reply?.parameters?.retry_after;
  let retryAfterMs = typeof retryAfterS === 'number' && Number.isFinite(retryAfterS) && retryAfterS >= 0 ? Math.round(retryAfterS * 1000) : undefined;
  retryAfterMs ??= retryAfterFromHeaders(res.headers, now());
  let hint = '';
  if (status === 401 || status === 404) hint = ' (is the bot token right?)';
  else if (status === 403) hint = ' (was the bot removed from the chat or blocked?)';
  else if (typeof reply?.parameters?.migrate_to_chat_id === 'number') hint = ` (the group became a supergroup: set chatId to ${reply.parameters.migrate_to_chat_id})`;
  const result: SendResult = {
    ok: false,
    retryable: isRetryableStatus(status),
    status,
    message: scrub(`${where} answered ${status}${description}${hint}${retryAfterMs !== undefined ? `, retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''}`, secrets),
  };
  if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  return result;
}
