import type { Logger } from 'pino';
import type { Entry } from 'ldapts';
import type { PreviewBatch, PreviewComplete, PreviewObject, StartPreview } from '@syncguard/protocol';
import { AgentError } from '../errors';
import type { AttributeFilter } from '../ldap/attribute-filter';
import { mapEntry, type MapOptions } from '../ldap/entry-mapper';
import { LdapSource, validateFilter, type LdapSourceOptions } from '../ldap/ldap-source';
import { completeRanges, hasRanges } from '../ldap/ranged';
import { readAttributes } from '../cycle/cycle-runner';
import { scopeFilter, validateScope } from '../cycle/scope';

export interface PreviewDeps {
  ldap: LdapSourceOptions & { attributeFilter?: AttributeFilter };
  /** Current limits (from the latest ControllerWelcome). */
  limits: () => { maxFrameBytes: number; maxBatchChanges: number; maxInFlightBatches: number };
  /** Sends a batch; false when the connection is not open (the preview then fails: it is not resumed). */
  send: (batch: PreviewBatch) => boolean;
  log: Logger;
  signal: AbortSignal;
}

/** Bytes of a PreviewObject on the wire, at most (ids and DNs counted at 3 bytes a UTF-16 unit). */
const objectBytes = (o: PreviewObject): number => 64 + 3 * (o.objectId.length + o.dn.length);

/**
 * Reads the whole of a proposed scope as a FULL cycle would (the same filter, attributes
 * and mapping, so the same content hashes) and streams every object's id, type, DN, hash
 * and disabled flag in PreviewBatch frames, at most `maxInFlightBatches` unacknowledged.
 * It touches no agent state: no cache, cursor, outbox or watermark. A read that fails or is
 * cut short throws (AgentError), and the caller answers PreviewFailed.
 */
export class PreviewRunner {
  private sequence = 0;
  private acked = 0;
  private objects = 0;
  private entriesRead = 0;
  private batch: PreviewObject[] = [];
  private batchBytes = 0;
  private wake: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly start: StartPreview,
    private readonly deps: PreviewDeps,
  ) {}

  /** A PreviewAck: frees the window; `stop` ends the read. */
  ack(through: number, stop: boolean): void {
    this.acked = Math.max(this.acked, through);
    if (stop) this.stopped = true;
    this.wake?.();
  }

  async run(): Promise<PreviewComplete> {
    const { scope } = this.start;
    validateScope(scope);
    const own = scope.filter.trim();
    if (own) validateFilter(own.startsWith('(') ? own : `(${own})`);
    const startedAt = Date.now();
    let source: LdapSource | undefined;
    const onAbort = () => {
      void source?.close();
      this.wake?.();
    };
    this.deps.signal.addEventListener('abort', onAbort, { once: true });
    try {
      source = await LdapSource.connect(this.deps.ldap);
      this.check();
      const flavor = source.flavor;
      const mapOptions: MapOptions = {
        flavor,
        objectTypes: scope.objectTypes,
        disabledAttribute: scope.disabledAttribute,
        attributes: this.deps.ldap.attributeFilter,
      };
      const filter = scopeFilter(scope, flavor);
      const attributes = readAttributes(scope.attributes, scope.disabledAttribute, flavor);
      for await (const page of source.pagesOf({ base: scope.baseDn, filter, attributes })) {
        this.check();
        await this.considerPage(page, mapOptions, source);
      }
      await this.flush();
      // Every batch counted before the completion goes out.
      await this.waitFor(() => this.acked >= this.sequence);
      return {
        configurationId: this.start.configurationId,
        previewId: this.start.previewId,
        lastSequence: this.sequence,
        objects: this.objects,
        source: {
          entriesRead: this.entriesRead,
          pages: source.pages,
          readDurationMs: Date.now() - startedAt,
          serverUrl: source.serverUrl,
        },
      };
    } catch (error) {
      if (this.deps.signal.aborted || this.stopped) this.check();
      throw error;
    } finally {
      this.deps.signal.removeEventListener('abort', onAbort);
      await source?.close();
    }
  }

  private async considerPage(page: Entry[], mapOptions: MapOptions, source: LdapSource): Promise<void> {
    for (const entry of page) {
      this.entriesRead += 1;
      // Large multi-valued attributes (members of big AD groups) come in ranges: the hash covers them all.
      if (mapOptions.flavor === 'ad' && hasRanges(entry))
        await completeRanges(entry, (dn, attribute) => source.readEntry(dn, '(objectClass=*)', [attribute]));
      const object = mapEntry(entry, mapOptions);
      if (!object) continue;
      const item: PreviewObject = {
        objectId: object.id,
        objectType: object.type,
        dn: object.dn,
        contentHash: object.hash,
        disabled: object.disabled,
      };
      const limits = this.deps.limits();
      const size = objectBytes(item);
      if (this.batchBytes + size > limits.maxFrameBytes - 256) await this.flush();
      this.batch.push(item);
      this.batchBytes += size;
      this.objects += 1;
      if (this.batch.length >= limits.maxBatchChanges) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    await this.waitFor(() => this.sequence - this.acked < Math.max(1, this.deps.limits().maxInFlightBatches));
    this.sequence += 1;
    const objects = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const sent = this.deps.send({
      configurationId: this.start.configurationId,
      previewId: this.start.previewId,
      sequence: this.sequence,
      objects,
    });
    if (!sent) throw new AgentError('AGENT_ERR_CYCLE_ABORTED', 'the connection to the controller closed during the preview');
  }

  private async waitFor(ready: () => boolean): Promise<void> {
    while (!ready()) {
      this.check();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    this.check();
  }

  private check(): void {
    if (this.stopped) throw new AgentError('AGENT_ERR_CYCLE_ABORTED', 'the controller stopped the preview');
    const signal = this.deps.signal;
    if (!signal.aborted) return;
    const reason: unknown = signal.reason;
    throw reason instanceof AgentError ? reason : new AgentError('AGENT_ERR_CYCLE_ABORTED', 'the preview was stopped');
  }
}
