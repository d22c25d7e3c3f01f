"""meshc's own JSON Schemas (draft 2020-12) for every document it writes.

They describe meshc's output, not everything Istio accepts: only the fields
the backends emit, with the constraints meshc guarantees (weights 0–100,
lower-case header names, `simple` or `consistentHash`, ...). A document that
fails them is a backend bug. The files live in `schemas/` at the top of the
repository (see schemas/README.md) and ship in the package as
`meshc.schemas_data`.

jsonschema is imported on first use only: `meshc check` never validates
output and should not pay for the import.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from jsonschema.protocols import Validator
    from referencing import Registry

COMMON = "common.schema.json"
KINDS = (
    "Service", "VirtualService", "DestinationRule", "Gateway", "ServiceEntry",
    "PeerAuthentication", "AuthorizationPolicy", "PrometheusRule", "Kustomization",
)


def schema_file(kind: str) -> str:
    """`VirtualService` → `virtualservice.schema.json`."""
    return f"{kind.lower()}.schema.json"


def schema_dir() -> Traversable:
    """The schemas, shipped as the package `meshc.schemas_data`."""
    return resources.files("meshc.schemas_data")


def load(name: str) -> dict:
    """One schema file as data."""
    return json.loads(schema_dir().joinpath(name).read_text(encoding="utf-8"))


def validate(document: dict) -> list[str]:
    """Every way `document` breaks the schema of its kind, each as
    `data.path: message` (`spec.http[1].route[0].weight: 150 is greater
    than the maximum of 100`); empty when it conforms."""
    kind = document.get("kind")
    if kind not in KINDS:
        return [f"kind: meshc has no schema for kind {kind!r}"]
    return messages(_validator(kind), document)


@functools.cache
def registry() -> Registry:
    """`common.schema.json` under its `$id`, which the kinds' relative
    `$ref`s (`common.schema.json#/$defs/...`) resolve to."""
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    common = DRAFT202012.create_resource(load(COMMON))
    return Registry().with_resource(common.id(), common)


@functools.cache
def _validator(kind: str) -> Validator:
    """The kind's schema, asserting formats (ipv4, ipv6) too."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load(schema_file(kind)), registry=registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def messages(validator: Validator, document: dict) -> list[str]:
    """`data.path: message` for every error `validator` finds, or the bare
    message for an error at the top of the document."""
    out = []
    for error in validator.iter_errors(document):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        out.append(f"{where}: {error.message}" if where else error.message)
    return out
