"""Read CloudFormation/SAM YAML: the short intrinsic tags (``!Ref``, ``!Sub``, ``!GetAtt``...) become
the long JSON forms (``{"Ref": ...}``, ``{"Fn::Sub": ...}``), so the rest of the package sees one shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """A safe loader that understands every ``!Tag`` CloudFormation defines."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # `!GetAtt Resource.Attribute.Maybe.Dotted` names the resource before the first dot.
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template_file(path: Path) -> dict[str, Any]:
    """Parse a template file; its intrinsic functions come back in their long form."""
    with path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 (a SafeLoader subclass)
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template (top level is not a mapping)")
    return document
