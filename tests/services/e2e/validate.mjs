// Validates the OpenAPI document with @seriousme/openapi-schema-validator,
// then every recorded exchange of the test run against it: the response body
// against the schema of its operation and status (and the request body of
// successful calls against the operation's request schema).
//
//   node validate.mjs OPENAPI.json RECORDS.jsonl
//
// RECORDS.jsonl: one {method, path, status, content_type, request, body} per
// line. Prints one JSON object: {document: {valid, version, errors},
// groups: [{method, template, status, n, failures: [...]}], skipped: N}.

import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [docPath, recordsPath] = process.argv.slice(2);
const out = { document: {}, groups: [], skipped: 0 };

const validator = new Validator();
const res = await validator.validate(docPath);
out.document = { valid: res.valid, version: validator.version, errors: res.errors ?? null };
if (res.valid) {
  try {
    validator.resolveRefs();
  } catch (e) {
    out.document = { valid: false, version: validator.version, errors: String(e.message ?? e) };
  }
}

const doc = JSON.parse(readFileSync(docPath, "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, "openapi.json");

const esc = (s) => s.replace(/~/g, "~0").replace(/\//g, "~1");
const compiled = new Map();
function validatorAt(pointer) {
  if (!compiled.has(pointer)) {
    compiled.set(pointer, ajv.compile({ $ref: "openapi.json#" + pointer }));
  }
  return compiled.get(pointer);
}

function resolve(obj, pointer) {
  // Follows a $ref to components/...; returns [object, its pointer].
  while (obj && typeof obj.$ref === "string" && obj.$ref.startsWith("#/")) {
    pointer = obj.$ref.slice(1);
    obj = pointer.split("/").slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((o, k) => (o == null ? undefined : o[k]), doc);
  }
  return [obj, pointer];
}

const templates = Object.keys(doc.paths ?? {}).map((t) => ({
  template: t,
  re: new RegExp("^" + t.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+") + "$"),
}));

const groups = new Map();
const records = readFileSync(recordsPath, "utf8").split("\n").filter((l) => l.trim());
for (const line of records) {
  const r = JSON.parse(line);
  const method = r.method.toLowerCase();
  const t = templates.find((x) => x.re.test(r.path));
  const op = t && doc.paths[t.template][method];
  if (!op) {
    out.skipped++; // unknown endpoint or method (404/405 are not operations)
    continue;
  }
  const key = `${r.method} ${t.template} ${r.status}`;
  if (!groups.has(key)) {
    groups.set(key, { method: r.method, template: t.template, status: r.status, n: 0, failures: [] });
  }
  const g = groups.get(key);
  g.n++;
  const fail = (what) => {
    if (g.failures.length < 5) g.failures.push(what);
  };
  const opPointer = `/paths/${esc(t.template)}/${method}`;
  const spec = op.responses?.[String(r.status)] ?? op.responses?.default;
  if (!spec) {
    fail(`status ${r.status} is not documented for ${r.method} ${t.template}`);
    continue;
  }
  const code = op.responses?.[String(r.status)] ? String(r.status) : "default";
  const [resp, respPointer] = resolve(spec, `${opPointer}/responses/${esc(code)}`);
  const media = resp?.content?.["application/json"];
  if (media?.schema) {
    if (!r.content_type.startsWith("application/json")) {
      fail(`content type ${r.content_type}, documented application/json`);
    } else if (r.body === null || r.body === undefined) {
      fail("the body is not JSON: " + r.raw);
    } else {
      const v = validatorAt(`${respPointer}/content/application~1json/schema`);
      if (!v(r.body)) {
        fail("response: " + ajv.errorsText(v.errors, { separator: "; " }).slice(0, 600));
      }
    }
  }
  const reqMedia = op.requestBody?.content?.["application/json"];
  if (r.status < 300 && reqMedia?.schema && r.request !== null && r.request !== undefined) {
    const v = validatorAt(`${opPointer}/requestBody/content/application~1json/schema`);
    if (!v(r.request)) {
      fail("request: " + ajv.errorsText(v.errors, { separator: "; " }).slice(0, 600));
    }
  }
}
out.groups = [...groups.values()];
process.stdout.write(JSON.stringify(out) + "\n");
