import type { ProvisioningAction } from './api/model';

const ACTIONS: ProvisioningAction[] = ['Create', 'Update', 'Delete', 'StagedDelete'];

/** The action filter's options: StagedDelete comes first while the configuration is quarantined. */
export function actionOptions(quarantined: boolean): { value: string; label: string }[] {
  const all = { value: '', label: 'All actions' };
  const each = ACTIONS.map((a) => ({ value: a, label: a }));
  if (!quarantined) return [all, ...each];
  return [{ value: 'StagedDelete', label: 'StagedDelete' }, all, ...each.filter((o) => o.value !== 'StagedDelete')];
}

/** "all" in the URL is an explicit "All ..." choice (as opposed to no choice yet): no filter. */
export function fromParam(v: string): string {
  return v === 'all' ? '' : v;
}
