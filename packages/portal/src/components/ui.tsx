import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { cycleStateLabel, stateLabel, stateTone, type Tone } from '../format';

/** A warning triangle; decorative (the text next to it says what it means). */
export function WarningIcon() {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <path d="M8 1.2 15.2 14H.8z" fill="currentColor" />
      <path d="M7.2 5.6h1.6v4.2H7.2zM7.2 11h1.6v1.6H7.2z" fill="#fff" />
    </svg>
  );
}

export function CheckIcon() {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <circle cx="8" cy="8" r="7" fill="currentColor" />
      <path d="m4.6 8.2 2.2 2.2 4.6-4.7" stroke="#fff" stroke-width="1.8" fill="none" />
    </svg>
  );
}

export function Badge({ tone, children, testId }: { tone: Tone; children: ComponentChildren; testId?: string }) {
  return (
    <span class={`badge badge-${tone}`} data-testid={testId}>
      {children}
    </span>
  );
}

/** A configuration's (or, with `cycle`, a cycle's) state as a coloured badge; bad states get an icon. */
export function StateBadge({ state, cycle = false, testId }: { state: string; cycle?: boolean; testId?: string }) {
  const tone = stateTone(state);
  return (
    <Badge tone={tone} testId={testId}>
      {tone === 'danger' ? <WarningIcon /> : tone === 'ok' ? <CheckIcon /> : null}
      {cycle ? cycleStateLabel(state) : stateLabel(state)}
    </Badge>
  );
}

export function Notice({
  tone,
  title,
  children,
  testId,
}: {
  tone: Tone;
  title?: ComponentChildren;
  children?: ComponentChildren;
  testId?: string;
}) {
  return (
    <div class={`notice notice-${tone}`} role={tone === 'danger' ? 'alert' : 'status'} data-testid={testId}>
      {tone === 'danger' || tone === 'warn' ? <WarningIcon /> : tone === 'ok' ? <CheckIcon /> : null}
      <div>
        {title ? <strong class="notice-title">{title}</strong> : null}
        {children ? <div>{children}</div> : null}
      </div>
    </div>
  );
}

export function ErrorNotice({ error }: { error: Error | null }) {
  if (!error) return null;
  return (
    <Notice tone="danger" title="Something went wrong" testId="error">
      {error.message}
    </Notice>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="loading" role="status">
      {what}…
    </p>
  );
}

/**
 * A modal confirmation on the native <dialog> element (focus stays inside, Escape
 * answers No). `onConfirm` may be async; the buttons are disabled while it runs.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel = 'Yes',
  cancelLabel = 'No',
  danger = false,
  busy = false,
  error,
  onConfirm,
  onCancel,
  testId,
}: {
  title: string;
  children: ComponentChildren;
  confirmLabel?: string;
  cancelLabel?: string;
  danger?: boolean;
  busy?: boolean;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const noRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    noRef.current?.focus();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby="dialog-title"
      data-testid={testId}
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <h2 id="dialog-title">
        {danger ? <WarningIcon /> : null} {title}
      </h2>
      <div class="dialog-body">{children}</div>
      {error ? (
        <p class="field-error" role="alert" data-testid="dialog-error">
          {error}
        </p>
      ) : null}
      <div class="dialog-actions">
        <button
          type="button"
          class={danger ? 'btn btn-danger' : 'btn btn-primary'}
          disabled={busy}
          onClick={onConfirm}
          data-testid="confirm-yes"
        >
          {busy ? 'Working…' : confirmLabel}
        </button>
        <button type="button" class="btn" ref={noRef} disabled={busy} onClick={onCancel} data-testid="confirm-no">
          {cancelLabel}
        </button>
      </div>
    </dialog>
  );
}

export interface MenuItem {
  label: string;
  href?: string;
  onSelect?: () => void;
  disabled?: boolean;
  danger?: boolean;
  testId?: string;
}

/** The "..." button and its menu. Escape or a click outside closes it. */
export function KebabMenu({ label, items, testId }: { label: string; items: MenuItem[]; testId?: string }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return undefined;
    const onDown = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        button.current?.focus();
      }
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    root.current?.querySelector<HTMLElement>('[role="menuitem"]:not([aria-disabled="true"])')?.focus();
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  const onMenuKey = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const all = Array.from(root.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? []);
    const i = all.indexOf(document.activeElement as HTMLElement);
    const next = all[(i + (e.key === 'ArrowDown' ? 1 : all.length - 1)) % all.length];
    next?.focus();
  };
  return (
    <div class="menu" ref={root}>
      <button
        type="button"
        class="btn btn-icon"
        ref={button}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={label}
        title={label}
        data-testid={testId}
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">…</span>
      </button>
      {open ? (
        <ul class="menu-list" role="menu" aria-label={label} onKeyDown={onMenuKey}>
          {items.map((item) => (
            <li role="none" key={item.label}>
              {item.href && !item.disabled ? (
                <a role="menuitem" href={item.href} data-testid={item.testId} onClick={() => setOpen(false)}>
                  {item.label}
                </a>
              ) : (
                <button
                  type="button"
                  role="menuitem"
                  class={item.danger ? 'danger' : undefined}
                  aria-disabled={item.disabled ? 'true' : undefined}
                  data-testid={item.testId}
                  onClick={() => {
                    if (item.disabled) return;
                    setOpen(false);
                    item.onSelect?.();
                  }}
                >
                  {item.label}
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
