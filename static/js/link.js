// The address bar holds the whole config, both seeds included, so a copied link reproduces a run.

/** The config a link was opened with (read before the session's own config rewrites it), or null. */
export function readLinkedConfig() {
  const match = location.hash.match(/config=([^&]*)/);
  if (!match) return null;
  try { return JSON.parse(decodeURIComponent(match[1])); } catch { return null; }
}

export function writeLinkedConfig(config) {
  const encoded = "config=" + encodeURIComponent(JSON.stringify(config));
  if (location.hash.slice(1) !== encoded) history.replaceState(null, "", `${location.pathname}${location.search}#${encoded}`);
}
