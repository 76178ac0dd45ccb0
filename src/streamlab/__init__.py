"""streamlab: learn, practise and test Spark Structured Streaming event time.

The public API: a Spark session for a lab, the lab's paths, setting it up and verifying it,
the generators, and the setup guide's Step 5 helpers.

>>> import streamlab
>>> spark = streamlab.lab_session()  # doctest: +SKIP
>>> streamlab.setup_lab(streamlab.LabPaths.resolve(), streamlab.GeneratorConfig())  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamlab.checks.verify import verify_lab
    from streamlab.errors import StreamlabError
    from streamlab.ingest.helpers import (
        create_watermarked_stream,
        create_windowed_aggregation,
        monitor_watermark,
    )
    from streamlab.ingest.sources import parse_time, read_source
    from streamlab.lab.catalog import DATABASES, attach_catalog, create_databases, register_table
    from streamlab.lab.paths import LabPaths
    from streamlab.raw.generator import GeneratorConfig, generate
    from streamlab.raw.provision import setup_lab
    from streamlab.spark.java import find_java
    from streamlab.spark.session import lab_session

# Where each public name lives. Importing ``streamlab`` costs nothing: a name's module (and
# pyspark with it) is imported the first time the name is used, so ``import streamlab.model``
# and the CLI's start-up stay free of Spark.
_EXPORTS = {
    "DATABASES": "streamlab.lab.catalog",
    "GeneratorConfig": "streamlab.raw.generator",
    "LabPaths": "streamlab.lab.paths",
    "StreamlabError": "streamlab.errors",
    "attach_catalog": "streamlab.lab.catalog",
    "create_databases": "streamlab.lab.catalog",
    "create_watermarked_stream": "streamlab.ingest.helpers",
    "create_windowed_aggregation": "streamlab.ingest.helpers",
    "find_java": "streamlab.spark.java",
    "generate": "streamlab.raw.generator",
    "lab_session": "streamlab.spark.session",
    "monitor_watermark": "streamlab.ingest.helpers",
    "parse_time": "streamlab.ingest.sources",
    "read_source": "streamlab.ingest.sources",
    "register_table": "streamlab.lab.catalog",
    "setup_lab": "streamlab.raw.provision",
    "verify_lab": "streamlab.checks.verify",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamlab' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, imported or not (and the module's own dunder names)."""
    return sorted({*_EXPORTS, *(n for n in globals() if n.startswith("__"))})


__version__ = "0.1.0"

__all__ = [
    "DATABASES",
    "GeneratorConfig",
    "LabPaths",
    "StreamlabError",
    "__version__",
    "attach_catalog",
    "create_databases",
    "create_watermarked_stream",
    "create_windowed_aggregation",
    "find_java",
    "generate",
    "lab_session",
    "monitor_watermark",
    "parse_time",
    "read_source",
    "register_table",
    "setup_lab",
    "verify_lab",
]
