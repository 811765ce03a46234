/** Small hooks: failed requests for the error banner, and loading data that follows the page's state. */
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "./api.ts";

// ---- errors shown in the banner ---------------------------------------------------------------------------

export interface ShownError {
  id: number;
  message: string;
}
let errors: ShownError[] = [];
let nextId = 1;
const errorListeners = new Set<(e: ShownError[]) => void>();
const emit = (): void => errorListeners.forEach((fn) => fn(errors));

export function reportError(err: unknown): void {
  if (isAbort(err)) return;
  // a 401 is answered by the sign-in form, not a banner
  if (err instanceof ApiError && err.status === 401) return;
  const message = err instanceof Error ? err.message : "Something went wrong.";
  if (errors.some((e) => e.message === message)) return;
  errors = [...errors.slice(-2), { id: nextId++, message }];
  emit();
}

export function dismissError(id: number): void {
  errors = errors.filter((e) => e.id !== id);
  emit();
}

export function clearErrors(): void {
  if (errors.length === 0) return;
  errors = [];
  emit();
}

export function useErrors(): ShownError[] {
  const [list, setList] = useState(errors);
  useEffect(() => {
    errorListeners.add(setList);
    return () => void errorListeners.delete(setList);
  }, []);
  return list;
}

// ---- data ---------------------------------------------------------------------------------------------------

export interface Loaded<T> {
  /** The latest answer (kept while the next one loads, so panels do not flash empty). */
  data: T | undefined;
  loading: boolean;
  error: Error | null;
  reload: () => void;
}

/**
 * Runs `load` whenever `key` changes (aborting the previous run), reporting failures to the error banner.
 * `key` null: nothing to load.
 */
export function useLoad<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; loading: boolean; error: Error | null; key: string | null }>({
    data: undefined,
    loading: key !== null,
    error: null,
    key: null,
  });
  const [bump, setBump] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    if (key === null) {
      setState({ data: undefined, loading: false, error: null, key });
      return;
    }
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    loadRef.current(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setState({ data, loading: false, error: null, key });
      },
      (err: unknown) => {
        if (ctl.signal.aborted || isAbort(err)) return;
        reportError(err);
        setState({ data: undefined, loading: false, error: err instanceof Error ? err : new Error(String(err)), key });
      },
    );
    return () => ctl.abort();
  }, [key, bump]);

  return { data: state.data, loading: state.loading, error: state.error, reload: () => setBump((n) => n + 1) };
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

// ---- a tiny shared value ------------------------------------------------------------------------------------

export interface Store<T> {
  get: () => T;
  set: (value: T) => void;
  subscribe: (fn: (value: T) => void) => () => void;
}

export function createStore<T>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set: (next) => {
      value = next;
      listeners.forEach((fn) => fn(next));
    },
    subscribe: (fn) => {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
  };
}

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/**
 * The date range and time zone the API last answered for a query key (scope and range): the header shows the
 * API's own resolution of "30d" once a stats answer has said it.
 */
export const answeredRange = createStore<{ key: string; range: [string, string]; timezone: string } | null>(null);
