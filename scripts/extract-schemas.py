#!/usr/bin/env python3
"""Extracts, from the CloudFormation resource provider schemas inside the pinned cfn-lint, the subset
strata's resource catalog needs, for exactly the types listed in src/catalog/overlay.yaml, and the
Lambda runtime lifecycle cfn-lint ships beside them (data/AdditionalSpecs/LmbdRuntimeLifecycle.json,
cfn-lint's copy of the Lambda Developer Guide's runtime table: deprecation, block-create and
block-update dates and the successor of each runtime identifier).

Output (stdout, or src/catalog/schemas.json with --write) is deterministic: sorted keys, schema
order kept for lists, no timestamps of its own. The Rust build embeds the committed file and needs no
Python; tests/catalog.rs runs this script with the project's .venv and fails when the committed file
differs from what the pinned cfn-lint ships, so a cfn-lint bump shows its schema changes in review.

Run:  .venv/bin/python scripts/extract-schemas.py --write
"""

import json
import pathlib
import sys
from importlib.metadata import version

import cfnlint
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
OVERLAY = ROOT / "src" / "catalog" / "overlay.yaml"
OUTPUT = ROOT / "src" / "catalog" / "schemas.json"

# us-east-1 is the region CloudFormation documents its resource reference for; the schemas of the
# types strata uses are the same file in every region the shipped environments use.
REGION = "us-east-1"

# What the catalog reads at the top of a schema.
TOP_LEVEL = [
    "additionalProperties",
    "conditionalCreateOnlyProperties",
    "createOnlyProperties",
    "definitions",
    "primaryIdentifier",
    "properties",
    "readOnlyProperties",
    "required",
    "tagging",
    "writeOnlyProperties",
    "allOf",
    "anyOf",
    "oneOf",
]

# What offline validation of raw resources reads inside a property schema: structure and types.
# Descriptions, patterns, ranges and formats are left to cfn-lint and to CloudFormation itself.
STRUCTURE = [
    "$ref",
    "additionalProperties",
    "allOf",
    "anyOf",
    "items",
    "oneOf",
    "patternProperties",
    "properties",
    "required",
    "type",
]

TAGGING = ["tagProperty", "taggable"]


def structure(node):
    """A property schema reduced to STRUCTURE; None when nothing structural is left."""
    if not isinstance(node, dict):
        return None
    kept = {}
    for key in STRUCTURE:
        if key not in node:
            continue
        value = node[key]
        if key in ("properties", "patternProperties"):
            value = {name: structure(inner) or {} for name, inner in value.items()}
        elif key in ("allOf", "anyOf", "oneOf"):
            branches = [branch for branch in map(structure, value) if branch]
            if not branches:
                continue
            value = branches
        elif key == "items":
            value = structure(value) or {}
        elif key == "additionalProperties" and isinstance(value, dict):
            value = structure(value) or {}
        kept[key] = value
    return kept or None


def extract(schema):
    out = {}
    for key in TOP_LEVEL:
        if key not in schema:
            continue
        value = schema[key]
        if key in ("properties", "definitions"):
            value = {name: structure(inner) or {} for name, inner in value.items()}
        elif key in ("allOf", "anyOf", "oneOf"):
            value = [branch for branch in map(structure, value) if branch]
            if not value:
                continue
        elif key == "tagging":
            value = {k: value[k] for k in TAGGING if k in value}
        out[key] = value
    return out


def main(argv):
    schemas = pathlib.Path(cfnlint.__file__).parent / "data" / "schemas"
    provider = json.loads((schemas / "providers" / f"{REGION}.json").read_text())
    types = sorted(yaml.safe_load(OVERLAY.read_text()))
    missing = [name for name in types if name not in provider]
    if missing:
        sys.exit(f"not in cfn-lint's {REGION} schemas: {', '.join(missing)}")
    runtimes = json.loads((schemas.parent / "AdditionalSpecs" / "LmbdRuntimeLifecycle.json").read_text())
    catalog = {
        "cfn_lint": version("cfn-lint"),
        "lambda_runtimes": runtimes,
        "region": REGION,
        "schema_date": json.loads((schemas / "version.json").read_text()).get("schema_date"),
        "types": {
            name: extract(json.loads((schemas / "resources" / f"{provider[name]}.json").read_text()))
            for name in types
        },
    }
    text = json.dumps(catalog, sort_keys=True, indent=1, ensure_ascii=True) + "\n"
    if "--write" in argv:
        OUTPUT.write_text(text)
        print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(types)} types", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
