/** Signing in with a token: standalone use, or inside the CRM when its handshake did not answer. */
import { useState } from "preact/hooks";
import { auth } from "../auth.ts";

export function SignIn(props: { note: string | null; error: string | null; embedded: boolean }) {
  const [token, setToken] = useState("");
  const [touched, setTouched] = useState(false);
  const invalid = touched && token.trim().length === 0;
  return (
    <main id="main" class="signin">
      <div class="signin-card">
        <div class="brand brand-large">
          <span class="brand-mark" aria-hidden="true" />
          Lead Tracker
        </div>
        <h1>Sign in with a token</h1>
        {props.error ? (
          <p class="alert alert-error" role="alert" data-testid="error-banner">
            {props.error}
          </p>
        ) : null}
        {props.note ? <p class="alert alert-note">{props.note}</p> : null}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setTouched(true);
            if (token.trim()) auth.signInWithToken(token);
          }}
        >
          <label for="token">API token</label>
          <textarea
            id="token"
            name="token"
            rows={5}
            spellcheck={false}
            autocomplete="off"
            aria-describedby="token-hint"
            aria-invalid={invalid ? "true" : "false"}
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
            placeholder="eyJhbGciOi…"
          />
          <p id="token-hint" class="hint">
            Mint one locally with <code>npm run token -- agency@demo.test</code> (or <code>location@demo.test</code>).{" "}
            {props.embedded ? "Inside the CRM it is kept in this page's memory only." : "It is kept for this browser tab only."}
          </p>
          {invalid ? <p class="field-error">Paste a token first.</p> : null}
          <div class="row">
            <button type="submit" class="button button-primary">
              Sign in
            </button>
            {props.embedded ? (
              <button type="button" class="button" onClick={() => void auth.start()}>
                Connect to the CRM again
              </button>
            ) : null}
          </div>
        </form>
      </div>
    </main>
  );
}
