import nodemailer, { type Transporter } from 'nodemailer';
import { ControllerError } from '../errors';

/** Sends email over SMTP; SMTP failures become ControllerError `SG_ERR_SMTP` with the cause. */
export class Mailer {
  private readonly transport: Transporter | null;

  constructor(
    smtpUrl: string | null,
    private readonly from: string,
  ) {
    if (!smtpUrl) {
      this.transport = null;
      return;
    }
    const url = new URL(smtpUrl);
    const secure = url.protocol === 'smtps:';
    this.transport = nodemailer.createTransport({
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 465 : 25,
      secure,
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
      socketTimeout: 10_000,
    });
  }

  get configured(): boolean {
    return this.transport !== null;
  }

  async send(message: { to: string; subject: string; text: string }): Promise<void> {
    if (!this.transport) throw new ControllerError('SG_ERR_SMTP', 'no SMTP server configured (SMTP_URL)');
    try {
      await this.transport.sendMail({ from: this.from, ...message });
    } catch (cause) {
      throw new ControllerError('SG_ERR_SMTP', `sending email failed: ${(cause as Error).message}`, { cause });
    }
  }

  close(): void {
    this.transport?.close();
  }
}
