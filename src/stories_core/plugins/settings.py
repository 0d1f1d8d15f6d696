"""How a backend reads its `STORIES_<NAME>_*` settings, and how it fails when they are wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from stories_core.errors import BackendMisconfigured

M = TypeVar("M", bound=BaseModel)


def env_prefix(name: str) -> str:
    """`STORIES_<NAME>_`: the variables of backend `name`."""
    return f"STORIES_{name.upper()}_"


def backend_settings(model: type[M], name: str, environ: Mapping[str, str]) -> M:
    """Validate the `STORIES_<NAME>_*` entries of `environ` with `model`, whose field `x` is
    the variable `STORIES_<NAME>_X`; entries that are blank count as unset. Anything wrong
    raises BackendMisconfigured naming every bad variable, an unknown one included, by its
    full name, and never its value (it may be a secret)."""
    prefix = env_prefix(name)
    given = {
        variable: value
        for variable, value in environ.items()
        if variable.startswith(prefix) and value.strip()
    }
    fields = {f"{prefix}{field.upper()}": field for field in model.model_fields}
    problems = [
        f"{variable}: not a setting of the {name} backend (it has {', '.join(fields)})"
        for variable in given
        if variable not in fields
    ]
    values = {fields[variable]: value for variable, value in given.items() if variable in fields}
    try:
        settings = model.model_validate(values)
    except ValidationError as error:
        problems += [
            f"{prefix}{'_'.join(map(str, each['loc'])).upper()}: {each['msg']}"
            for each in error.errors(include_input=False, include_url=False)
        ]
    else:
        if not problems:
            return settings
    raise BackendMisconfigured(f"{name} backend settings are invalid: {'; '.join(problems)}")
