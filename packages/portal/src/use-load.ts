import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Loads `fn()` when `deps` change, and again every `intervalMs` while set (the portal's
 * self-refresh). A slow answer never overwrites a newer one.
 */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], intervalMs?: number | null): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;

  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const value = await fnRef.current();
      if (mine === seq.current) {
        setData(value);
        setError(null);
      }
    } catch (e) {
      if (mine === seq.current) setError(e as Error);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setData(undefined);
    void reload();
  }, deps);

  useEffect(() => {
    if (!intervalMs) return undefined;
    const t = setInterval(() => void reload(), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs, reload, ...deps]);

  return { data, error, loading, reload };
}
