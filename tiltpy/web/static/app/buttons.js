// Buttons: trigger (locked while an update runs or is queued), two-step
// confirmations, copy, and the Tiltfile's UI buttons (Tilt's ApiButton:
// icon, text, inputs in a small form, confirmation, disabled state).
import { html, useState, useEffect, useRef } from "./html.js";
import { Icon, sanitizeSvg } from "./icons.js";
import { store } from "./store.js";
import { triggerState } from "./status.js";
import { copyText, load, save, resourcePath, ALL } from "./util.js";

// A trigger from a click or the `r` key: refused here while the resource
// updates or is queued (the server refuses it too), so no duplicate update.
export function requestTrigger(r) {
  const t = triggerState(r);
  if (t.hidden) {
    store.toast(`${r.name} is disabled; not triggered`, "error");
  } else if (t.locked || store.pending.has(`trigger:${r.name}`)) {
    const why = t.locked ? t.reason.toLowerCase() : "a trigger is being sent";
    store.toast(`${r.name}: ${why}; not triggered`, "error");
  } else {
    store.trigger(r.name);
  }
}

export function TriggerButton({ r, small = false }) {
  const t = triggerState(r);
  if (t.hidden) return null;
  const busy = store.pending.has(`trigger:${r.name}`);
  const locked = t.locked || busy;
  const cls = ["btn-trigger", small ? "small" : "", locked ? "is-locked" : "", t.building ? "is-building" : "",
    t.queued ? "is-queued" : "", t.emphasized ? "is-emphasized" : "", r.triggerMode === "manual" ? "is-manual" : ""];
  const onClick = (e) => {
    e.preventDefault();
    e.stopPropagation();
    requestTrigger(r);
  };
  return html`<button type="button" class=${cls.join(" ")} aria-disabled=${locked ? "true" : "false"}
    disabled=${!store.canAct} title=${t.reason} aria-label=${`Trigger ${r.name}`} data-action="trigger"
    onClick=${onClick}><${Icon} name=${t.building || t.queued ? "refresh" : "play"} size=${small ? 14 : 16} /></button>`;
}

export function TriggerModeToggle({ r }) {
  if (!r.enabled || r.type === "tiltfile") return null;
  const manual = r.triggerMode === "manual";
  return html`<button type="button" class=${`btn-mode ${manual ? "is-manual" : ""}`} data-action="mode"
    disabled=${!store.canAct || store.pending.has(`mode:${r.name}`)}
    title=${manual ? "Manual: changed files wait for a trigger (click for auto)" : "Auto: changed files update at once (click for manual)"}
    onClick=${(e) => { e.stopPropagation(); store.setTriggerMode(r.name, manual ? "auto" : "manual"); }}>
    ${manual ? "manual" : "auto"}</button>`;
}

// A button that asks "Confirm?" on the first click (Tilt's disable buttons).
export function ConfirmButton({ label, confirmLabel, onConfirm, disabled, cls = "", needsConfirm = true, action = "" }) {
  const [confirming, setConfirming] = useState(false);
  useEffect(() => {
    if (!confirming) return undefined;
    const reset = setTimeout(() => setConfirming(false), 8000);
    return () => clearTimeout(reset);
  }, [confirming]);
  const click = (e) => {
    e.stopPropagation();
    if (needsConfirm && !confirming) {
      setConfirming(true);
      return;
    }
    setConfirming(false);
    onConfirm();
  };
  return html`<span class=${`confirm-group ${confirming ? "confirming" : ""}`}>
    <button type="button" class=${`btn ${cls} ${confirming ? "btn-danger" : ""}`} disabled=${disabled} data-action=${action}
      onClick=${click}>${confirming ? confirmLabel || `Confirm ${label.toLowerCase()}` : label}</button>
    ${confirming ? html`<button type="button" class="btn btn-danger btn-cancel" aria-label=${`Cancel ${label}`}
      onClick=${(e) => { e.stopPropagation(); setConfirming(false); }}><${Icon} name="close" size=${12} /></button>` : null}
  </span>`;
}

export function CopyButton({ text, label = "Copy", what = "" }) {
  const [done, setDone] = useState(false);
  const click = async (e) => {
    e.stopPropagation();
    try {
      await copyText(text);
      setDone(true);
      setTimeout(() => setDone(false), 2500);
      if (what) store.toast(`Copied ${what}`);
    } catch (err) {
      store.toast(`Copy failed: ${err.message || err}`, "error");
    }
  };
  return html`<button type="button" class="btn-icon copy" title=${label} aria-label=${label} onClick=${click}>
    <${Icon} name=${done ? "check" : "copy"} size=${14} /></button>`;
}

// -- UI buttons -----------------------------------------------------------------

// Buttons whose location is this component ("Global" buttons: componentID "nav").
export function buttonsFor(componentType, componentID) {
  return store.uiButtons.filter((b) => {
    const loc = (b.spec && b.spec.location) || {};
    if (loc.componentType !== componentType) return false;
    return componentType === "Global" || loc.componentID === componentID;
  });
}

// What a click sends: every input's value, defaults for those never set
// (Tilt's rules: a hidden input always sends its value, a choice its first).
export function inputStatuses(spec, values) {
  return (spec.inputs || []).map((input) => {
    const v = values[input.name];
    const set = v !== undefined;
    if (input.text) return { name: input.name, text: { value: set ? String(v) : input.text.defaultValue || "" } };
    if (input.bool) return { name: input.name, bool: { value: (set ? v : input.bool.defaultValue) === true } };
    if (input.hidden) return { name: input.name, hidden: { value: input.hidden.value || "" } };
    if (input.choice) {
      const choices = input.choice.choices || [];
      return { name: input.name, choice: { value: set && choices.includes(v) ? v : choices[0] || "" } };
    }
    return { name: input.name };
  });
}

function ButtonIcon({ spec }) {
  if (spec.iconSVG) {
    const svg = sanitizeSvg(spec.iconSVG);
    if (svg) return html`<span class="api-icon" dangerouslySetInnerHTML=${{ __html: svg }}></span>`;
  }
  return html`<span class="api-icon" title=${spec.iconName || ""}><${Icon} name="button" size=${16} /></span>`;
}

function InputField({ input, value, onChange }) {
  const label = input.label || input.name;
  const id = `in-${input.name}`;
  if (input.text) {
    return html`<label class="api-input" for=${id}><span>${label}</span>
      <input id=${id} type="text" spellcheck="false" placeholder=${input.text.placeholder || ""}
        value=${value !== undefined ? value : input.text.defaultValue || ""}
        onInput=${(e) => onChange(e.target.value)} /></label>`;
  }
  if (input.bool) {
    const checked = value !== undefined ? !!value : !!input.bool.defaultValue;
    return html`<label class="api-input api-bool"><input type="checkbox" checked=${checked}
      onChange=${(e) => onChange(e.target.checked)} /><span>${label}</span></label>`;
  }
  if (input.choice) {
    const choices = input.choice.choices || [];
    return html`<label class="api-input" for=${id}><span>${label}</span>
      <select id=${id} value=${value !== undefined ? value : choices[0]} onChange=${(e) => onChange(e.target.value)}>
        ${choices.map((c) => html`<option value=${c}>${c}</option>`)}</select></label>`;
  }
  return null;
}

export function ApiButton({ button, compact = false }) {
  const spec = button.spec || {};
  const name = (button.metadata && button.metadata.name) || "";
  const text = spec.text || name || "Button";
  const [confirming, setConfirming] = useState(false);
  const [open, setOpen] = useState(false);
  const [values, setValues] = useState(() => load(`button.${name}`, {}));
  const root = useRef(null);
  useEffect(() => setConfirming(false), [name]);
  useEffect(() => {
    if (!open) return undefined;
    const close = (e) => {
      if (e.type === "keydown" ? e.key === "Escape" : !root.current || !root.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);
  const busy = store.pending.has(`button:${name}`);
  const disabled = !!spec.disabled || !store.canAct || busy;
  const visibleInputs = (spec.inputs || []).filter((i) => !i.hidden);
  const setValue = (inputName, v) => {
    const next = { ...values, [inputName]: v };
    setValues(next);
    save(`button.${name}`, next);
  };
  const click = async (e) => {
    e.preventDefault();
    e.stopPropagation();
    if (spec.requiresConfirmation && !confirming) {
      setConfirming(true);
      return;
    }
    setConfirming(false);
    setOpen(false);
    const ok = await store.clickButton(name, inputStatuses(spec, values));
    if (ok) {
      const loc = spec.location || {};
      const target = loc.componentType === "Resource" ? loc.componentID : ALL;
      store.toast(`Triggered button: ${text}`, "info", { href: resourcePath(target), text: "logs" });
    }
  };
  const lastClicked = button.status && button.status.lastClickedAt;
  return html`<span class=${`api-button ${compact ? "compact" : ""} ${confirming ? "confirming" : ""}`} ref=${root}
      data-button=${name}>
    <button type="button" class=${`btn api-submit ${confirming ? "btn-danger" : ""}`} disabled=${disabled}
      aria-label=${confirming ? `Confirm ${text}` : `Trigger ${text}`}
      title=${spec.disabled ? `${text} (disabled)` : lastClicked ? `${text} — last clicked ${lastClicked}` : text}
      onClick=${click}>
      ${confirming ? html`<span>Confirm</span>` : html`<${ButtonIcon} spec=${spec} /><span class="api-text">${text}</span>`}
    </button>
    ${confirming ? html`<button type="button" class="btn btn-danger btn-cancel" aria-label=${`Cancel ${text}`}
      onClick=${(e) => { e.stopPropagation(); setConfirming(false); }}><${Icon} name="close" size=${12} /></button>` : null}
    ${visibleInputs.length && !confirming ? html`<button type="button" class="btn api-options" disabled=${disabled}
      aria-label=${`Open ${text} options`} aria-expanded=${open ? "true" : "false"}
      onClick=${(e) => { e.stopPropagation(); setOpen(!open); }}><${Icon} name="caret" size=${14} /></button>` : null}
    ${open ? html`<div class="popover api-form" role="dialog" aria-label=${`Options for ${text}`}
        onClick=${(e) => e.stopPropagation()}>
      <div class="popover-title">Options for ${text}</div>
      ${visibleInputs.map((input) => html`<${InputField} key=${input.name} input=${input} value=${values[input.name]}
        onChange=${(v) => setValue(input.name, v)} />`)}
      <div class="api-form-foot"><button type="button" class="btn btn-primary" disabled=${disabled} onClick=${click}>
        ${spec.requiresConfirmation && !confirming ? text : `Run ${text}`}</button></div>
    </div>` : null}
  </span>`;
}
