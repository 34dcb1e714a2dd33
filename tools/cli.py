"""What the soak and benchmark commands share: option parsing, progress on stderr, the config from the options."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.management.base import BaseCommand

C = TypeVar("C")


def comma_list(value: str) -> tuple[str, ...]:
    """``--faults matcher, worker`` -> ("matcher", "worker"); empty parts dropped."""
    return tuple(part for part in (p.strip() for p in value.split(",")) if part)


def config_from_options(config_class: type[C], options: dict[str, Any], **overrides: Any) -> C:
    """The run's config dataclass from the command's options of the same names."""
    names = {f.name for f in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    return config_class(**{name: options[name] for name in names if name in options} | overrides)


def stderr_log(command: BaseCommand, prefix: str) -> Callable[[str], None]:
    """Progress lines on stderr, flushed at once (stdout carries only the JSON line)."""

    def log(message: str) -> None:
        command.stderr.write(f"{prefix}{message}")
        command.stderr.flush()

    return log
