"""From landed lines to typed records: the sources' schemas, the quarantine, the readers.

:mod:`.rules` holds the schemas and the quarantine rules in plain Python (the model uses them);
:mod:`.schemas`, :mod:`.quarantine` and :mod:`.sources` are the same rules for Spark;
:mod:`.helpers` are the guide's Step 5 helpers.
"""
