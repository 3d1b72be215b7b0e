import type { ComponentChildren } from 'preact';
import type { Configuration, ConfigurationState } from '../api/model';
import { href } from '../routes';
import { StateBadge } from './ui';

export type ConfigTab = 'status' | 'logs' | 'settings';

/** Breadcrumb, name, state and the tabs shared by a configuration's pages. */
export function ConfigHeader({
  id,
  configuration,
  state,
  tab,
  actions,
}: {
  id: string;
  configuration: Configuration | undefined;
  state: ConfigurationState | undefined;
  tab: ConfigTab;
  actions?: ComponentChildren;
}) {
  const tabs: { tab: ConfigTab; label: string; href: string; testId: string }[] = [
    { tab: 'status', label: 'Sync status info', href: href({ page: 'configuration', id }), testId: 'tab-status' },
    { tab: 'logs', label: 'Provisioning log', href: href({ page: 'logs', id }), testId: 'tab-logs' },
    { tab: 'settings', label: 'Settings', href: href({ page: 'settings', id }), testId: 'tab-settings' },
  ];
  return (
    <div class="config-head">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="#/configurations">Configurations</a> <span aria-hidden="true">/</span> <span>{configuration?.name ?? id}</span>
      </nav>
      <div class="page-head">
        <h1 data-testid="configuration-name">{configuration?.name ?? '…'}</h1>
        {state ? <StateBadge state={state} testId="state" /> : null}
        <div class="spacer" />
        {actions}
      </div>
      <nav class="tabs" aria-label="Configuration">
        {tabs.map((t) => (
          <a key={t.tab} href={t.href} aria-current={t.tab === tab ? 'page' : undefined} data-testid={t.testId}>
            {t.label}
          </a>
        ))}
      </nav>
    </div>
  );
}
