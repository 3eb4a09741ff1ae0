// Preact with htm: components without a build step.
import { h, render, Fragment, createRef, Component } from "../vendor/preact.js";
import htm from "../vendor/htm.js";

export { h, render, Fragment, createRef };
export { useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer } from "../vendor/preact-hooks.js";
export const html = htm.bind(h);

// A component that re-renders only when a prop changed (shallow): rows of a
// 200-resource table must not all be diffed on every websocket message.
export function memo(fn) {
  class Memo extends Component {
    shouldComponentUpdate(next) {
      const prev = this.props;
      for (const k in next) if (next[k] !== prev[k]) return true;
      for (const k in prev) if (!(k in next)) return true;
      return false;
    }

    render(props) {
      return fn(props);
    }
  }
  Memo.displayName = `memo(${fn.name})`;
  return Memo;
}
