"""streamlab: learn, practise and test Spark Structured Streaming event time.

The public API: a Spark session for a lab, the lab's paths, setting it up and verifying it,
the generators, and the setup guide's Step 5 helpers.

>>> import streamlab
>>> spark = streamlab.lab_session()  # doctest: +SKIP
>>> streamlab.setup_lab(streamlab.LabPaths.resolve(), streamlab.GeneratorConfig())  # doctest: +SKIP
"""

from __future__ import annotations

from streamlab.catalog import DATABASES, attach_catalog, create_databases, register_table
from streamlab.errors import StreamlabError
from streamlab.generator import GeneratorConfig, generate
from streamlab.helpers import (
    create_watermarked_stream,
    create_windowed_aggregation,
    monitor_watermark,
)
from streamlab.java import find_java
from streamlab.paths import LabPaths
from streamlab.provision import setup_lab
from streamlab.session import lab_session
from streamlab.sources import parse_time, read_source
from streamlab.verify import verify_lab

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
