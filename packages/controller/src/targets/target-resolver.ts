import type { StoredConfiguration, StoredScimTargetSettings } from '../model';
import { SecretError, type SecretBox } from '../secrets/secret-box';
import { ScimClient, type ScimCredentials } from './scim/scim-client';
import type { ScimRecords } from './scim/scim-records';
import { ScimTarget } from './scim/scim-target';
import type { Target } from './target';
import { secretContext } from './target-settings';

/** The target a configuration's cycles are applied to. */
export interface TargetResolver {
  /** The cloud directory for a configuration without a target setting (or none at all). */
  forConfiguration(cfg: StoredConfiguration | null): Target;
}

/** Test hooks of the SCIM client (shorter backoff in tests). */
export interface ScimClientTuning {
  backoffMs?: number;
  maxAttempts?: number;
  maxRetryAfterMs?: number;
}

/**
 * Builds each configuration's target from its settings, once: a SCIM target (its client, with
 * the OAuth token cache and the rate limit) lives as long as the settings it was built from.
 */
export class Targets implements TargetResolver {
  private readonly scim = new Map<string, { settings: string; target: ScimTarget }>();

  constructor(
    readonly cloudDirectory: Target,
    private readonly records: ScimRecords,
    private readonly box: SecretBox | null,
    private readonly tuning: ScimClientTuning = {},
  ) {}

  forConfiguration(cfg: StoredConfiguration | null): Target {
    const settings = cfg?.target;
    if (!cfg || !settings || settings.type !== 'scim') return this.cloudDirectory;
    const text = JSON.stringify(settings);
    const cached = this.scim.get(cfg.id);
    if (cached?.settings === text) return cached.target;
    const target = new ScimTarget(
      new ScimClient({
        baseUrl: settings.baseUrl,
        credentials: this.credentials(cfg.id, settings),
        concurrency: settings.concurrency,
        maxRequestsPerSecond: settings.maxRequestsPerSecond,
        timeoutMs: settings.requestTimeoutSeconds * 1000,
        ...this.tuning,
      }),
      this.records,
      {
        deleteMode: settings.deleteMode,
        // Settings stored before updateMethod existed mean PATCH.
        updateMethod: settings.updateMethod ?? 'patch',
        mapping: settings.mapping,
        failureQuarantinePercent: settings.failureQuarantinePercent,
      },
    );
    this.scim.set(cfg.id, { settings: text, target });
    return target;
  }

  /** Removes what is held for a configuration in its target (the SCIM target's records; never the provider's resources). */
  async removeAll(cfg: StoredConfiguration): Promise<void> {
    await this.cloudDirectory.removeAll(cfg.id);
    await this.records.removeAll(cfg.id);
    this.scim.delete(cfg.id);
  }

  private credentials(cfgId: string, s: StoredScimTargetSettings): ScimCredentials {
    if (!this.box)
      throw new SecretError(
        `configuration ${cfgId}: its SCIM target's secrets cannot be opened: SYNCGUARD_SECRET_KEY is not set on this controller`,
      );
    const a = s.auth;
    if (a.type === 'bearer') return { type: 'bearer', token: this.box.open(a.tokenSealed, secretContext(cfgId, 'token')) };
    return {
      type: 'oauth2',
      tokenUrl: a.tokenUrl,
      clientId: a.clientId,
      clientSecret: this.box.open(a.clientSecretSealed, secretContext(cfgId, 'clientSecret')),
      scope: a.scope,
    };
  }
}
