// Preact with htm: components without a build step.
import { h, render, Fragment, createRef } from "../vendor/preact.js";
import htm from "../vendor/htm.js";

export { h, render, Fragment, createRef };
export { useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer } from "../vendor/preact-hooks.js";
export const html = htm.bind(h);
