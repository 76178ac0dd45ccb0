"""streamlab: learn, practise and test Spark Structured Streaming event time.

The public API: a Spark session for a lab, the lab's paths, setting it up and verifying it,
the generators, and the setup guide's Step 5 helpers.

>>> import streamlab
>>> spark = streamlab.lab_session()  # doctest: +SKIP
>>> streamlab.setup_lab(streamlab.LabPaths.resolve(), streamlab.GeneratorConfig())  # doctest: +SKIP
"""

from __future__ import annotations

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
