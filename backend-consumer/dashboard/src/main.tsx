/** The dashboard's entry point. */
import { render } from "preact";
import { App } from "./components/App.tsx";

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
