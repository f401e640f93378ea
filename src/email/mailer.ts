// Email, the alternative channel to SMS, through nodemailer over SMTP. Without SMTP settings
// (development) messages are kept in memory as the developer's mailbox instead of being sent.
import nodemailer, { type Transporter } from 'nodemailer';
import { AppError } from '../errors.ts';

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface SentEmail extends EmailMessage {
  messageId: string;
  sentAt: Date;
}

export interface Mailer {
  /** smtp: a real server; mailbox: kept in memory (development, no SMTP configured). */
  readonly mode: 'smtp' | 'mailbox';
  send(message: EmailMessage): Promise<SentEmail>;
  /** The in-memory mailbox, newest first (mailbox mode; empty in smtp mode). */
  mailbox(): SentEmail[];
  close(): void;
}

export interface MailerOptions {
  /** e.g. smtp://user:pass@smtp.example.com:587 or smtps://...; undefined = in-memory mailbox. */
  smtpUrl: string | undefined;
  from: string;
  timeoutMs?: number;
}

/** SMTP replies 4xx are temporary (retry later); 5xx are permanent. */
export class EmailDeliveryError extends AppError {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, cause: unknown) {
    super('unavailable', message, { cause });
    this.name = 'EmailDeliveryError';
    this.retryable = retryable;
  }
}

const MAILBOX_SIZE = 500;

export function createMailer(options: MailerOptions): Mailer {
  const kept: SentEmail[] = [];
  const transport: Transporter = options.smtpUrl
    ? nodemailer.createTransport(options.smtpUrl, {
        pool: true,
        connectionTimeout: options.timeoutMs ?? 10_000,
        socketTimeout: options.timeoutMs ?? 10_000,
      } as never)
    : nodemailer.createTransport({ jsonTransport: true });
  return {
    mode: options.smtpUrl ? 'smtp' : 'mailbox',
    async send(message) {
      try {
        const info = (await transport.sendMail({ from: options.from, ...message })) as { messageId: string };
        const sent = { ...message, messageId: info.messageId, sentAt: new Date() };
        if (!options.smtpUrl) {
          kept.unshift(sent);
          kept.length = Math.min(kept.length, MAILBOX_SIZE);
        }
        return sent;
      } catch (error) {
        const code = (error as { responseCode?: number }).responseCode;
        const retryable = code === undefined || code < 500;
        const reason = code ? `the mail server answered ${code}` : `the mail server could not be reached (${(error as Error).message})`;
        throw new EmailDeliveryError(`Email not sent: ${reason}. ${retryable ? 'It will be retried.' : 'Check the address.'}`, retryable, error);
      }
    },
    mailbox: () => [...kept],
    close: () => transport.close(),
  };
}
