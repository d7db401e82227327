// The view's side of MCP Apps (SEP-1865), written by hand: JSON-RPC 2.0 over postMessage with the
// host (window.parent). apps.py inlines this file into each view, at its BRIDGE marker.
// Untrusted text is only ever set as text: el() makes text nodes, never HTML.
"use strict";
const Bridge = (() => {
  const PROTOCOL = "2026-01-26";
  const pending = new Map();
  const on = {};
  const context = {};
  let nextId = 1;
  let lastSize = "";

  function send(message) {
    window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
  }
  function request(method, params) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      send({ id, method, params });
    });
  }
  function notify(method, params) {
    send({ method, params: params || {} });
  }

  function applyContext(changed) {
    Object.assign(context, changed || {});
    const root = document.documentElement;
    if (context.theme) {
      root.dataset.theme = context.theme;
      root.style.colorScheme = context.theme;
    }
    const variables = (context.styles && context.styles.variables) || {};
    for (const [name, value] of Object.entries(variables)) {
      if (name.startsWith("--") && typeof value === "string") root.style.setProperty(name, value);
    }
    root.lang = lang();
    applyDimensions(context.containerDimensions);
  }
  // The host's frame (containerDimensions): a fixed height is filled, a maxHeight caps the view, a
  // maxWidth likewise (a block already fills a fixed width); the body scrolls inside. Without them the
  // view is as tall as its content.
  let framed = false;
  function applyDimensions(dimensions) {
    const root = document.documentElement.style;
    const body = document.body.style;
    for (const style of [root, body]) {
      for (const key of ["height", "maxHeight", "maxWidth", "overflow", "boxSizing"]) style[key] = "";
    }
    const d = dimensions || {};
    const px = (n) => (typeof n === "number" && n > 0 ? `${n}px` : "");
    const fixed = typeof d.height === "number";
    framed = fixed || !!px(d.maxHeight) || typeof d.width === "number" || !!px(d.maxWidth);
    if (!framed) return;
    root.overflow = "hidden"; // so that the body scrolls itself, not the viewport
    body.overflow = "auto";
    body.boxSizing = "border-box";
    if (fixed) {
      root.height = "100vh"; // the frame's height, whatever the host made it
      body.height = "100%";
    } else if (px(d.maxHeight)) {
      root.maxHeight = body.maxHeight = px(d.maxHeight);
    }
    if (typeof d.width !== "number" && px(d.maxWidth)) root.maxWidth = px(d.maxWidth);
  }
  function lang() {
    const locale = context.locale || navigator.language || "en";
    return String(locale).toLowerCase().startsWith("ru") ? "ru" : "en";
  }

  // The view's own box (capped as applyDimensions says), not the viewport's: the host can shrink it too.
  function reportSize() {
    const root = document.documentElement;
    const box = root.getBoundingClientRect();
    const width = Math.ceil(framed ? box.width : root.scrollWidth);
    const height = Math.ceil(box.height);
    const size = `${width}x${height}`;
    if (size !== lastSize) {
      lastSize = size;
      notify("ui/notifications/size-changed", { width, height });
    }
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return; // only the host speaks to the view
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.method === undefined) {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      if (message.error) waiting.reject(new Error(message.error.message || "host error"));
      else waiting.resolve(message.result);
      return;
    }
    const params = message.params || {};
    switch (message.method) {
      case "ui/notifications/tool-input":
        if (on.input) on.input(params.arguments || {});
        break;
      case "ui/notifications/tool-input-partial":
        break; // the view waits for the complete arguments
      case "ui/notifications/tool-result":
        if (on.result) on.result(params);
        break;
      case "ui/notifications/tool-cancelled":
        if (on.cancelled) on.cancelled(params.reason || "");
        break;
      case "ui/notifications/host-context-changed":
        applyContext(params);
        if (on.context) on.context(context);
        reportSize();
        break;
      case "ui/resource-teardown":
        if (on.teardown) on.teardown();
        send({ id: message.id, result: {} });
        break;
      default:
        if (message.id !== undefined) {
          send({ id: message.id, error: { code: -32601, message: `unknown method ${message.method}` } });
        }
    }
  });

  async function start(name) {
    const answer = await request("ui/initialize", {
      protocolVersion: PROTOCOL,
      appInfo: { name, version: "1" },
      appCapabilities: {},
    });
    applyContext((answer && answer.hostContext) || {});
    notify("ui/notifications/initialized", {});
    new ResizeObserver(reportSize).observe(document.documentElement);
    reportSize();
    return answer;
  }

  // A tool's result; a JSON-RPC error from the host (e.g. the user declined) as an isError result.
  async function callTool(name, args) {
    try {
      return await request("tools/call", { name, arguments: args });
    } catch (error) {
      return { isError: true, content: [{ type: "text", text: String(error.message || error) }] };
    }
  }

  function tell(text, structured) {
    const content = [{ type: "text", text }];
    return request("ui/update-model-context", { content, structuredContent: structured }).catch(() =>
      request("ui/message", { role: "user", content }).catch(() => undefined),
    );
  }

  return { start, callTool, tell, on, context, lang };
})();

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function textOf(result) {
  return ((result && result.content) || []).map((block) => block.text || "").join("\n");
}
