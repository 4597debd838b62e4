// Check recorded admin responses against src/admin/openapi.json: the status must be documented
// for the operation and the body must satisfy its schema. The validator covers the JSON Schema
// subset the document uses (type, properties, required, additionalProperties, items, enum,
// const, allOf, oneOf, anyOf, $ref, format date-time/date, bounds, pattern).

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function typeOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeOk(want, v) {
  const t = typeOf(v);
  return want === t || (want === "number" && t === "integer");
}

function resolve(doc, schema) {
  let s = schema;
  while (s && s.$ref) s = s.$ref.slice(2).split("/").reduce((o, k) => o?.[k], doc);
  return s;
}

/** Errors of `v` against `schema` (empty = valid). */
export function validate(doc, schema, v, at = "$") {
  const s = resolve(doc, schema);
  if (!s || typeof s !== "object") return [];
  const errs = [];
  if (s.allOf) for (const sub of s.allOf) errs.push(...validate(doc, sub, v, at));
  if (s.oneOf) {
    const ok = s.oneOf.filter((sub) => validate(doc, sub, v, at).length === 0).length;
    if (ok !== 1) errs.push(`${at}: matches ${ok} of oneOf`);
  }
  if (s.anyOf && !s.anyOf.some((sub) => validate(doc, sub, v, at).length === 0)) errs.push(`${at}: matches none of anyOf`);
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => typeOk(t, v))) return [...errs, `${at}: ${JSON.stringify(v)?.slice(0, 80)} is not ${types.join("|")}`];
  }
  if (s.enum && !s.enum.some((e) => e === v)) errs.push(`${at}: ${JSON.stringify(v)} not in enum`);
  if ("const" in s && s.const !== v) errs.push(`${at}: ${JSON.stringify(v)} is not ${JSON.stringify(s.const)}`);
  if (typeof v === "string") {
    if (s.format === "date-time" && !DATE_TIME.test(v)) errs.push(`${at}: '${v}' is not a date-time`);
    if (s.format === "date" && !DATE.test(v)) errs.push(`${at}: '${v}' is not a date`);
    if (s.pattern && !new RegExp(s.pattern, "u").test(v)) errs.push(`${at}: '${v}' does not match ${s.pattern}`);
    if (s.minLength !== undefined && [...v].length < s.minLength) errs.push(`${at}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && [...v].length > s.maxLength) errs.push(`${at}: longer than ${s.maxLength}`);
  }
  if (typeof v === "number") {
    if (s.minimum !== undefined && v < s.minimum) errs.push(`${at}: ${v} < ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) errs.push(`${at}: ${v} > ${s.maximum}`);
  }
  if (typeOf(v) === "object") {
    for (const k of s.required ?? []) if (!(k in v)) errs.push(`${at}: missing '${k}'`);
    for (const [k, x] of Object.entries(v)) {
      if (s.properties && k in s.properties) errs.push(...validate(doc, s.properties[k], x, `${at}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${at}: unexpected '${k}'`);
      else if (s.additionalProperties && typeof s.additionalProperties === "object") errs.push(...validate(doc, s.additionalProperties, x, `${at}.${k}`));
    }
  }
  if (Array.isArray(v) && s.items) v.forEach((x, i) => errs.push(...validate(doc, s.items, x, `${at}[${i}]`)));
  return errs;
}

/** The documented template serving `path` for `method` (literal segments beat parameters). */
export function template(doc, method, path) {
  const segs = path.split("?")[0].replace(/\/+$/, "").split("/").filter(Boolean).map(decodeURIComponent);
  let best = null;
  for (const [t, item] of Object.entries(doc.paths)) {
    if (!item[method.toLowerCase()]) continue;
    const parts = t.split("/").filter(Boolean);
    if (parts.length !== segs.length) continue;
    const ok = parts.every((p, i) => (p === "{id}" ? /^\d{1,18}$/.test(segs[i]) : p.startsWith("{") ? segs[i] !== "" : p === segs[i]));
    const literal = parts.filter((p) => !p.startsWith("{")).length;
    if (ok && (!best || literal > best.literal)) best = { t, literal };
  }
  return best?.t ?? null;
}

/**
 * Problems with one recorded answer: undocumented status or a body off its schema. Answers to
 * (method, path) pairs the document has no operation for (404/405 from the route table) are
 * not operations, so there is nothing to check.
 */
export function checkResponse(doc, { method, path, status, text, type }) {
  const t = template(doc, method, path);
  if (!t) return [];
  const op = doc.paths[t][method.toLowerCase()];
  const resp = resolve(doc, op.responses[String(status)]);
  if (!resp) return [`${method} ${path}: status ${status} is not documented for ${t}`];
  const media = resp.content && Object.keys(resp.content)[0];
  if (!media) return text ? [`${method} ${path}: ${status} documents no body but one came`] : [];
  if (type !== undefined && !(type ?? "").startsWith(media)) return [`${method} ${path}: Content-Type ${type}, documented ${media}`];
  if (!media.includes("json") || media.includes("ndjson")) return [];
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return [`${method} ${path}: ${status} body is not JSON`];
  }
  return validate(doc, resp.content[media].schema, body).map((e) => `${method} ${path} ${status}: ${e}`);
}
