"""Writes the copy of the OpenAPI document that schemathesis fuzzes (tests/openapi/check.sh).

    fuzz_document.py IN.json OUT.json TYPE...

Only the request side of the write operations of the given resource types (create, update,
conditional create/update, JSON Patch and FHIRPath Patch) and of the batch/transaction POST
changes: each request-body schema is replaced by a depth-bounded projection of the real
component schema. Responses, parameters of other operations and `components` are left as
served, so every response is still checked against the full R4 schemas.

Why: hypothesis builds a strategy for a whole body schema before generating anything, and every
R4 resource reaches Extension (and `contained` the union of all 146 resource types), which takes
minutes per operation. The projection keeps the top-level elements of the type with their real
primitive schemas (patterns, enums, bounds), expands complex elements `DEPTH` levels deep
(required ones at least one level), and drops `extension`, `modifierExtension`, `contained` and
the `_x` primitive extensions. `additionalProperties: false` stays, so a body only carries
elements the type has; arrays hold at most two items to keep bodies small.

Patch bodies are steered towards the type: JSON Patch paths and FHIRPath Patch paths name the
type's own top-level elements. Batch entries carry projected resources of the given types and
request URLs on those types. The spec example of each type (from its component's `examples`)
is attached to its create/update body, so the examples phase replays it.

Writes are not sent `Prefer: return=minimal`: FHIR answers it with 200/201 and no body, which
an OpenAPI response cannot mark optional (the document says so in the response descriptions),
so schemathesis would report every such answer. The Rust black-box test
`prefer_return_shapes_the_answer` (tests/tests/http/crud.rs) covers it.

The `id` path parameter of the selected instance operations may also be `seed-1`, which
check.sh creates beforehand from the type's spec example, so that update, patch, read and
delete also reach existing resources.
"""

import copy
import json
import sys

DEPTH = 2
MAX_ITEMS = 2
SEED_ID = "seed-1"
DROPPED = {"extension", "modifierExtension", "contained"}
WRITE_KINDS = ("create", "update", "update-conditional", "patch", "patch-conditional")
INSTANCE_KINDS = ("read", "vread", "history-instance", "update", "patch", "delete")
KEPT_KEYWORDS = (
    "type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum", "format",
)


class Projector:
    def __init__(self, schemas, types):
        self.schemas = schemas
        self.types = types

    def ref_name(self, schema):
        ref = schema.get("$ref", "")
        prefix = "#/components/schemas/"
        return ref[len(prefix):] if ref.startswith(prefix) else None

    def project(self, schema, depth, level=0):
        """A standalone schema (no $ref) for `schema`, or None when it is cut off."""
        if level > DEPTH + 3:
            return None
        name = self.ref_name(schema)
        if name is not None:
            if name in ("Element", "Extension"):
                return None
            if name == "Resource":
                if depth <= 0:
                    return None
                branches = [self.resource(t, depth - 1, level + 1) for t in self.types]
                return {"anyOf": [b for b in branches if b is not None]}
            target = self.schemas[name]
            if name[0].islower():  # an R4 primitive: its own type, pattern and bounds
                return {k: v for k, v in target.items() if k in KEPT_KEYWORDS}
            return self.project(target, depth, level)
        if "allOf" in schema:
            return self.all_of(schema["allOf"], depth, level)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                branches = [self.project(s, depth, level) for s in schema[key]]
                branches = [b for b in branches if b is not None]
                return {"anyOf": branches} if branches else None
        if schema.get("type") == "array":
            items = self.project(schema["items"], depth, level)
            if items is None:
                return None
            out = {"type": "array", "items": items, "maxItems": MAX_ITEMS}
            if "minItems" in schema:
                out["minItems"] = schema["minItems"]
            return out
        if schema.get("type") == "object" or "properties" in schema:
            return self.object(schema, depth, level)
        return {k: v for k, v in schema.items() if k in KEPT_KEYWORDS}

    def object(self, schema, depth, level, also_required=()):
        if depth < 0:
            return None
        required = set(schema.get("required", [])) | set(also_required)
        props = {}
        for name, sub in schema.get("properties", {}).items():
            if name.startswith("_") or name in DROPPED:
                continue
            sub_depth = max(depth - 1, 0) if name in required else depth - 1
            if sub_depth < 0 and self.is_complex(sub):
                continue
            projected = self.project(sub, sub_depth, level + 1)
            if projected is not None:
                props[name] = projected
        if not required <= set(props):
            return None  # a required element could not be projected
        out = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            out["required"] = sorted(required)
        if props and "minProperties" in schema:
            out["minProperties"] = schema["minProperties"]
        return out

    def all_of(self, parts, depth, level):
        """R4 required choices are `allOf: [object, {oneOf: [{required: [a]}, ...]}]`: the first
        choice becomes required in the projected object."""
        base = next(p for p in parts if "properties" in p)
        chosen = []
        for part in parts:
            for branch in part.get("oneOf", []):
                chosen.extend(branch.get("required", [])[:1])
                break
        return self.object(base, depth, level, also_required=chosen)

    def is_complex(self, schema):
        if schema.get("type") == "array":
            return self.is_complex(schema["items"])
        name = self.ref_name(schema)
        return name is not None and not name[0].islower()

    def resource(self, type_name, depth=DEPTH, level=0):
        out = self.project({"$ref": f"#/components/schemas/{type_name}"}, depth, level)
        if out is not None:
            out["properties"]["resourceType"] = {"const": type_name}
        return out


def element_names(projector, type_name):
    props = projector.resource(type_name)["properties"]
    return sorted(n for n in props if n not in ("resourceType", "id", "meta"))


def json_patch(names):
    paths = "|".join(names)
    pointer = {"type": "string", "pattern": f"^/({paths})(/(0|1|-))?$"}
    return {
        "type": "array",
        "maxItems": 3,
        "items": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
                "path": pointer,
                "from": pointer,
                "value": {"type": ["string", "boolean", "integer", "object"], "maxProperties": 2},
            },
            "additionalProperties": False,
        },
    }


def fhirpath_patch(type_name, names):
    def part(name, value):
        return {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"const": name}, **value},
            "additionalProperties": False,
        }

    elements = "|".join(names)
    parts = [
        part("type", {"valueCode": {"enum": ["add", "insert", "delete", "replace", "move"]}}),
        part("path", {"valueString": {"type": "string", "pattern": f"^{type_name}(\\.({elements}))?$"}}),
        part("name", {"valueString": {"enum": names}}),
        part("value", {
            "valueString": {"type": "string", "maxLength": 20},
            "valueBoolean": {"type": "boolean"},
            "valueInteger": {"type": "integer"},
            "valueCode": {"type": "string", "pattern": "^[a-z]{1,8}$"},
        }),
        part("index", {"valueInteger": {"type": "integer", "minimum": -1, "maximum": 3}}),
        part("source", {"valueInteger": {"type": "integer", "minimum": 0, "maximum": 3}}),
        part("destination", {"valueInteger": {"type": "integer", "minimum": 0, "maximum": 3}}),
    ]
    operation = {
        "type": "object",
        "required": ["name", "part"],
        "properties": {
            "name": {"const": "operation"},
            "part": {"type": "array", "minItems": 1, "maxItems": 4, "items": {"anyOf": parts}},
        },
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "required": ["resourceType"],
        "properties": {
            "resourceType": {"const": "Parameters"},
            "parameter": {"type": "array", "minItems": 1, "maxItems": 2, "items": operation},
        },
        "additionalProperties": False,
    }


def batch_bundle(projector, types):
    names = "|".join(types)
    request = {
        "type": "object",
        "required": ["method", "url"],
        "properties": {
            "method": {"enum": ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]},
            "url": {"type": "string", "pattern": f"^({names})(/{SEED_ID}|/[a-z0-9]{{1,4}})?(\\?_id=[a-z0-9-]{{1,6}})?$"},
            "ifNoneExist": {"type": "string", "pattern": "^_id=[a-z0-9-]{1,6}$"},
            "ifMatch": {"type": "string", "pattern": "^W/\"[1-9]\"$"},
        },
        "additionalProperties": False,
    }
    entry = {
        "type": "object",
        "required": ["request"],
        "properties": {
            "fullUrl": {"type": "string", "pattern": "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"},
            "resource": {"anyOf": [projector.resource(t, DEPTH - 1) for t in types]},
            "request": request,
        },
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "required": ["resourceType", "type"],
        "properties": {
            "resourceType": {"const": "Bundle"},
            "type": {"enum": ["batch", "transaction"]},
            "entry": {"type": "array", "maxItems": 3, "items": entry},
        },
        "additionalProperties": False,
    }


def main(src, dst, types):
    doc = json.load(open(src))
    schemas = doc["components"]["schemas"]
    id_param = doc["components"]["parameters"]["id"]
    seeded_id = copy.deepcopy(id_param)
    seeded_id["schema"] = {"anyOf": [{"const": SEED_ID}, id_param["schema"]]}
    prefer = copy.deepcopy(doc["components"]["parameters"]["Prefer"])
    prefer["schema"]["enum"] = [v for v in prefer["schema"]["enum"] if v != "return=minimal"]
    projector = Projector(schemas, types)
    bodies = {t: projector.resource(t) for t in types}
    names = {t: element_names(projector, t) for t in types}
    for item in doc["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            kind, _, type_name = op["operationId"].rpartition("-")
            if op["operationId"] == "batch-system":
                op["requestBody"]["content"] = {"application/fhir+json": {"schema": batch_bundle(projector, types)}}
                continue
            if type_name not in types:
                continue
            if kind in INSTANCE_KINDS:
                op["parameters"] = [
                    seeded_id if p.get("$ref") == "#/components/parameters/id" else p for p in op["parameters"]
                ]
            if kind not in WRITE_KINDS:
                continue
            op["parameters"] = [
                prefer if p.get("$ref") == "#/components/parameters/Prefer" else p for p in op["parameters"]
            ]
            content = op["requestBody"]["content"]
            if kind.startswith("patch"):
                content["application/json-patch+json"]["schema"] = json_patch(names[type_name])
                content["application/fhir+json"]["schema"] = fhirpath_patch(type_name, names[type_name])
                continue
            media = {"schema": bodies[type_name]}
            examples = schemas[type_name].get("examples", [])
            if examples:
                media["examples"] = {f"spec-{i}": {"value": e} for i, e in enumerate(examples)}
            content["application/fhir+json"] = media
    json.dump(doc, open(dst, "w"))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: fuzz_document.py IN.json OUT.json TYPE...")
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
